#pragma once
// The SQLite backend of storage::connection (storage-internal): the embedded default.

#include "cg/storage/connection.hpp"

#include <memory>

namespace cg::storage {

/// Creates the file if needed (its directory must exist), switches it to WAL and migrates it.
std::unique_ptr<connection> open_sqlite_writer(const database_location& where, const migration_observer& observer);
/// A read-only connection to a database open_sqlite_writer() already migrated.
std::unique_ptr<connection> open_sqlite_reader(const database_location& where);

}  // namespace cg::storage
