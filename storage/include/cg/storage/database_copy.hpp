#pragma once
/// Copying one event database into another (`cost-guardian migrate-db`): SQLite to PostgreSQL when one gateway is
/// no longer enough, or back. Any backend to any backend, through storage::connection.

#include "cg/storage/connection.hpp"

#include <cstdint>
#include <functional>

namespace cg::storage {

struct copy_totals {
  std::int64_t tokens = 0;  ///< tokens, deleted ones included
  std::int64_t events = 0;
  std::int64_t cost_nusd = 0;
  bool operator==(const copy_totals&) const = default;
};

struct copy_report {
  std::int64_t tokens_added = 0;  ///< new in the destination (a re-run adds 0)
  std::int64_t events_added = 0;
  copy_totals source;       ///< what the source holds (events up to its largest id when the copy began)
  copy_totals destination;  ///< the same events, counted in the destination after the copy
  bool verified() const { return source == destination; }
};

/// Copies every token (with its id; deleted ones too) and every event (with its id, oldest first, `page_rows` per
/// transaction) from `from` to `to`, skipping what `to` already has, so an interrupted copy can simply be run again.
/// Then counts both sides over the copied id range, tokens, events and the exact cost sum: verified() is false
/// when they differ (e.g. the destination already held other events under the same ids). `progress` sees the
/// running count of events read. Throws storage_error.
copy_report copy_database(connection& from, connection& to, std::size_t page_rows = 5000,
                          const std::function<void(std::int64_t events_read)>& progress = {});

}  // namespace cg::storage
