#include "cg/storage/event_query.hpp"

#include "event_sql.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>

namespace cg::storage {

namespace detail {

void append_project(sql_builder& sql, std::span<const project_rule> rules) {
  if (rules.empty()) {
    sql.text("e.project");
    return;
  }
  sql.text("coalesce(e.project, CASE");
  for (const auto& rule : rules) sql.text(" WHEN t.label GLOB ").param(rule.glob).text(" THEN ").param(rule.project);
  for (const auto& rule : rules)
    sql.text(" WHEN e.session_id GLOB ").param(rule.glob).text(" THEN ").param(rule.project);
  sql.text(" END)");
}

bool append_where(sql_builder& sql, const event_filter& filter, std::span<const project_rule> rules) {
  bool open = false;
  const auto next = [&sql, &open] {
    sql.text(open ? " AND " : " WHERE ");
    open = true;
  };
  const auto equals = [&](std::string_view column, const std::optional<std::string>& value) {
    if (!value) return;
    next();
    sql.text(column).text(" = ").param(*value);
  };
  if (filter.start_us) {
    next();
    sql.text("e.ts >= ").param(*filter.start_us);
  }
  if (filter.end_us) {
    next();
    sql.text("e.ts < ").param(*filter.end_us);
  }
  if (filter.token_id) {
    next();
    sql.text("e.token_id = ").param(*filter.token_id);
  }
  equals("e.model", filter.model);
  equals("e.provider", filter.provider);
  equals("e.user", filter.user);
  equals("e.feature", filter.feature);
  equals("e.environment", filter.environment);
  equals("e.session_type", filter.session_type);
  equals("e.session_id", filter.session_id);
  if (filter.project) {
    next();
    append_project(sql, rules);
    sql.text(" = ").param(*filter.project);
  }
  if (filter.max_id) {
    next();
    sql.text("e.id <= ").param(*filter.max_id);
  }
  return open;
}

}  // namespace detail

namespace {

void assign_text(std::string& out, sqlite3_stmt* row, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row, column));
  out.assign(text == nullptr ? "" : text, static_cast<std::size_t>(sqlite3_column_bytes(row, column)));
}

void assign_text(std::optional<std::string>& out, sqlite3_stmt* row, int column) {
  if (sqlite3_column_type(row, column) == SQLITE_NULL) {
    out.reset();
    return;
  }
  if (!out) out.emplace();
  assign_text(*out, row, column);
}

void assign_int(std::optional<std::int64_t>& out, sqlite3_stmt* row, int column) {
  if (sqlite3_column_type(row, column) == SQLITE_NULL)
    out.reset();
  else
    out = sqlite3_column_int64(row, column);
}

// Assigns into `e` rather than building a new object, so that a scan reuses the strings' memory row after row.
void read_event(sqlite3_stmt* row, stored_event& e) {
  e.id = sqlite3_column_int64(row, 0);
  e.ts_us = sqlite3_column_int64(row, 1);
  e.received_at_us = sqlite3_column_int64(row, 2);
  assign_int(e.token_id, row, 3);
  assign_text(e.token_label, row, 4);
  assign_text(e.event_id, row, 5);
  assign_text(e.provider, row, 6);
  assign_text(e.model, row, 7);
  e.input_tokens = sqlite3_column_int64(row, 8);
  e.output_tokens = sqlite3_column_int64(row, 9);
  e.total_tokens = sqlite3_column_int64(row, 10);
  e.cache_read_tokens = sqlite3_column_int64(row, 11);
  e.cache_write_tokens = sqlite3_column_int64(row, 12);
  e.reasoning_tokens = sqlite3_column_int64(row, 13);
  e.cost_nusd = sqlite3_column_int64(row, 14);
  assign_text(e.cost_source, row, 15);
  assign_text(e.price_ref, row, 16);
  assign_text(e.source, row, 17);
  assign_text(e.user, row, 18);
  assign_text(e.session_id, row, 19);
  assign_text(e.session_type, row, 20);
  assign_text(e.project, row, 21);
  assign_text(e.feature, row, 22);
  assign_text(e.environment, row, 23);
  assign_text(e.meta, row, 24);
}

}  // namespace

void bound_sql::bind_to(statement& stmt) const {
  int index = 1;
  for (const auto& v : params) {
    if (const auto* number = std::get_if<std::int64_t>(&v))
      stmt.bind(index, *number);
    else
      stmt.bind(index, std::get<std::string>(v));
    ++index;
  }
}

bound_sql page_sql(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                   const std::optional<event_position>& after, std::size_t limit) {
  detail::sql_builder sql;
  sql.text(
      "SELECT e.id, e.ts, e.received_at, e.token_id, t.label, e.event_id, e.provider, e.model, e.input_tokens, "
      "e.output_tokens, e.total_tokens, e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens, e.cost_nusd, "
      "e.cost_source, e.price_ref, e.source, e.user, e.session_id, e.session_type, ");
  detail::append_project(sql, rules);
  sql.text(", e.feature, e.environment, e.meta");
  sql.text(detail::events_from).text(detail::token_join);
  const bool newest = order == event_order::newest_first;
  // Past a position, the position is the bound on that side of the time range. Given both it and the filter's
  // bound, SQLite seeks the index with one of the two, and when it picked the filter's, every page scanned again
  // from the edge of the range to the position: a 2-million-row export crawled at 15,000 rows/s.
  event_filter bounded = filter;
  if (after && newest) bounded.end_us = std::min(filter.end_us.value_or(INT64_MAX), after->ts_us + 1);
  if (after && !newest) bounded.start_us = std::max(filter.start_us.value_or(INT64_MIN), after->ts_us);
  const bool has_where = detail::append_where(sql, bounded, rules);
  if (after) {
    // (ts, id) past the position: the range on ts above plus a tie-break, rather than a row value, so the ts index
    // (or the model/token/session/user index, whose entries end in ts and the rowid) serves it as a plain range.
    sql.text(has_where ? " AND (" : " WHERE (");
    sql.text(newest ? "e.ts < " : "e.ts > ").param(after->ts_us);
    sql.text(newest ? " OR e.id < " : " OR e.id > ").param(after->id).text(")");
  }
  sql.text(newest ? " ORDER BY e.ts DESC, e.id DESC" : " ORDER BY e.ts, e.id");
  sql.text(" LIMIT ").param(static_cast<std::int64_t>(limit));
  return std::move(sql).finish();
}

std::string_view distinct_models_sql() {
  // Each step asks the (model, ts) index for the next model after the previous one: a handful of seeks for the
  // handful of models, where SELECT DISTINCT would read every index entry.
  return "WITH RECURSIVE m(model) AS ("
         " SELECT min(model) FROM usage_events"
         " UNION ALL"
         " SELECT (SELECT min(model) FROM usage_events WHERE model > m.model) FROM m WHERE m.model IS NOT NULL"
         ") SELECT model FROM m WHERE model IS NOT NULL";
}

event_reader::event_reader(database& db, std::span<const project_rule> rules) : db_(db), rules_(rules) {}

std::vector<stored_event> event_reader::page(const event_filter& filter, event_order order,
                                             const std::optional<event_position>& after, std::size_t limit) {
  std::vector<stored_event> rows;
  rows.reserve(std::min<std::size_t>(limit, 4096));
  for_each(filter, order, after, limit, [&rows](const stored_event& e) { rows.push_back(e); });
  return rows;
}

std::size_t event_reader::for_each(const event_filter& filter, event_order order,
                                   const std::optional<event_position>& after, std::size_t limit,
                                   const std::function<void(const stored_event&)>& visit) {
  const bound_sql query = page_sql(filter, rules_, order, after, limit);
  statement stmt(db_, query.text);
  query.bind_to(stmt);
  stored_event row;
  std::size_t count = 0;
  while (stmt.step()) {
    read_event(stmt.handle(), row);
    visit(row);
    ++count;
  }
  return count;
}

std::vector<std::string> event_reader::models() {
  statement stmt(db_, distinct_models_sql());
  std::vector<std::string> out;
  while (stmt.step()) out.push_back(stmt.column_text(0));
  return out;
}

std::int64_t event_reader::max_id() {
  statement stmt(db_, "SELECT coalesce(max(id), 0) FROM usage_events");
  stmt.step();
  return stmt.column_int64(0);
}

std::int64_t reset_usage(database& db) {
  transaction tx(db);
  statement remove(db, "DELETE FROM usage_events");
  remove.step();
  const std::int64_t deleted = db.changes();
  statement tokens(db, "UPDATE tracking_tokens SET usage_count = 0, last_seen_at = NULL");
  tokens.step();
  tx.commit();
  return deleted;
}

}  // namespace cg::storage
