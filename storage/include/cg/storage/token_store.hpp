#pragma once
/// Tracking tokens: non-secret identifiers that attribute usage to an application or environment.

#include "cg/storage/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cg::storage {

struct tracking_token_row {
  std::int64_t id = 0;
  std::string label;
  std::string token;
  bool active = true;
  std::int64_t created_at_us = 0;
  std::optional<std::int64_t> last_seen_at_us;
  std::int64_t usage_count = 0;
  std::optional<std::int64_t> deleted_at_us;  ///< set only by reads that include deleted tokens
};

/// CRUD for tracking tokens. A deleted token is hidden and can no longer ingest, but its row stays so that its
/// events keep their label; a new token may reuse a deleted token's label.
/// Thread-safety: none, like its connection.
class token_store {
 public:
  explicit token_store(database& db);

  /// Throws storage_error with is_unique_violation() when an undeleted token has this label (or, should the random
  /// generator ever repeat itself, when any token has this token string).
  tracking_token_row create(const std::string& label, const std::string& token, std::int64_t now_us);
  /// Undeleted tokens, oldest first.
  std::vector<tracking_token_row> list();
  /// Every token, deleted ones too (with deleted_at_us), by id.
  std::vector<tracking_token_row> list_all();
  std::optional<tracking_token_row> find(std::int64_t id);
  /// The undeleted token with this token string, if any.
  std::optional<tracking_token_row> find_by_token(const std::string& token);
  /// false when no undeleted token has this id.
  bool set_active(std::int64_t id, bool active);
  /// false when no undeleted token has this id.
  bool remove(std::int64_t id, std::int64_t now_us);

 private:
  database& db_;
};

}  // namespace cg::storage
