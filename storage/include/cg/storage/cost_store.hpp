#pragma once
/// Reading stored events' pricing inputs and rewriting their costs, for `cost-guardian reprice`.

#include "cg/storage/database.hpp"
#include "cg/storage/event_row.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cg::storage {

/// What a stored event's cost was computed from, and the cost it has now: a stored_event of which only the id and
/// the columns marked read_by_reprice in event_columns() are read.
using priced_event = stored_event;

struct cost_update {
  std::int64_t id = 0;
  std::int64_t cost_nusd = 0;
  std::string cost_source;  ///< "server" or "unpriced"
  std::string price_ref;
};

/// Which events a reprice looks at: `[start_us, end_us)` by event time, optionally one token, and never a cost the
/// client supplied: `server` and `unpriced` rows, or, only when asked, the costs imported from Cost Guardian v0.3
/// (`v0.3-import`, computed by the old app at one reference model's rates).
struct reprice_filter {
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
  std::optional<std::int64_t> token_id;
  bool v03_imported = false;  ///< read only `v0.3-import` rows instead of `server` and `unpriced` ones

  /// The two cost_source values read (the same one twice for the v0.3 rows).
  std::string_view first_source() const noexcept { return v03_imported ? "v0.3-import" : "server"; }
  std::string_view second_source() const noexcept { return v03_imported ? "v0.3-import" : "unpriced"; }
};

/// Thread-safety: none, like its connection.
class cost_store {
 public:
  explicit cost_store(database& db);

  /// Up to `limit` events with id > `after_id` matching `filter`, in id order (keyset paging: constant cost per page).
  std::vector<priced_event> next_page(const reprice_filter& filter, std::int64_t after_id, std::size_t limit);

  /// Rewrites the given rows' costs in one transaction. Rows whose cost_source is `client` are never touched, even
  /// if asked. Returns how many rows changed.
  std::int64_t apply(std::span<const cost_update> updates);

 private:
  database& db_;
};

}  // namespace cg::storage
