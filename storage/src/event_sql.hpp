#pragma once
// SQL fragments shared by the event reader and the cost report (storage-internal). Text comes only from the fixed
// fragments below; every value goes through param(), so nothing a client sends is ever part of the SQL text.

#include "cg/storage/event_query.hpp"

#include <span>
#include <string_view>

namespace cg::storage::detail {

/// Appends SQL text and `?` placeholders with their values, keeping both in the same order.
class sql_builder {
 public:
  sql_builder& text(std::string_view sql) {
    out_.text += sql;
    return *this;
  }
  sql_builder& param(bound_sql::value v) {
    out_.text += '?';
    out_.params.push_back(std::move(v));
    return *this;
  }
  bound_sql finish() && { return std::move(out_); }

 private:
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

}  // namespace cg::storage::detail
