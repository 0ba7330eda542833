#pragma once
/// From a validated event to the row the writer stores: token resolved, timestamp settled, cost decided.

#include "cg/ingest/usage_event.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/storage/event_store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cg::ingest {

/// A server-side cost: `server` with the price used, or `unpriced` (cost 0) when the table knows no price.
struct server_cost {
  std::int64_t cost_nusd = 0;
  std::string cost_source;
  std::string price_ref;
};

/// Prices normalised token counts for (provider, model) at `ts_us` with `prices`.
server_cost price_event(const pricing::price_table& prices, std::string_view provider, std::string_view model,
                        std::int64_t ts_us, const pricing::token_counts& usage);

/// Builds the row for `event` (moved from). Cost provenance: a positive client `cost_usd` is kept (`client`);
/// otherwise `prices` prices it at the event's own timestamp (`server`, with `price_ref`); a model the table does
/// not know is stored with cost 0 (`unpriced`). `received_at_us` is also the timestamp of an event that gave none.
/// `token_id` is empty only for a legacy POST /log event sent without a tracking token.
storage::event_row make_event_row(usage_event&& event, std::optional<std::int64_t> token_id, std::int64_t received_at_us,
                                  const pricing::price_table& prices, std::string source);

}  // namespace cg::ingest
