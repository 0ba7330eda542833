#pragma once
// The backend-neutral half of the cost report (storage-internal): which columns a report reads, and the grouping
// that turns rows (one per event on SQLite, one per pre-aggregated bucket on PostgreSQL) into the sorted report.

#include "cg/storage/cost_report.hpp"

#include "event_sql.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cg::storage::detail {

/// True when the request groups by day, week or month (so the scan must read ts).
bool report_needs_time(const cost_report_request& request);
/// The non-time dimensions the request groups by, in request order: the scan's key columns.
std::vector<report_dimension> report_key_columns(const cost_report_request& request);
/// The column (or project expression) of a non-time dimension. Sets `reads_project` for the project.
void append_report_column(sql_builder& sql, report_dimension d, std::span<const project_rule> rules,
                          bool& reads_project);

/// The columns a report sums after the grouping columns, in event_columns() order, each as `e."name"`, or as
/// `sum(e."name")` when `summed` (PostgreSQL sums in SQL).
std::string report_sum_columns(bool summed);

/// Reads the columns report_sum_columns() named from `row` (as decode_event() reads rows), from column `first` on.
template <typename ResultRow>
void decode_report_sums(const ResultRow& row, int first, usage_totals& out) {
  for (const auto& column : event_columns()) {
    if (!column.summed()) continue;
    const std::int64_t value = row.int64(first++);
    if (column.group == column_group::token_counts)
      out.tokens.*count_member(column.tokens) = value;
    else
      out.cost_nusd = value;
  }
}

/// Finds the local day of an instant without a time-zone lookup per call: rows mostly arrive in time order, so the
/// day of the previous one is usually the day of this one.
class day_cache {
 public:
  explicit day_cache(const time_zone_ref& zone) : zone_(zone) {}
  local_day day_of(std::int64_t ts) {
    if (ts >= start_ && ts < end_) return day_;
    day_ = zone_.day_of(ts);
    start_ = zone_.day_start(day_);
    end_ = zone_.day_start(day_ + 1);
    if (!(start_ <= ts && ts < end_)) start_ = end_ = 0;  // never cache a day the zone data disagrees with
    return day_;
  }

 private:
  const time_zone_ref& zone_;
  local_day day_ = 0;
  std::int64_t start_ = 0;
  std::int64_t end_ = 0;
};

/// Groups rows by (local day, key column values) while they stream, then merges days into weeks or months, sorts
/// and labels. Memory grows with the number of groups, never with the number of rows.
/// A row is given as start_row(), one value()/null() per key column in report_key_columns() order, then add().
/// Thread-safety: none; one report on one thread.
class report_accumulator {
 public:
  explicit report_accumulator(const cost_report_request& request) : request_(request) {}

  void start_row(local_day day) {
    key_.clear();
    key_.append(reinterpret_cast<const char*>(&day), sizeof day);
  }
  void null() { key_.push_back('\0'); }
  void value(std::string_view text) {
    const auto size = static_cast<std::uint32_t>(text.size());
    key_.push_back('\1');
    key_.append(reinterpret_cast<const char*>(&size), sizeof size);
    key_.append(text);
  }
  /// Adds `totals` to the row's group. Throws std::overflow_error when a sum would leave the 64-bit range.
  void add(const usage_totals& totals) { groups_[key_].add(totals); }

  /// True when the report shows token labels (so finish() needs them).
  bool needs_token_labels() const;
  /// The report, with labels (`id` → label, deleted tokens included) for the token dimension.
  cost_report finish(const std::unordered_map<std::int64_t, std::string>& labels) &&;

 private:
  const cost_report_request& request_;
  // Key bytes: the local day, then per key column a null flag or its length and bytes.
  std::string key_;
  std::unordered_map<std::string, usage_totals> groups_;
};

/// Adds `value` to `sum`; throws std::overflow_error when the result leaves the 64-bit range.
void checked_add(std::int64_t& sum, std::int64_t value);

}  // namespace cg::storage::detail
