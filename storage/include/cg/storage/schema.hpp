#pragma once
/// Versioned migrations, recorded in `PRAGMA user_version`.

#include "cg/storage/database.hpp"
#include "cg/storage/v03_import.hpp"

#include <filesystem>

namespace cg::storage {

/// The schema version this build writes.
int latest_schema_version() noexcept;

/// The version recorded in the database (0 for an empty database).
int schema_version(database& db);

/// Brings the database to latest_schema_version(), each step in its own transaction. A Cost Guardian v0.3 database
/// (tables `usage_log`, `ingest_tokens`) is imported into the new tables on the way (step 4), and `observer` gets its
/// report; `backup` names the copy taken before, for that report. Throws storage_error with a clear message for a
/// database written by a newer version, or for a v0.3 table the import cannot read without guessing.
void migrate(database& db, const migration_observer& observer = {}, const std::filesystem::path& backup = {});

/// Throws storage_error unless the database is exactly at latest_schema_version(). For read-only connections, which
/// cannot migrate: open them after the writer's connection has run migrate().
void require_current_schema(database& db);

/// Opens (creating if needed) the read-write connection and migrates it: what the writer does at start-up. A v0.3
/// file is first copied beside itself (backup_database_file) unless `observer.backup` is false.
database open_database(const std::filesystem::path& path, durability d = durability::full,
                       const migration_observer& observer = {});

}  // namespace cg::storage
