#pragma once
/// The upgrade from Cost Guardian v0.3 (the Flask app) and v0.2: its tables `usage_log` and `ingest_tokens` are
/// copied into `usage_events` and `tracking_tokens` by schema step 4, every count exactly and every REAL cost rounded
/// once to nano-USD, and checked row by row before the step commits. What is read and how: storage/README.md.

#include "cg/pricing/token_counts.hpp"
#include "cg/storage/database.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cg::storage {

/// Sums over usage rows: the old table's rows as converted, or the rows the new table holds for them.
struct v03_totals {
  std::int64_t tokens = 0;          ///< `ingest_tokens` rows, or the tracking tokens kept for them
  std::int64_t rows = 0;
  /// promptTokens, completionTokens and totalTokens summed as input, output and total (v0.3 knew no other class).
  pricing::token_counts counts;
  std::int64_t cost_nusd = 0;       ///< each row's estimatedCostUSD rounded half-even to nano-USD, then summed
  std::int64_t unpriced_rows = 0;   ///< rows without a cost (NULL estimatedCostUSD)
  std::map<std::string, std::int64_t> rows_by_source;  ///< new names: `ingest`, `log`

  bool operator==(const v03_totals&) const = default;
};

enum class v03_action {
  imported,  ///< a v0.3/v0.2 file seen for the first time: its rows copied
  repaired,  ///< a file an earlier release converted, which lost the counts and costs: restored from the old table
  verified,  ///< already upgraded: compared again, nothing written
};

std::string_view to_string(v03_action action) noexcept;

struct v03_report {
  v03_action action = v03_action::verified;
  std::string generation;           ///< `v0.3` (usage_log has ingest_token_id), else `v0.2`
  v03_totals before;                ///< read from the old tables, each value converted as the import does
  v03_totals after;                 ///< what the new tables hold for those rows
  double old_cost_real_sum = 0;     ///< SQLite's sum of the REAL costs; within 0.5 nano-USD a row of before.cost
  std::int64_t rows_changed = 0;    ///< repaired: rows whose values were restored
  std::int64_t rows_missing = 0;    ///< old rows no longer in usage_events (deleted since, e.g. DELETE /reset)
  std::int64_t rows_mismatched = 0; ///< rows whose stored values differ from the old row's
  std::int64_t rows_repriced = 0;   ///< rows whose imported cost `reprice --source v0.3-import` has replaced since
  std::int64_t placeholder_tokens = 0;  ///< deleted tokens made for rows whose v0.3 token was deleted
  std::int64_t repeated_event_ids = 0;  ///< rows that repeat an earlier (token, event_id), kept without the key
  std::vector<std::string> unknown_columns;  ///< `table.column`: read by nobody, left in place
  std::vector<std::string> notes;
  std::filesystem::path backup;     ///< the copy of the file taken before the upgrade changed it (empty: none)

  /// Every old row is in the new table with the same counts, source and (unless repriced since) cost.
  bool consistent() const noexcept;
};

/// What an upgrade tells its caller: the report once the v0.3 step has run, and progress on the way.
struct migration_observer {
  std::function<void(const v03_report&)> on_v03_report;
  /// Rows done and rows in all, every few thousand rows.
  std::function<void(std::int64_t done, std::int64_t total)> on_progress;
  /// Copy the file beside itself before a v0.3 upgrade changes it (open_database does; a dry run on a copy does not).
  bool backup = true;
};

/// True when `usage_log` (v0.2, v0.3) or `ingest_tokens` (v0.3) is in the database.
bool has_v03_tables(database& db);

/// Copies `path` to `<path>.v0.3-backup` (or `.v0.3-backup.N`, never overwriting) and returns the
/// copy's path. A hot journal is rolled back first, so the copy is the consistent database the old app last wrote.
std::filesystem::path backup_database_file(const std::filesystem::path& path);
/// Copies the SQLite database `path` to the new file `target` byte for byte, as the old app left it.
void copy_database_file(const std::filesystem::path& path, const std::filesystem::path& target);

/// Compares the old tables with the new ones row by row and writes nothing: `cost-guardian import-v03` on a file
/// that is already upgraded. Throws storage_error when the old tables cannot be read.
v03_report verify_v03(database& db, const migration_observer& observer = {});

namespace detail {
/// True when `path` is a SQLite file below `upgrade_version` with v0.3 tables in it: read-only, before it is opened.
bool v03_upgrade_pending(const std::filesystem::path& path, int upgrade_version);
/// Schema step 4: imports (`from_version` 0) or repairs (an earlier release's lossy import) the old tables, then
/// verifies row by row and throws storage_error, rolling the step back, when anything differs.
void upgrade_v03(database& db, int from_version, const migration_observer& observer,
                 const std::filesystem::path& backup);
}  // namespace detail

}  // namespace cg::storage
