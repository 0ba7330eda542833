#pragma once
/// From a validated event to the row the writer stores: token resolved, timestamp settled, cost decided.

#include "cg/ingest/usage_event.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/storage/event_store.hpp"

#include <cstdint>
#include <string>

namespace cg::ingest {

/// Builds the row for `event` (moved from). Cost provenance: a positive client `cost_usd` is kept (`client`);
/// otherwise `prices` prices it at the event's own timestamp (`server`, with `price_ref`); a model the table does
/// not know is stored with cost 0 (`unpriced`). `received_at_us` is also the timestamp of an event that gave none.
storage::event_row make_event_row(usage_event&& event, std::int64_t token_id, std::int64_t received_at_us,
                                  const pricing::price_table& prices, std::string source);

}  // namespace cg::ingest
