#include "cg/storage/token_store.hpp"

#include "token_sql.hpp"

namespace cg::storage {

namespace {

tracking_token_row read_token(const statement& row) {
  return tracking_token_row{
      .id = row.column_int64(0),
      .label = row.column_text(1),
      .token = row.column_text(2),
      .active = row.column_int64(3) != 0,
      .created_at_us = row.column_int64(4),
      .last_seen_at_us = row.column_optional_int64(5),
      .usage_count = row.column_int64(6),
      .deleted_at_us = row.column_optional_int64(7),
  };
}

// Runs a statement that changes at most one token, in autocommit; true when it did.
bool change_one(database& db, const bound_sql& sql) {
  statement update(db, sql.text);
  sql.bind_to(update);
  update.step();
  return db.changes() > 0;
}

}  // namespace

token_store::token_store(database& db) : db_(db) {}

tracking_token_row token_store::create(const std::string& label, const std::string& token, std::int64_t now_us) {
  const bound_sql sql = detail::create_token_sql(detail::sql_dialect::sqlite, label, token, now_us);
  statement insert(db_, sql.text);
  sql.bind_to(insert);
  insert.step();
  tracking_token_row created = read_token(insert);
  // In autocommit mode the commit happens when the statement completes: step to the end so its errors surface here.
  insert.step();
  return created;
}

std::vector<tracking_token_row> token_store::list() {
  statement query(db_, detail::list_tokens_sql());
  std::vector<tracking_token_row> tokens;
  while (query.step()) tokens.push_back(read_token(query));
  return tokens;
}

std::vector<tracking_token_row> token_store::list_all() {
  statement query(db_, detail::list_all_tokens_sql());
  std::vector<tracking_token_row> tokens;
  while (query.step()) tokens.push_back(read_token(query));
  return tokens;
}

std::optional<tracking_token_row> token_store::find(std::int64_t id) {
  statement query(db_, detail::select_tokens_sql("WHERE id = ?1 AND deleted_at IS NULL"));
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_token(query);
}

std::optional<tracking_token_row> token_store::find_by_token(const std::string& token) {
  statement query(db_, detail::select_tokens_sql("WHERE token = ?1 AND deleted_at IS NULL"));
  query.bind(1, token);
  if (!query.step()) return std::nullopt;
  return read_token(query);
}

bool token_store::set_active(std::int64_t id, bool active) {
  return change_one(db_, detail::set_token_active_sql(detail::sql_dialect::sqlite, id, active));
}

bool token_store::remove(std::int64_t id, std::int64_t now_us) {
  return change_one(db_, detail::remove_token_sql(detail::sql_dialect::sqlite, id, now_us));
}

}  // namespace cg::storage
