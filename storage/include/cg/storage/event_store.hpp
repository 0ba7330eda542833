#pragma once
/// Usage events: one row each, unique per (token_id, event_id).

#include "cg/storage/database.hpp"
#include "cg/storage/event_row.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace cg::storage {

/// What happened to one row of a batch: a new row id, or the id of the row that already had its key.
struct insert_outcome {
  std::int64_t id = 0;
  bool duplicate = false;
};

/// Writes batches of events. Owned by the writer thread. Construct it after migrate(): it prepares its statements
/// once, against the schema.
/// Thread-safety: none; uses the writer's connection.
class event_store {
 public:
  explicit event_store(database& db);

  /// Inserts all rows in one `BEGIN IMMEDIATE … COMMIT`, detecting duplicates per row (also within the batch),
  /// and updates each token's `usage_count` and `last_seen_at` in the same transaction. Returns one outcome per
  /// row, in order. On any failure everything is rolled back and storage_error is thrown: nothing was stored.
  std::vector<insert_outcome> commit_batch(std::span<const event_row> rows);

  /// Number of stored events (for /metrics and tests). Counts the table: cache it rather than call it per request.
  std::int64_t count();

 private:
  database& db_;
  statement insert_;
  statement find_existing_;
  statement touch_token_;
};

}  // namespace cg::storage
