#include "cg/ingest/reprice.hpp"

#include "cg/ingest/event_row.hpp"

#include <vector>

namespace cg::ingest {

reprice_report reprice_events(storage::connection& db, const pricing::price_table& prices,
                              const reprice_options& options,
                              const std::function<void(const reprice_change&)>& on_change) {
  const storage::reprice_filter filter{options.start_us, options.end_us, options.token_id, options.v03_imported};
  reprice_report report;
  std::int64_t after = 0;
  for (;;) {
    const auto page = db.reprice_page(filter, after, options.batch_size);
    if (page.empty()) break;
    std::vector<storage::cost_update> updates;
    for (const auto& e : page) {
      after = e.id;
      ++report.examined;
      report.old_total_nusd += e.cost_nusd;
      auto now = price_event(prices, e.provider, e.model, e.ts_us, e.tokens);
      report.new_total_nusd += now.cost_nusd;
      if (now.cost_nusd == e.cost_nusd && now.cost_source == e.cost_source && now.price_ref == e.price_ref) continue;
      ++report.changed;
      if (on_change)
        on_change({e.id, e.cost_nusd, now.cost_nusd, e.cost_source, now.cost_source, e.price_ref, now.price_ref});
      updates.push_back({e.id, now.cost_nusd, std::move(now.cost_source), std::move(now.price_ref)});
    }
    if (!options.dry_run) db.apply_costs(updates);
  }
  return report;
}

}  // namespace cg::ingest
