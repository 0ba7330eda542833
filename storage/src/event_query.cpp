#include "cg/storage/event_query.hpp"

#include "event_sql.hpp"
#include "sqlite_events.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace cg::storage {

namespace detail {

void append_project(sql_builder& sql, std::span<const project_rule> rules) {
  if (rules.empty()) {
    sql.text("e.project");
    return;
  }
  const bool sqlite = sql.dialect() == sql_dialect::sqlite;
  const auto matches = [&](std::string_view column, const project_rule& rule) {
    sql.text(" WHEN ").text(column);
    if (sqlite)
      sql.text(" GLOB ").param(rule.glob);
    else
      sql.text(" ~ ").param(glob_to_regex(rule.glob));
    sql.text(" THEN ").param(rule.project);
  };
  sql.text("coalesce(e.project, CASE");
  for (const auto& rule : rules) matches("t.label", rule);
  for (const auto& rule : rules) matches("e.session_id", rule);
  sql.text(" END)");
}

namespace {

// One character of a glob, decoded from UTF-8 as SQLite's GLOB reads it (leniently: a stray byte is itself).
char32_t next_char(std::string_view text, std::size_t& at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char first = byte(at++);
  if (first < 0xC0) return first;
  const int extra = first >= 0xF0 ? 3 : first >= 0xE0 ? 2 : 1;
  char32_t c = first & (0x3F >> extra);
  for (int i = 0; i < extra && at < text.size() && (byte(at) & 0xC0) == 0x80; ++i) c = (c << 6) | (byte(at++) & 0x3F);
  return c;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_ascii_alnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A literal character in a regex. Outside a bracket, `\` before an ASCII punctuation character means that character;
// inside one, a `\u` escape is the one spelling that is literal everywhere, range endpoints included.
void append_literal(std::string& out, char32_t c, bool in_bracket) {
  if (c >= 0x80 || is_ascii_alnum(c)) {
    append_utf8(out, c);
  } else if (!in_bracket) {
    out += '\\';
    out += static_cast<char>(c);
  } else {
    constexpr std::string_view hex = "0123456789abcdef";
    out += "\\u00";
    out += hex[c >> 4];
    out += hex[c & 0xF];
  }
}

}  // namespace

std::string glob_to_regex(std::string_view glob) {
  // A regex that matches nothing (`^` is always an anchor in an ARE, so nothing can precede it): what SQLite's GLOB
  // answers for a set that is never closed.
  constexpr std::string_view never = "a^";
  std::string out = "^";
  std::size_t at = 0;
  while (at < glob.size()) {
    const char32_t c = next_char(glob, at);
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if (c != '[') {
      append_literal(out, c, false);
    } else {
      // Mirrors SQLite's patternCompare: `^` first inverts, `]` first is literal, `a-z` is a range unless the `-`
      // comes first, follows a range, or precedes the closing `]`; a range whose ends are reversed matches nothing.
      bool invert = false;
      std::vector<std::pair<char32_t, char32_t>> ranges;
      std::size_t p = at;
      if (p < glob.size() && glob[p] == '^') {
        invert = true;
        ++p;
      }
      if (p < glob.size() && glob[p] == ']') {
        ranges.emplace_back(U']', U']');
        ++p;
      }
      std::optional<char32_t> prior;
      bool closed = false;
      while (p < glob.size()) {
        const char32_t m = next_char(glob, p);
        if (m == ']') {
          closed = true;
          break;
        }
        if (m == '-' && prior && p < glob.size() && glob[p] != ']') {
          const char32_t high = next_char(glob, p);
          ranges.back().second = high;  // the prior character was pushed as a range of one
          prior.reset();
          continue;
        }
        ranges.emplace_back(m, m);
        prior = m;
      }
      if (!closed) return std::string(never);
      // SQLite compares each set character for equality before it knows a `-` follows, so a reversed range still
      // matches its first character.
      for (auto& r : ranges)
        if (r.first > r.second) r.second = r.first;
      at = p;
      if (ranges.empty()) {  // `[]` and `[^]` only ever end at a later `]`, so a closed set holds a character
        return std::string(never);
      }
      out += invert ? "[^" : "[";
      for (const auto& [low, high] : ranges) {
        append_literal(out, low, true);
        if (high != low) {
          out += '-';
          append_literal(out, high, true);
        }
      }
      out += ']';
    }
  }
  out += '$';
  return out;
}

namespace {

void append_quoted(std::string& out, std::string_view name) {
  out += '"';
  out += name;
  out += '"';
}

}  // namespace

std::string inserted_column_names(bool with_id) {
  std::string out;
  if (with_id) append_quoted(out, "id");
  for (const auto& column : event_columns()) {
    if (!column.inserted()) continue;
    if (!out.empty()) out += ", ";
    append_quoted(out, column.name);
  }
  return out;
}

void append_event_select(sql_builder& sql, std::span<const project_rule> rules) {
  std::string name;
  bool first = true;
  for (const auto& column : event_columns()) {
    if (!first) sql.text(", ");
    first = false;
    if (column.origin == column_origin::token_label) {
      sql.text("t.label");
    } else if (column.project_patterns) {
      append_project(sql, rules);
    } else {
      name = "e.";
      append_quoted(name, column.name);
      sql.text(name);
    }
  }
}

void append_reprice_select(sql_builder& sql) {
  std::string list = R"(e."id")";
  for (const auto& column : event_columns()) {
    if (!column.read_by_reprice) continue;
    list += ", e.";
    append_quoted(list, column.name);
  }
  sql.text(list);
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
  equals("e.\"user\"", filter.user);
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

namespace {

void append_limit(detail::sql_builder& sql, std::size_t limit) {
  // SIZE_MAX ("no limit") would wrap to -1: SQLite reads that as no limit, PostgreSQL refuses it.
  sql.text(" LIMIT ").param(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
}

}  // namespace

bound_sql page_sql(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                   const std::optional<event_position>& after, std::size_t limit) {
  return detail::page_sql(detail::sql_dialect::sqlite, filter, rules, order, after, limit);
}

bound_sql detail::page_sql(sql_dialect dialect, const event_filter& filter, std::span<const project_rule> rules,
                           event_order order, const std::optional<event_position>& after, std::size_t limit) {
  detail::sql_builder sql(dialect);
  sql.text("SELECT ");
  detail::append_event_select(sql, rules);
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
  append_limit(sql, limit);
  return std::move(sql).finish();
}

bound_sql detail::reprice_page_sql(sql_dialect dialect, const reprice_filter& filter, std::int64_t after_id,
                                   std::size_t limit) {
  detail::sql_builder sql(dialect);
  sql.text("SELECT ");
  append_reprice_select(sql);
  sql.text(" FROM usage_events AS e WHERE id > ");
  sql.param(after_id).text(" AND ts >= ").param(filter.start_us).text(" AND ts < ").param(filter.end_us);
  if (filter.token_id) {
    // Spelled so that SQLite cannot serve it from the (token_id, ts) index: a page walks the rowid from `after_id`
    // and stops at `limit`, where through that index it would sort every event of the token on each page.
    // PostgreSQL plans with the value and folds the IS NULL away.
    sql.text(" AND (").param(*filter.token_id).text(" IS NULL OR token_id = ").param(*filter.token_id).text(")");
  }
  sql.text(" AND cost_source IN (").param(std::string(filter.first_source())).text(", ");
  sql.param(std::string(filter.second_source())).text(") ORDER BY id");
  append_limit(sql, limit);
  return std::move(sql).finish();
}

bound_sql detail::delete_events_before_sql(sql_dialect dialect, std::int64_t cutoff_us) {
  detail::sql_builder sql(dialect);
  sql.text("DELETE FROM usage_events WHERE ts < ").param(cutoff_us);
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
    detail::decode_event(detail::sqlite_result_row(stmt.handle()), row);
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
