#pragma once
/// Usage events: one row each, unique per (token_id, event_id).

#include "cg/storage/database.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cg::storage {

/// One usage event as stored. Token counts follow the normalised model (input ⊇ cache read + cache write,
/// output ⊇ reasoning). Timestamps are unix microseconds UTC; money is integer nano-USD.
struct event_row {
  std::int64_t ts_us = 0;
  std::int64_t received_at_us = 0;
  /// The tracking token; null for an event of the legacy POST /log sent without one (as the old app stored them,
  /// and as imported v0.3 rows without a token are): never deduplicated, counted on no token.
  std::optional<std::int64_t> token_id;
  std::optional<std::string> event_id;  ///< null: the client gave none, so no dedupe
  std::string provider;
  std::string model;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cache_read_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t cost_nusd = 0;
  std::string cost_source;  ///< "client", "server" or "unpriced"
  std::string price_ref;    ///< which price was used (empty for client/unpriced)
  std::string source;       ///< "ingest", "log" (legacy), "batch", "otlp"
  std::optional<std::string> user;
  std::optional<std::string> session_id;
  std::optional<std::string> session_type;
  std::optional<std::string> project;
  std::optional<std::string> feature;
  std::optional<std::string> environment;
  std::optional<std::string> meta;  ///< compact JSON text
};

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
