#include "cg/ingest/event_row.hpp"

#include <utility>

namespace cg::ingest {

server_cost price_event(const pricing::price_table& prices, std::string_view provider, std::string_view model,
                        std::int64_t ts_us, const pricing::token_counts& usage) {
  if (auto quote = prices.quote(provider, model, ts_us, usage))
    return {quote->cost, "server", std::move(quote->price_ref)};
  return {0, "unpriced", {}};
}

storage::event_row make_event_row(usage_event&& event, std::optional<std::int64_t> token_id, std::int64_t received_at_us,
                                  const pricing::price_table& prices, std::string source) {
  storage::event_row row;
  // Everything the client reported is stored as it is; the rest is decided here.
  static_cast<storage::reported_usage&>(row) = std::move(static_cast<storage::reported_usage&>(event));
  row.ts_us = event.timestamp_us.value_or(received_at_us);
  row.received_at_us = received_at_us;
  row.token_id = token_id;
  row.source = std::move(source);

  if (event.client_cost_nusd) {
    row.cost_nusd = *event.client_cost_nusd;
    row.cost_source = "client";
    return row;
  }
  auto priced = price_event(prices, row.provider, row.model, row.ts_us, row.tokens);
  row.cost_nusd = priced.cost_nusd;
  row.cost_source = std::move(priced.cost_source);
  row.price_ref = std::move(priced.price_ref);
  return row;
}

}  // namespace cg::ingest
