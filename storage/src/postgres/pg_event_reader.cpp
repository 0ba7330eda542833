#include "pg_event_reader.hpp"

#include "../event_sql.hpp"
#include "../token_sql.hpp"

namespace cg::storage::pg {

namespace {

void assign(std::string& out, const query_result& r, int row, int column) { out.assign(r.text(row, column)); }

void assign(std::optional<std::string>& out, const query_result& r, int row, int column) {
  if (r.is_null(row, column)) {
    out.reset();
    return;
  }
  if (!out) out.emplace();
  out->assign(r.text(row, column));
}

// Assigns into `e` rather than building a new object, so that a page reuses the strings' memory row after row.
void read_event(const query_result& r, int row, stored_event& e) {
  e.id = r.int64(row, 0);
  e.ts_us = r.int64(row, 1);
  e.received_at_us = r.int64(row, 2);
  e.token_id = r.optional_int64(row, 3);
  assign(e.token_label, r, row, 4);
  assign(e.event_id, r, row, 5);
  assign(e.provider, r, row, 6);
  assign(e.model, r, row, 7);
  e.input_tokens = r.int64(row, 8);
  e.output_tokens = r.int64(row, 9);
  e.total_tokens = r.int64(row, 10);
  e.cache_read_tokens = r.int64(row, 11);
  e.cache_write_tokens = r.int64(row, 12);
  e.reasoning_tokens = r.int64(row, 13);
  e.cost_nusd = r.int64(row, 14);
  assign(e.cost_source, r, row, 15);
  assign(e.price_ref, r, row, 16);
  assign(e.source, r, row, 17);
  assign(e.user, r, row, 18);
  assign(e.session_id, r, row, 19);
  assign(e.session_type, r, row, 20);
  assign(e.project, r, row, 21);
  assign(e.feature, r, row, 22);
  assign(e.environment, r, row, 23);
  assign(e.meta, r, row, 24);
}

}  // namespace

std::size_t event_reader::for_each(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                                   const std::optional<event_position>& after, std::size_t limit,
                                   const std::function<void(const stored_event&)>& visit) {
  const bound_sql query = detail::page_sql(detail::sql_dialect::postgresql, filter, rules, order, after, limit);
  const query_result r = session_.exec(query.text, params_of(query), "reading events");
  stored_event row;
  for (int i = 0; i < r.rows(); ++i) {
    read_event(r, i, row);
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
    e.id = r.int64(i, 0);
    e.ts_us = r.int64(i, 1);
    e.provider = r.text(i, 2);
    e.model = r.text(i, 3);
    e.input_tokens = r.int64(i, 4);
    e.output_tokens = r.int64(i, 5);
    e.cache_read_tokens = r.int64(i, 6);
    e.cache_write_tokens = r.int64(i, 7);
    e.reasoning_tokens = r.int64(i, 8);
    e.cost_nusd = r.int64(i, 9);
    e.cost_source = r.text(i, 10);
    e.price_ref = r.text(i, 11);
    page.push_back(std::move(e));
  }
  return page;
}

}  // namespace cg::storage::pg
