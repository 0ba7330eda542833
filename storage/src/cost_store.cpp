#include "cg/storage/cost_store.hpp"

#include "event_sql.hpp"
#include "sqlite_events.hpp"

namespace cg::storage {

cost_store::cost_store(database& db) : db_(db) {}

std::vector<priced_event> cost_store::next_page(const reprice_filter& filter, std::int64_t after_id,
                                                std::size_t limit) {
  detail::sql_builder sql;
  sql.text("SELECT ");
  detail::append_reprice_select(sql);
  std::string sql_text = std::move(sql).finish().text;
  sql_text +=
      " FROM usage_events AS e "
      "WHERE e.id > ?1 AND e.ts >= ?2 AND e.ts < ?3 AND (?4 IS NULL OR e.token_id = ?4) "
      "AND e.cost_source IN (?6, ?7) "
      "ORDER BY e.id LIMIT ?5";
  statement query(db_, sql_text);
  query.bind(1, after_id).bind(2, filter.start_us).bind(3, filter.end_us).bind(4, filter.token_id);
  query.bind(5, static_cast<std::int64_t>(limit)).bind(6, filter.first_source()).bind(7, filter.second_source());
  std::vector<priced_event> page;
  while (query.step()) {
    priced_event e;
    detail::decode_event(detail::sqlite_result_row(query.handle()), e, true);
    page.push_back(std::move(e));
  }
  return page;
}

std::int64_t cost_store::apply(std::span<const cost_update> updates) {
  if (updates.empty()) return 0;
  transaction tx(db_);
  statement update(db_,
                   "UPDATE usage_events SET cost_nusd = ?1, cost_source = ?2, price_ref = ?3 "
                   "WHERE id = ?4 AND cost_source <> 'client'");
  std::int64_t changed = 0;
  for (const auto& u : updates) {
    update.bind(1, u.cost_nusd).bind(2, u.cost_source).bind(3, u.price_ref).bind(4, u.id);
    update.step();
    changed += db_.changes();
    update.reset();
  }
  tx.commit();
  return changed;
}

}  // namespace cg::storage
