#pragma once
// SQL fragments shared by the event reader, the cost report, reprice and retention of both backends
// (storage-internal; token_sql.hpp has the tokens'). Text comes only from the fixed fragments below; every value goes
// through param(), so nothing a client sends is ever part of the SQL text. Where SQLite and PostgreSQL spell a thing
// differently (placeholders, GLOB, booleans), the builder's dialect picks the spelling; everything else is the same
// text for both.

#include "cg/storage/cost_store.hpp"
#include "cg/storage/event_columns.hpp"
#include "cg/storage/event_query.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace cg::storage::detail {

enum class sql_dialect { sqlite, postgresql };

/// Appends SQL text and placeholders with their values, keeping both in the same order. SQLite gets `?`;
/// PostgreSQL gets `$n` with an explicit `::bigint` or `::text` cast, so that no parameter's type is left for the
/// server to guess from its context (a CASE branch, a coalesce argument).
class sql_builder {
 public:
  explicit sql_builder(sql_dialect dialect = sql_dialect::sqlite) : dialect_(dialect) {}

  sql_dialect dialect() const noexcept { return dialect_; }
  sql_builder& text(std::string_view sql) {
    out_.text += sql;
    return *this;
  }
  sql_builder& param(bound_sql::value v) {
    if (dialect_ == sql_dialect::sqlite) {
      out_.text += '?';
    } else {
      out_.text += '$';
      out_.text += std::to_string(out_.params.size() + 1);
      out_.text += std::holds_alternative<std::int64_t>(v) ? "::bigint" : "::text";
    }
    out_.params.push_back(std::move(v));
    return *this;
  }
  /// A boolean constant: SQLite stores 1/0 in an INTEGER column, PostgreSQL has a boolean type.
  sql_builder& boolean(bool value) {
    if (dialect_ == sql_dialect::sqlite)
      out_.text += value ? "1" : "0";
    else
      out_.text += value ? "true" : "false";
    return *this;
  }
  bound_sql finish() && { return std::move(out_); }

 private:
  sql_dialect dialect_;
  bound_sql out_;
};

/// `usage_events AS e` joined to its token (`t`) when the query needs the label.
constexpr std::string_view events_from = " FROM usage_events AS e";
constexpr std::string_view token_join = " LEFT JOIN tracking_tokens AS t ON t.id = e.token_id";

/// True when the project expression reads the token label, so the query must join the tokens table.
inline bool project_needs_token(std::span<const project_rule> rules) { return !rules.empty(); }

/// The project an event shows: its own, else the first rule whose glob matches the token label, else the first
/// whose glob matches its session_id (all label rules before any session_id rule).
void append_project(sql_builder& sql, std::span<const project_rule> rules);

/// ` WHERE ...` for every member of `filter` that is set (nothing when none is). Returns true when it wrote a
/// WHERE, so the caller knows whether its own conditions start with ` AND ` or ` WHERE `.
bool append_where(sql_builder& sql, const event_filter& filter, std::span<const project_rule> rules);

/// True when `filter` reads the project expression (so the query must join when there are rules).
inline bool filter_needs_project(const event_filter& filter) { return filter.project.has_value(); }

/// page_sql() in either dialect. The selected columns are the same in both, in stored_event's order.
bound_sql page_sql(sql_dialect dialect, const event_filter& filter, std::span<const project_rule> rules,
                   event_order order, const std::optional<event_position>& after, std::size_t limit);

/// `"a", "b", ...`: the quoted names of the columns every insert writes, in event_columns() order, after `"id"` when
/// `with_id` (a copy that keeps ids). Quoted, because `user` is a reserved word in PostgreSQL.
std::string inserted_column_names(bool with_id);

/// The select list of an event read, one expression per event_columns() entry in its order (the token label from
/// the joined `t`, the project through `rules`): what decode_event() reads back.
void append_event_select(sql_builder& sql, std::span<const project_rule> rules);

/// The select list of the reprice reader: `e."id"`, then every column read_by_reprice(), in list order.
void append_reprice_select(sql_builder& sql);

/// Fills `e` from one result row laid out as append_event_select() wrote it (or, with `reprice`, as
/// append_reprice_select() did). `row` answers `is_null(i)`, `int64(i)` and `text(i, std::string&)`. Assigns into
/// `e` rather than building a new object, so that a scan reuses the strings' memory row after row.
template <typename ResultRow>
void decode_event(const ResultRow& row, stored_event& e, bool reprice = false) {
  int index = 0;
  const auto read = [&](event_field field) {
    const int i = index++;
    std::visit(
        [&](auto* member) {
          using member_type = std::remove_pointer_t<decltype(member)>;
          if constexpr (std::is_same_v<member_type, std::int64_t>) {
            *member = row.int64(i);
          } else if constexpr (std::is_same_v<member_type, std::string>) {
            row.text(i, *member);
          } else if (row.is_null(i)) {
            member->reset();
          } else {
            if (!*member) member->emplace();
            if constexpr (std::is_same_v<member_type, std::optional<std::int64_t>>)
              **member = row.int64(i);
            else
              row.text(i, **member);
          }
        },
        field);
  };
  if (reprice) read(&e.id);
  for (const auto& column : event_columns())
    if (!reprice || column.read_by_reprice) read(field_of(column, e));
}

/// The page of connection::reprice_page in either dialect: events with id > `after_id` matching `filter`, in id
/// order, up to `limit`; the selected columns as append_reprice_select() lists them.
bound_sql reprice_page_sql(sql_dialect dialect, const reprice_filter& filter, std::int64_t after_id, std::size_t limit);

/// Retention's delete of the events before `cutoff_us` (the rows left in a month PostgreSQL does not drop whole).
bound_sql delete_events_before_sql(sql_dialect dialect, std::int64_t cutoff_us);

/// A PostgreSQL regular expression (`~`, under COLLATE "C") that matches exactly the texts SQLite's GLOB matches
/// with `glob`: case-sensitive; `*` any run of characters, `?` one character, `[...]` a set with ranges, `[^...]`
/// its complement, `]` first in a set is literal; a set left open matches nothing. Everything else is literal.
std::string glob_to_regex(std::string_view glob);

}  // namespace cg::storage::detail
