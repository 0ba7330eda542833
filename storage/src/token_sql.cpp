#include "token_sql.hpp"

#include <utility>

namespace cg::storage::detail {

std::string select_tokens_sql(std::string_view where_and_order) {
  std::string sql = "SELECT ";
  sql += token_columns;
  sql += " FROM tracking_tokens ";
  sql += where_and_order;
  return sql;
}

std::string list_tokens_sql() { return select_tokens_sql("WHERE deleted_at IS NULL ORDER BY created_at, id"); }

std::string list_all_tokens_sql() { return select_tokens_sql("ORDER BY id"); }

bound_sql create_token_sql(sql_dialect dialect, const std::string& label, const std::string& token,
                           std::int64_t now_us) {
  sql_builder sql(dialect);
  sql.text("INSERT INTO tracking_tokens (label, token, active, created_at) VALUES (").param(label).text(", ");
  sql.param(token).text(", ").boolean(true).text(", ").param(now_us).text(") RETURNING ").text(token_columns);
  return std::move(sql).finish();
}

bound_sql set_token_active_sql(sql_dialect dialect, std::int64_t id, bool active) {
  sql_builder sql(dialect);
  sql.text("UPDATE tracking_tokens SET active = ").boolean(active).text(" WHERE id = ").param(id);
  sql.text(" AND deleted_at IS NULL");
  return std::move(sql).finish();
}

bound_sql remove_token_sql(sql_dialect dialect, std::int64_t id, std::int64_t now_us) {
  sql_builder sql(dialect);
  sql.text("UPDATE tracking_tokens SET deleted_at = ").param(now_us).text(", active = ").boolean(false);
  sql.text(" WHERE id = ").param(id).text(" AND deleted_at IS NULL");
  return std::move(sql).finish();
}

bound_sql count_active_tokens_sql(sql_dialect dialect) {
  sql_builder sql(dialect);
  sql.text("SELECT count(*) FROM tracking_tokens WHERE active = ").boolean(true).text(" AND deleted_at IS NULL");
  return std::move(sql).finish();
}

}  // namespace cg::storage::detail
