#include "cg/storage/token_store.hpp"

namespace cg::storage {

namespace {

constexpr std::string_view columns = "id, label, token, active, created_at, last_seen_at, usage_count";

tracking_token_row read_token(const statement& row) {
  return tracking_token_row{
      .id = row.column_int64(0),
      .label = row.column_text(1),
      .token = row.column_text(2),
      .active = row.column_int64(3) != 0,
      .created_at_us = row.column_int64(4),
      .last_seen_at_us = row.column_optional_int64(5),
      .usage_count = row.column_int64(6),
      .deleted_at_us = std::nullopt,
  };
}

std::string select_sql(std::string_view where) {
  std::string sql = "SELECT ";
  sql += columns;
  sql += " FROM tracking_tokens WHERE ";
  sql += where;
  return sql;
}

}  // namespace

token_store::token_store(database& db) : db_(db) {}

tracking_token_row token_store::create(const std::string& label, const std::string& token, std::int64_t now_us) {
  std::string sql = "INSERT INTO tracking_tokens (label, token, active, created_at) VALUES (?1, ?2, 1, ?3) RETURNING ";
  sql += columns;
  statement insert(db_, sql);
  insert.bind(1, label).bind(2, token).bind(3, now_us);
  insert.step();
  tracking_token_row created = read_token(insert);
  // In autocommit mode the commit happens when the statement completes: step to the end so its errors surface here.
  insert.step();
  return created;
}

std::vector<tracking_token_row> token_store::list() {
  statement query(db_, select_sql("deleted_at IS NULL ORDER BY created_at, id"));
  std::vector<tracking_token_row> tokens;
  while (query.step()) tokens.push_back(read_token(query));
  return tokens;
}

std::optional<tracking_token_row> token_store::find(std::int64_t id) {
  statement query(db_, select_sql("id = ?1 AND deleted_at IS NULL"));
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_token(query);
}

std::optional<tracking_token_row> token_store::find_by_token(const std::string& token) {
  statement query(db_, select_sql("token = ?1 AND deleted_at IS NULL"));
  query.bind(1, token);
  if (!query.step()) return std::nullopt;
  return read_token(query);
}

bool token_store::set_active(std::int64_t id, bool active) {
  statement update(db_, "UPDATE tracking_tokens SET active = ?1 WHERE id = ?2 AND deleted_at IS NULL");
  update.bind(1, std::int64_t{active ? 1 : 0}).bind(2, id);
  update.step();
  return db_.changes() > 0;
}

bool token_store::remove(std::int64_t id, std::int64_t now_us) {
  statement update(db_, "UPDATE tracking_tokens SET deleted_at = ?1, active = 0 WHERE id = ?2 AND deleted_at IS NULL");
  update.bind(1, now_us).bind(2, id);
  update.step();
  return db_.changes() > 0;
}

}  // namespace cg::storage
