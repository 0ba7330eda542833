#include "unit_registry.hpp"

#include "cg/pricing/price_table.hpp"

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cg::pricing::detail {

unit_registry unit_registry::from_json(const boost::json::value& units, const std::string& path) {
  const auto* object = units.if_object();
  if (object == nullptr || object->empty()) {
    throw price_table_error(fmt::format("{}: must be a non-empty object of units", path));
  }
  if (object->size() > max_units) {
    throw price_table_error(fmt::format("{}: {} units, at most {} are supported", path, object->size(), max_units));
  }
  unit_registry registry;
  for (const auto& [key, value] : *object) {
    const std::string unit_path = fmt::format("{}.{}", path, std::string_view{key});
    const auto* fields = value.if_object();
    if (fields == nullptr) throw price_table_error(fmt::format("{}: must be an object", unit_path));
    for (const auto& field : *fields) {
      const std::string_view name{field.key()};
      if (name != "price_key" && name != "per" && name != "dimensions") {
        throw price_table_error(fmt::format("{}: unknown field '{}'", unit_path, name));
      }
    }
    unit u;
    u.usage_key = std::string{std::string_view{key}};
    const auto* price_key = fields->if_contains("price_key");
    if (price_key == nullptr || !price_key->is_string() || price_key->get_string().empty()) {
      throw price_table_error(fmt::format("{}.price_key: must be a non-empty string", unit_path));
    }
    u.price_key = std::string{std::string_view{price_key->get_string()}};
    // Boost.JSON stores every integer that fits as int64; the upper bound keeps rate arithmetic far from overflow.
    const auto* per = fields->if_contains("per");
    if (per == nullptr || !per->is_int64() || per->get_int64() <= 0 || per->get_int64() > 1'000'000'000'000LL) {
      throw price_table_error(fmt::format("{}.per: must be an integer from 1 to 10^12", unit_path));
    }
    u.per = per->get_int64();
    const auto* dimensions = fields->if_contains("dimensions");
    if (dimensions == nullptr || !dimensions->is_object()) {
      throw price_table_error(fmt::format("{}.dimensions: must be an object", unit_path));
    }
    for (const auto& [name, dim] : dimensions->get_object()) {
      if (!dim.is_string()) {
        throw price_table_error(
            fmt::format("{}.dimensions.{}: must be a string", unit_path, std::string_view{name}));
      }
      u.dimensions.emplace_back(std::string{std::string_view{name}}, std::string{std::string_view{dim.get_string()}});
    }
    std::sort(u.dimensions.begin(), u.dimensions.end());
    const auto has = [&](std::string_view name) {
      return std::find_if(u.dimensions.begin(), u.dimensions.end(), [&](const auto& d) { return d.first == name; });
    };
    if (has("family") == u.dimensions.end()) {
      throw price_table_error(fmt::format("{}.dimensions: 'family' is required", unit_path));
    }
    if (const auto dir = has("direction"); dir != u.dimensions.end()) {
      if (dir->second == "input") {
        u.dir = direction::input;
      } else if (dir->second == "output") {
        u.dir = direction::output;
      } else {
        throw price_table_error(
            fmt::format("{}.dimensions.direction: '{}' is neither input nor output", unit_path, dir->second));
      }
    }
    u.single_request = u.usage_key == "requests";
    const std::size_t index = registry.units_.size();
    if (!registry.by_price_key_.emplace(u.price_key, index).second) {
      throw price_table_error(fmt::format("{}.price_key: '{}' is used by two units", unit_path, u.price_key));
    }
    registry.by_usage_key_.emplace(u.usage_key, index);
    registry.units_.push_back(std::move(u));
  }

  string_map<std::size_t> value_bits;
  for (const auto& u : registry.units_) {
    dimension_set set;
    for (const auto& [name, value] : u.dimensions) {
      const auto slot = value_bits.emplace(name + "=" + value, value_bits.size()).first;
      if (slot->second >= max_dimension_values) {
        throw price_table_error(fmt::format("{}: more than {} distinct dimension values", path, max_dimension_values));
      }
      set.set(slot->second);
    }
    registry.dimension_sets_.push_back(set);
  }

  // Ancestry from dimension sets: A ⊂ B (both sorted, so std::includes works) and A ≠ B.
  registry.descendants_.resize(registry.units_.size());
  for (std::size_t a = 0; a < registry.units_.size(); ++a) {
    for (std::size_t b = 0; b < registry.units_.size(); ++b) {
      const auto& da = registry.units_[a].dimensions;
      const auto& db = registry.units_[b].dimensions;
      if (da.size() < db.size() && std::includes(db.begin(), db.end(), da.begin(), da.end())) {
        registry.descendants_[a].set(b);
      }
    }
  }
  return registry;
}

std::optional<std::size_t> unit_registry::find_usage_key(std::string_view usage_key) const {
  const auto found = by_usage_key_.find(usage_key);
  if (found == by_usage_key_.end()) return std::nullopt;
  return found->second;
}

std::optional<std::size_t> unit_registry::find_price_key(std::string_view price_key) const {
  const auto found = by_price_key_.find(price_key);
  if (found == by_price_key_.end()) return std::nullopt;
  return found->second;
}

}  // namespace cg::pricing::detail
