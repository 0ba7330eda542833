#include "pg_token_store.hpp"

#include <fmt/format.h>

namespace cg::storage::pg {

namespace {

constexpr std::string_view token_columns = "id, label, token, active, created_at, last_seen_at, usage_count, deleted_at";

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
  transaction tx(session_);
  const query_result r = session_.exec(
      fmt::format("INSERT INTO tracking_tokens (label, token, active, created_at) VALUES ($1::text, $2::text, "
                  "true, $3::bigint) RETURNING {}",
                  token_columns),
      query_params().add(label).add(token).add(now_us), "creating a token");
  tracking_token_row created = read_token(r, 0);
  tx.commit();
  return created;
}

bool token_store::set_active(std::int64_t id, bool active) {
  transaction tx(session_);
  const query_result r =
      session_.exec("UPDATE tracking_tokens SET active = $1::boolean WHERE id = $2::bigint AND deleted_at IS NULL",
                    query_params().add(active).add(id), "changing a token");
  tx.commit();
  return r.affected() > 0;
}

bool token_store::remove(std::int64_t id, std::int64_t now_us) {
  transaction tx(session_);
  const query_result r = session_.exec(
      "UPDATE tracking_tokens SET deleted_at = $1::bigint, active = false WHERE id = $2::bigint AND deleted_at IS NULL",
      query_params().add(now_us).add(id), "deleting a token");
  tx.commit();
  return r.affected() > 0;
}

std::vector<tracking_token_row> token_store::list() {
  return select("WHERE deleted_at IS NULL ORDER BY created_at, id", "listing tokens");
}

std::vector<tracking_token_row> token_store::list_all() { return select("ORDER BY id", "listing tokens"); }

std::vector<tracking_token_row> token_store::select(std::string_view where_and_order, std::string_view what) {
  const query_result r =
      session_.exec(fmt::format("SELECT {} FROM tracking_tokens {}", token_columns, where_and_order), what);
  std::vector<tracking_token_row> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
  return out;
}

}  // namespace cg::storage::pg
