#pragma once
// The PostgreSQL backend of storage::connection (storage-internal): open_writer() and open_reader() call these for a
// `postgresql://` location.

#include "cg/storage/connection.hpp"

#include <memory>

namespace cg::storage {

/// How commit_batch sends a batch's new events to the server: one `INSERT … SELECT FROM unnest(<one array per
/// column>)`, or `COPY usage_events FROM STDIN`. Both are kept so the benchmark can compare them; the default is the
/// one that measured faster (docs/benchmarks.md: COPY, by 10-25 % on 1,000-row batches).
enum class postgres_insert_method { unnest, copy };

struct postgres_options {
  postgres_insert_method insert_method = postgres_insert_method::copy;
};

/// Connects, migrates the schema (once, even when several gateways start together) and creates the monthly
/// partitions around now. Throws storage_error (kind::unavailable when the server cannot be reached).
std::unique_ptr<connection> open_postgres_writer(const database_location& where, const postgres_options& options = {});
/// Connects read-only (every transaction is READ ONLY) and checks that the schema is current.
std::unique_ptr<connection> open_postgres_reader(const database_location& where);

}  // namespace cg::storage
