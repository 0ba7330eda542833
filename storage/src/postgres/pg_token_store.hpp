#pragma once
// Tracking tokens on PostgreSQL (storage-internal): the counterpart of token_store.hpp behind storage::connection,
// running the statements of token_sql.hpp.

#include "cg/storage/token_store.hpp"
#include "pg_session.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace cg::storage::pg {

/// Creates, changes and lists tracking tokens. Each write is its own transaction; each call runs on its
/// session as it is (the connection around it reconnects and retries).
/// Thread-safety: none, like its session.
class token_store {
 public:
  explicit token_store(session& s) : session_(s) {}

  /// Throws storage_error with is_unique_violation() when an undeleted token has this label.
  tracking_token_row create(const std::string& label, const std::string& token, std::int64_t now_us);
  /// false when no undeleted token has this id.
  bool set_active(std::int64_t id, bool active);
  /// Soft delete; false when no undeleted token has this id.
  bool remove(std::int64_t id, std::int64_t now_us);
  /// Undeleted tokens, oldest first.
  std::vector<tracking_token_row> list();
  /// Every token, deleted ones included, by id.
  std::vector<tracking_token_row> list_all();

 private:
  /// Runs an UPDATE of at most one token in its own transaction; true when it changed one.
  bool change_one(const bound_sql& sql, std::string_view what);
  std::vector<tracking_token_row> select(const std::string& sql);

  session& session_;
};

}  // namespace cg::storage::pg
