#pragma once
// The cost report (/costs) on PostgreSQL (storage-internal): sums in SQL, local days and grouping in C++ through the
// accumulator SQLite's report uses too.

#include "cg/storage/cost_report.hpp"
#include "pg_session.hpp"

#include <span>

namespace cg::storage::pg {

/// Sums per key columns and per quarter hour of UTC (per UTC day in UTC) in SQL, streamed in single-row mode, and
/// buckets those sums into local days; sums again per instant should a quarter hour straddle two local days (a zone
/// whose offset is not a whole number of quarter hours, such as local mean time before 1972). Runs on `s` as it is
/// (the connection around it reconnects and retries). Throws std::overflow_error when a sum leaves 64 bits.
cost_report run_cost_report(session& s, const cost_report_request& request, std::span<const project_rule> rules);

}  // namespace cg::storage::pg
