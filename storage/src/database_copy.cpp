#include "cg/storage/database_copy.hpp"

#include <string>
#include <unordered_map>

namespace cg::storage {

namespace {

copy_totals count(connection& db, std::int64_t max_id, const std::vector<tracking_token_row>& tokens) {
  copy_totals totals;
  // A token counts when the same id holds the same token string: a clash of ids with other tokens shows.
  std::unordered_map<std::int64_t, std::string> wanted;
  for (const auto& t : tokens) wanted.emplace(t.id, t.token);
  for (const auto& t : db.all_tokens())
    if (const auto it = wanted.find(t.id); it != wanted.end() && it->second == t.token) ++totals.tokens;
  cost_report_request everything;
  everything.filter.max_id = max_id;
  const auto report = db.run_cost_report(everything, {});
  totals.events = report.totals.requests;
  totals.cost_nusd = report.totals.cost_nusd;
  return totals;
}

}  // namespace

copy_report copy_database(connection& from, connection& to, std::size_t page_rows,
                          const std::function<void(std::int64_t)>& progress) {
  copy_report report;
  const auto tokens = from.all_tokens();
  report.tokens_added = to.import_tokens(tokens);

  // Pinned to the events stored when the copy began: a source still being written to does not move the target.
  event_filter filter;
  filter.max_id = from.max_event_id();
  std::optional<event_position> after;
  std::int64_t read = 0;
  for (;;) {
    const auto page = from.events_page(filter, {}, event_order::oldest_first, after, page_rows);
    if (page.empty()) break;
    report.events_added += to.import_events(page);
    read += static_cast<std::int64_t>(page.size());
    after = event_position{page.back().ts_us, page.back().id};
    if (progress) progress(read);
    if (page.size() < page_rows) break;
  }

  report.source = count(from, *filter.max_id, tokens);
  report.destination = count(to, *filter.max_id, tokens);
  return report;
}

}  // namespace cg::storage
