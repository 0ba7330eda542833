#include "assets_table.hpp"

#include <algorithm>

namespace cg::dashboard {

std::span<const asset> all() noexcept { return {detail::asset_table, detail::asset_count}; }

const asset& page() noexcept { return detail::asset_table[0]; }  // embed.cmake puts the page first

const asset* find(std::string_view name) noexcept {
  const auto assets = all();
  const auto it = std::find_if(assets.begin(), assets.end(), [name](const asset& a) { return a.name == name; });
  return it == assets.end() ? nullptr : &*it;
}

}  // namespace cg::dashboard
