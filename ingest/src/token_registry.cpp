#include "cg/ingest/token_registry.hpp"

namespace cg::ingest {

token_registry::token_registry() : map_(std::make_shared<const map_type>()) {}

std::optional<token_entry> token_registry::find(std::string_view token) const {
  const auto map = map_.load(std::memory_order_acquire);
  const auto it = map->find(token);
  if (it == map->end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const token_registry::map_type> token_registry::build(
    const std::vector<storage::tracking_token_row>& rows) {
  auto next = std::make_shared<map_type>();
  next->reserve(rows.size());
  for (const auto& row : rows) next->emplace(row.token, token_entry{row.id, row.label, row.active});
  return next;
}

void token_registry::replace(const std::vector<storage::tracking_token_row>& rows) {
  auto next = build(rows);
  std::lock_guard lock(replacing_);
  map_.store(std::move(next), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool token_registry::refresh(const std::vector<storage::tracking_token_row>& rows, std::uint64_t generation) {
  const auto current = map_.load(std::memory_order_acquire);
  bool same = current->size() == rows.size();
  for (std::size_t i = 0; same && i < rows.size(); ++i) {
    const auto it = current->find(rows[i].token);
    same = it != current->end() && it->second.id == rows[i].id && it->second.label == rows[i].label &&
           it->second.active == rows[i].active;
  }
  if (same) return false;
  auto next = build(rows);
  std::lock_guard lock(replacing_);
  if (generation_.load(std::memory_order_acquire) != generation) return false;
  map_.store(std::move(next), std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

std::size_t token_registry::size() const { return map_.load(std::memory_order_acquire)->size(); }

}  // namespace cg::ingest
