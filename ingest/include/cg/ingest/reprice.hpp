#pragma once
/// Recomputing stored server-side costs with the price table in force now (for when a price was wrong).

#include "cg/pricing/price_table.hpp"
#include "cg/storage/connection.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace cg::ingest {

struct reprice_options {
  std::int64_t start_us = 0;  ///< event time, inclusive
  std::int64_t end_us = 0;    ///< event time, exclusive
  std::optional<std::int64_t> token_id;
  bool dry_run = false;       ///< compute and report, write nothing
  std::size_t batch_size = 1000;
  bool v03_imported = false;  ///< reprice the costs imported from v0.3 (and nothing else) instead
};

struct reprice_change {
  std::int64_t id = 0;
  std::int64_t old_cost_nusd = 0;
  std::int64_t new_cost_nusd = 0;
  std::string old_source;
  std::string new_source;
  std::string old_price_ref;
  std::string new_price_ref;
};

struct reprice_report {
  std::int64_t examined = 0;       ///< server-priced and unpriced events in range
  std::int64_t changed = 0;        ///< of those, whose cost, source or price_ref differs now
  std::int64_t old_total_nusd = 0; ///< sum of the examined events' costs before
  std::int64_t new_total_nusd = 0; ///< and after
};

/// Walks the events in range in id order, `batch_size` at a time, reprices each `server`/`unpriced` one with
/// `prices` and, unless dry_run, rewrites the changed ones batch by batch (one short transaction each, so a running
/// server's writer is never held up for long). Client-supplied costs are never read nor touched. `on_change` sees
/// every changed event. Throws storage_error.
reprice_report reprice_events(storage::connection& db, const pricing::price_table& prices,
                              const reprice_options& options,
                              const std::function<void(const reprice_change&)>& on_change = {});

}  // namespace cg::ingest
