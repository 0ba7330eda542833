#include "pg_token_store.hpp"

#include "../token_sql.hpp"

namespace cg::storage::pg {

namespace {

// The columns of detail::token_columns.
tracking_token_row read_token(const query_result& r, int row) {
  return tracking_token_row{
      .id = r.int64(row, 0),
      .label = std::string(r.text(row, 1)),
      .token = std::string(r.text(row, 2)),
      .active = r.boolean(row, 3),
      .created_at_us = r.int64(row, 4),
      .last_seen_at_us = r.optional_int64(row, 5),
      .usage_count = r.int64(row, 6),
      .deleted_at_us = r.optional_int64(row, 7),
  };
}

}  // namespace

tracking_token_row token_store::create(const std::string& label, const std::string& token, std::int64_t now_us) {
  const bound_sql sql = detail::create_token_sql(detail::sql_dialect::postgresql, label, token, now_us);
  transaction tx(session_);
  const query_result r = session_.exec(sql.text, params_of(sql), "creating a token");
  tracking_token_row created = read_token(r, 0);
  tx.commit();
  return created;
}

bool token_store::set_active(std::int64_t id, bool active) {
  return change_one(detail::set_token_active_sql(detail::sql_dialect::postgresql, id, active), "changing a token");
}

bool token_store::remove(std::int64_t id, std::int64_t now_us) {
  return change_one(detail::remove_token_sql(detail::sql_dialect::postgresql, id, now_us), "deleting a token");
}

bool token_store::change_one(const bound_sql& sql, std::string_view what) {
  transaction tx(session_);
  const query_result r = session_.exec(sql.text, params_of(sql), what);
  tx.commit();
  return r.affected() > 0;
}

std::vector<tracking_token_row> token_store::list() { return select(detail::list_tokens_sql()); }

std::vector<tracking_token_row> token_store::list_all() { return select(detail::list_all_tokens_sql()); }

std::vector<tracking_token_row> token_store::select(const std::string& sql) {
  const query_result r = session_.exec(sql, "listing tokens");
  std::vector<tracking_token_row> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
  return out;
}

}  // namespace cg::storage::pg
