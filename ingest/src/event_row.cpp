#include "cg/ingest/event_row.hpp"

#include <utility>

namespace cg::ingest {

server_cost price_event(const pricing::price_table& prices, std::string_view provider, std::string_view model,
                        std::int64_t ts_us, const pricing::token_usage& usage) {
  if (auto quote = prices.quote(provider, model, ts_us, usage))
    return {quote->cost, "server", std::move(quote->price_ref)};
  return {0, "unpriced", {}};
}

storage::event_row make_event_row(usage_event&& event, std::optional<std::int64_t> token_id, std::int64_t received_at_us,
                                  const pricing::price_table& prices, std::string source) {
  storage::event_row row;
  row.ts_us = event.timestamp_us.value_or(received_at_us);
  row.received_at_us = received_at_us;
  row.token_id = token_id;
  row.event_id = std::move(event.event_id);
  row.provider = std::move(event.provider);
  row.model = std::move(event.model);
  row.input_tokens = event.input_tokens;
  row.output_tokens = event.output_tokens;
  row.total_tokens = event.total_tokens;
  row.cache_read_tokens = event.cache_read_tokens;
  row.cache_write_tokens = event.cache_write_tokens;
  row.reasoning_tokens = event.reasoning_tokens;
  row.source = std::move(source);
  row.user = std::move(event.user);
  row.session_id = std::move(event.session_id);
  row.session_type = std::move(event.session_type);
  row.project = std::move(event.project);
  row.feature = std::move(event.feature);
  row.environment = std::move(event.environment);
  row.meta = std::move(event.meta);

  if (event.client_cost_nusd) {
    row.cost_nusd = *event.client_cost_nusd;
    row.cost_source = "client";
    return row;
  }
  const pricing::token_usage usage{row.input_tokens, row.output_tokens, row.cache_read_tokens,
                                   row.cache_write_tokens, row.reasoning_tokens};
  auto priced = price_event(prices, row.provider, row.model, row.ts_us, usage);
  row.cost_nusd = priced.cost_nusd;
  row.cost_source = std::move(priced.cost_source);
  row.price_ref = std::move(priced.price_ref);
  return row;
}

}  // namespace cg::ingest
