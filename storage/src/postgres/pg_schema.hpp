#pragma once
// The PostgreSQL schema (storage-internal): versioned migrations recorded in `cg_schema_version`, and the monthly
// partitions of usage_events.

#include "pg_session.hpp"

#include <cstdint>
#include <set>
#include <string>

namespace cg::storage::pg {

/// The schema version this build writes on PostgreSQL (numbered on its own, apart from SQLite's user_version).
int latest_schema_version() noexcept;
/// The version recorded in the database (0 for a database Cost Guardian has not touched).
int schema_version(session& s);
/// Brings the database to latest_schema_version() in one transaction under an advisory lock, so gateways that start
/// together migrate once: the others wait for the lock, then find the work done. Refuses (storage_error) a database
/// written by a newer version.
void migrate(session& s);
/// Throws storage_error unless the database is exactly at latest_schema_version(). For read-only connections.
void require_current_schema(session& s);

/// A calendar month, UTC: the unit of usage_events' partitions. `index` counts months from year 0.
struct month {
  int index = 0;
  int year() const noexcept { return index / 12; }
  int number() const noexcept { return index % 12 + 1; }  ///< 1-12
  auto operator<=>(const month&) const = default;
};

/// The month an instant (unix µs) falls in, UTC. Throws storage_error outside years 0000-9999, which no event has.
month month_of(std::int64_t unix_us);
/// Its first instant (unix µs UTC).
std::int64_t month_start(month m);
/// `2024-01`.
std::string month_label(month m);
/// `usage_events_2024_01`.
std::string partition_name(month m);

/// The months that have a partition now.
std::set<month> existing_partitions(session& s);
/// Creates the partition of `m` if no gateway has yet: its own short transaction under an advisory lock. Must not
/// run inside another transaction. The table is made on its own and then attached, which locks usage_events only
/// against other schema changes (SHARE UPDATE EXCLUSIVE): `CREATE TABLE … PARTITION OF` would take an ACCESS
/// EXCLUSIVE lock that queues behind a long report and stalls every insert queued behind it.
void create_partition(session& s, month m);
/// Detaches the partition of `m` without blocking inserts or reads of other months (DETACH … CONCURRENTLY, outside
/// any transaction), then drops it. Returns how many events it held.
std::int64_t drop_partition(session& s, month m);

}  // namespace cg::storage::pg
