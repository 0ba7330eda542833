#pragma once
/// Import of a Cost Guardian v0.3 (Flask) database into the version 1 tables. Internal to cg::storage.

#include "cg/storage/database.hpp"

namespace cg::storage {

/// Copies `ingest_tokens` and `usage_log`, when present, into `tracking_tokens` and `usage_events`; the old tables
/// are only read. Runs inside the caller's transaction. What is read and how it is converted: storage/README.md.
/// Throws storage_error (SQLITE_MISMATCH) naming the row for a value it cannot convert without guessing.
void import_v0_3(database& db);

}  // namespace cg::storage
