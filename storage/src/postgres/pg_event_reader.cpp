#include "pg_event_reader.hpp"

#include "../event_sql.hpp"
#include "../token_sql.hpp"

namespace cg::storage::pg {

std::size_t event_reader::for_each(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                                   const std::optional<event_position>& after, std::size_t limit,
                                   const std::function<void(const stored_event&)>& visit) {
  const bound_sql query = detail::page_sql(detail::sql_dialect::postgresql, filter, rules, order, after, limit);
  const query_result r = session_.exec(query.text, params_of(query), "reading events");
  stored_event row;
  for (int i = 0; i < r.rows(); ++i) {
    detail::decode_event(result_row(r, i), row);
    visit(row);
  }
  return static_cast<std::size_t>(r.rows());
}

std::vector<std::string> event_reader::models() {
  const query_result r = session_.exec(distinct_models_sql(), "listing models");
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
  return out;
}

std::int64_t event_reader::max_id() {
  return session_.exec("SELECT coalesce(max(id), 0) FROM usage_events", "reading the largest event id").int64(0, 0);
}

database_figures event_reader::figures() {
  database_figures f;
  f.usage_rows = session_.exec("SELECT count(*) FROM usage_events", "counting events").int64(0, 0);
  const bound_sql active = detail::count_active_tokens_sql(detail::sql_dialect::postgresql);
  f.active_tokens = session_.exec(active.text, "counting tokens").int64(0, 0);
  const query_result last =
      session_.exec("SELECT received_at FROM usage_events ORDER BY id DESC LIMIT 1", "reading the newest event");
  if (last.rows() > 0) f.last_received_at_us = last.int64(0, 0);
  return f;
}

void event_reader::check_read() { session_.exec("SELECT version FROM cg_schema_version", "checking a read"); }

std::vector<priced_event> event_reader::reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                                     std::size_t limit) {
  const bound_sql query = detail::reprice_page_sql(detail::sql_dialect::postgresql, filter, after_id, limit);
  const query_result r = session_.exec(query.text, params_of(query), "reading events to reprice");
  std::vector<priced_event> page;
  page.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    priced_event e;
    detail::decode_event(result_row(r, i), e, true);
    page.push_back(std::move(e));
  }
  return page;
}

}  // namespace cg::storage::pg
