#include "cg/ingest/token_registry.hpp"

namespace cg::ingest {

token_registry::token_registry() : map_(std::make_shared<const map_type>()) {}

std::optional<token_entry> token_registry::find(std::string_view token) const {
  const auto map = map_.load(std::memory_order_acquire);
  const auto it = map->find(token);
  if (it == map->end()) return std::nullopt;
  return it->second;
}

void token_registry::replace(const std::vector<storage::tracking_token_row>& rows) {
  auto next = std::make_shared<map_type>();
  next->reserve(rows.size());
  for (const auto& row : rows) next->emplace(row.token, token_entry{row.id, row.label, row.active});
  map_.store(std::move(next), std::memory_order_release);
}

std::size_t token_registry::size() const { return map_.load(std::memory_order_acquire)->size(); }

}  // namespace cg::ingest
