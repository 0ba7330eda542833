#pragma once
// The finance CSV: RFC 4180 encoding with spreadsheet formula injection neutralised, the event and report layouts,
// and the chunk sources that stream an export page by page from the read pool.

#include "routes/csv_cell.hpp"
#include "http/http.hpp"
#include "app/read_pool.hpp"

#include "cg/storage/cost_report.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/project_rules.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cg::server {


/// The header row of the event export, CRLF-terminated.
std::string_view event_csv_header();
/// One event as a CSV row, CRLF-terminated: ISO-8601 UTC timestamps, the exact decimal cost, the token label next to
/// its id, every attribution column.
void append_event_csv(std::string& out, const storage::stored_event& event);

/// The /costs report as CSV: a header row, one row per group, and a last row whose first column says `TOTAL` with
/// the totals (the only row when nothing is grouped).
std::string report_csv(const storage::cost_report& report, std::span<const storage::report_dimension> group_by);

/// Streams the event export: the first piece (header row and first page) is ready when the response starts; every
/// later pull reads the next keyset page (oldest first) on the read pool. A cancelled export reads nothing more.
/// Thread-safety: see chunk_source; the paging state is touched by one job at a time, each posted only after the
/// previous piece was written.
class event_csv_source final : public chunk_source, public std::enable_shared_from_this<event_csv_source> {
 public:
  static constexpr std::size_t page_rows = 2000;

  event_csv_source(read_pool& reads, std::span<const storage::project_rule> rules, storage::event_filter filter,
                   std::string first_piece, std::optional<storage::event_position> after, bool done,
                   std::string request_id);

  /// Reads the first page on `db` (call it on a read-pool thread) and returns the source primed with it. The
  /// filter is pinned to the rows stored now (max id), so rows that arrive while the file downloads are not in it.
  static std::shared_ptr<event_csv_source> start(read_pool& reads, storage::connection& db,
                                                 std::span<const storage::project_rule> rules,
                                                 storage::event_filter filter, std::string request_id);

  void pull(std::function<void(body_piece)> deliver) override;
  void cancel() noexcept override { cancelled_.store(true, std::memory_order_relaxed); }

 private:
  void read_next(storage::connection& db, const std::function<void(body_piece)>& deliver);
  /// Appends the next page's rows to `out` and moves the position past them.
  void read_page(storage::connection& db, std::string& out);

  read_pool& reads_;
  std::span<const storage::project_rule> rules_;
  storage::event_filter filter_;
  std::string pending_;  // a piece read ahead (the first page)
  std::optional<storage::event_position> after_;
  bool done_;
  std::string request_id_;
  std::atomic<bool> cancelled_{false};
};

/// Streams a body that is already in memory (the grouped export), in pieces of at most 256 KiB.
class text_source final : public chunk_source {
 public:
  explicit text_source(std::string text) : text_(std::move(text)) {}
  void pull(std::function<void(body_piece)> deliver) override;

 private:
  std::string text_;
  std::size_t offset_ = 0;
};

}  // namespace cg::server
