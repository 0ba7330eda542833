#include "cg/storage/cost_store.hpp"

#include "event_sql.hpp"
#include "sqlite_events.hpp"

namespace cg::storage {

cost_store::cost_store(database& db) : db_(db) {}

std::vector<priced_event> cost_store::next_page(const reprice_filter& filter, std::int64_t after_id,
                                                std::size_t limit) {
  const bound_sql sql = detail::reprice_page_sql(detail::sql_dialect::sqlite, filter, after_id, limit);
  statement query(db_, sql.text);
  sql.bind_to(query);
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
