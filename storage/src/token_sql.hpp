#pragma once
// The tracking-token statements both backends run (storage-internal), built by event_sql.hpp's sql_builder in
// either dialect. Each backend runs them in its own way (SQLite in autocommit, PostgreSQL in a transaction) and reads
// the rows itself; the text is written once, here.

#include "event_sql.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace cg::storage::detail {

/// The columns every token query selects, in tracking_token_row's order.
constexpr std::string_view token_columns =
    "id, label, token, active, created_at, last_seen_at, usage_count, deleted_at";

/// `SELECT <token_columns> FROM tracking_tokens <where_and_order>`; `where_and_order` is fixed text.
std::string select_tokens_sql(std::string_view where_and_order);
/// Undeleted tokens, oldest first.
std::string list_tokens_sql();
/// Every token, deleted ones too, by id.
std::string list_all_tokens_sql();
/// Inserts an active token and returns its row (token_columns).
bound_sql create_token_sql(sql_dialect dialect, const std::string& label, const std::string& token,
                           std::int64_t now_us);
/// Changes an undeleted token's active flag.
bound_sql set_token_active_sql(sql_dialect dialect, std::int64_t id, bool active);
/// Soft-deletes an undeleted token: deleted_at set, active off.
bound_sql remove_token_sql(sql_dialect dialect, std::int64_t id, std::int64_t now_us);
/// Counts the active, undeleted tokens (for /metrics).
bound_sql count_active_tokens_sql(sql_dialect dialect);

}  // namespace cg::storage::detail
