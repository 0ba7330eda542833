#pragma once
// The PostgreSQL schema (storage-internal): versioned migrations recorded in `cg_schema_version`. The monthly
// partitions of usage_events are in pg_partitions.hpp.

#include "pg_session.hpp"

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

}  // namespace cg::storage::pg
