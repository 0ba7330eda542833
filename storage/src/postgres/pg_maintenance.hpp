#pragma once
// The long, rare writes on PostgreSQL (storage-internal): `migrate-db`'s imports, retention and the usage reset.
// Those that may touch millions of rows (events, not tokens) lift the writer's statement timeout for their own
// transactions.

#include "cg/storage/connection.hpp"
#include "pg_partitions.hpp"
#include "pg_session.hpp"
#include "postgres_connection.hpp"

#include <cstdint>
#include <set>
#include <span>

namespace cg::storage::pg {

/// Imports, retention and reset. Each call runs on its session as it is: the connection around it reconnects,
/// retries, and makes the months' partitions an import needs before calling it.
/// Thread-safety: none, like its session.
class maintenance {
 public:
  maintenance(session& s, postgres_insert_method method) : session_(s), method_(method) {}

  /// Tokens with their own ids, skipping ids already present; moves the id sequence past them. Returns how many
  /// were new.
  std::int64_t import_tokens(std::span<const tracking_token_row> rows);
  /// Events with their own ids in one transaction, skipping ids and dedupe keys already present, their keys into
  /// event_keys; moves the id sequence past them. Returns how many were new.
  std::int64_t import_events(std::span<const stored_event> rows);
  /// Drops the months wholly before `cutoff_us` (and makes `months` forget them), deletes the rest before it, then
  /// the dropped events' dedupe keys.
  retention_result drop_events_before(std::int64_t cutoff_us, partition_cache& months);
  /// Deletes every event and dedupe key and zeroes the tokens' usage, in one transaction. Returns events deleted.
  std::int64_t reset_usage();

 private:
  /// The ids of `rows` not to insert: already stored (a re-run of the same copy), or whose dedupe key another event
  /// holds. Claims the keys of the others in event_keys.
  std::set<std::int64_t> claim_import_keys(std::span<const stored_event> rows);

  session& session_;
  postgres_insert_method method_;
};

}  // namespace cg::storage::pg
