#include "price_set.hpp"

#include "cg/pricing/price_table.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace cg::pricing::detail {
namespace {

constexpr std::int64_t nanos_per_usd = 1'000'000'000;

/// A rate as the exact fraction nano-USD per usage unit: numerator / denominator, reduced.
struct fraction {
  int128 numerator = 0;
  int128 denominator = 1;
};

exact_decimal read_decimal(const boost::json::value& value, const std::string& path) {
  const auto* text = value.if_string();
  if (text == nullptr) {
    throw price_table_error(fmt::format("{}: a price must be a decimal string such as \"0.15\"", path));
  }
  std::string why;
  const auto parsed = parse_decimal(std::string_view{*text}, why);
  if (!parsed) throw price_table_error(fmt::format("{}: price '{}' {}", path, std::string_view{*text}, why));
  return *parsed;
}

fraction to_fraction(const exact_decimal& rate, std::int64_t per, const std::string& path) {
  // rate USD per `per` units = mantissa × 10^9 / (10^scale × per) nano-USD per unit.
  fraction f;
  int128 scale_factor = 0;
  if (!power_of_ten(rate.scale, scale_factor) || !checked_mul(scale_factor, per, f.denominator) ||
      !checked_mul(rate.mantissa, nanos_per_usd, f.numerator)) {
    throw price_table_error(fmt::format("{}: price is too precise to compute exactly", path));
  }
  const int128 divisor = gcd(f.numerator, f.denominator);
  if (divisor > 1) {
    f.numerator /= divisor;
    f.denominator /= divisor;
  }
  if (f.numerator == 0) f.denominator = 1;
  return f;
}

}  // namespace

price_set price_set::from_json(const boost::json::value& prices, const unit_registry& units,
                               const std::string& path) {
  const auto* object = prices.if_object();
  if (object == nullptr) throw price_table_error(fmt::format("{}: a price set must be an object", path));

  struct pending {
    std::size_t unit;
    fraction base;
    std::vector<std::pair<std::int64_t, fraction>> tiers;
  };
  std::vector<pending> rates;
  for (const auto& [key, value] : *object) {
    const std::string_view price_key{key};
    const std::string price_path = fmt::format("{}.{}", path, price_key);
    const auto unit_index = units.find_price_key(price_key);
    if (!unit_index) {
      // The file carries its own unit registry, so an unknown key is a broken file, not a newer feed.
      throw price_table_error(fmt::format("{}: unknown price key '{}'", path, price_key));
    }
    const std::int64_t per = units.at(*unit_index).per;
    pending rate{*unit_index, {}, {}};
    if (const auto* tiered = value.if_object()) {
      for (const auto& field : *tiered) {
        const std::string_view name{field.key()};
        if (name != "base" && name != "tiers") {
          throw price_table_error(fmt::format("{}: unknown field '{}' in a tiered price", price_path, name));
        }
      }
      const auto* base = tiered->if_contains("base");
      const auto* tiers = tiered->if_contains("tiers");
      if (base == nullptr || tiers == nullptr || !tiers->is_array()) {
        throw price_table_error(fmt::format("{}: a tiered price needs 'base' and a 'tiers' array", price_path));
      }
      rate.base = to_fraction(read_decimal(*base, price_path + ".base"), per, price_path + ".base");
      const auto& tier_list = tiers->get_array();
      for (std::size_t i = 0; i < tier_list.size(); ++i) {
        const std::string tier_path = fmt::format("{}.tiers[{}]", price_path, i);
        const auto* tier_object = tier_list[i].if_object();
        if (tier_object == nullptr || tier_object->size() != 2) {
          throw price_table_error(fmt::format("{}: a tier is an object with 'start' and 'price'", tier_path));
        }
        const auto* start = tier_object->if_contains("start");
        const auto* price = tier_object->if_contains("price");
        if (start == nullptr || price == nullptr) {
          throw price_table_error(fmt::format("{}: a tier is an object with 'start' and 'price'", tier_path));
        }
        if (!start->is_int64() || start->get_int64() < 0) {
          throw price_table_error(fmt::format("{}.start: must be a non-negative integer", tier_path));
        }
        rate.tiers.emplace_back(start->get_int64(),
                                to_fraction(read_decimal(*price, tier_path + ".price"), per, tier_path + ".price"));
      }
      std::stable_sort(rate.tiers.begin(), rate.tiers.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    } else {
      rate.base = to_fraction(read_decimal(value, price_path), per, price_path);
    }
    rates.push_back(std::move(rate));
  }

  price_set set;
  const auto input_unit = units.find_usage_key("input_tokens");
  if (!input_unit) throw price_table_error(fmt::format("{}: the unit registry has no input_tokens", path));
  set.threshold_unit_ = static_cast<std::uint16_t>(*input_unit);

  // One common denominator for every rate of the set, so quoting is multiply-add plus one division.
  int128 common = 1;
  const auto include = [&](const fraction& f) {
    const int128 step = f.denominator / gcd(common, f.denominator);
    if (!checked_mul(common, step, common)) {
      throw price_table_error(fmt::format("{}: prices are too precise to compute exactly", path));
    }
  };
  for (const auto& rate : rates) {
    include(rate.base);
    for (const auto& tier_rate : rate.tiers) include(tier_rate.second);
  }
  set.denominator_ = common;
  const auto coefficient = [&](const fraction& f) {
    int128 out = 0;
    if (!checked_mul(f.numerator, common / f.denominator, out)) {
      throw price_table_error(fmt::format("{}: prices are too precise to compute exactly", path));
    }
    return out;
  };

  for (const auto& rate : rates) {
    priced_unit pu;
    pu.unit = static_cast<std::uint16_t>(rate.unit);
    pu.single_request = units.at(rate.unit).single_request;
    pu.base = coefficient(rate.base);
    for (const auto& [start, tier_rate] : rate.tiers) pu.tiers.push_back(tier{start, coefficient(tier_rate)});
    set.tiered_ = set.tiered_ || !pu.tiers.empty();
    set.priced_.push_back(std::move(pu));
  }
  // Most dimensions first: a strict descendant always has more dimensions than its ancestor. Ties by unit index
  // keep the order independent of the file's key order.
  std::sort(set.priced_.begin(), set.priced_.end(), [&](const priced_unit& a, const priced_unit& b) {
    const auto da = units.at(a.unit).dimensions.size();
    const auto db = units.at(b.unit).dimensions.size();
    return da != db ? da > db : a.unit < b.unit;
  });
  for (std::size_t x = 0; x < set.priced_.size(); ++x) {
    if (set.priced_[x].single_request) continue;
    for (std::size_t y = 0; y < x; ++y) {
      if (!set.priced_[y].single_request && units.is_strict_ancestor(set.priced_[x].unit, set.priced_[y].unit)) {
        set.priced_[x].descendants.push_back(static_cast<std::uint16_t>(y));
      }
    }
  }
  return set;
}

std::optional<nano_usd> price_set::cost(const unit_quantities& quantities) const noexcept {
  const std::int64_t threshold = quantities[threshold_unit_];
  std::array<int128, max_units> leaves{};
  int128 total = 0;
  for (std::size_t x = 0; x < priced_.size(); ++x) {
    const priced_unit& pu = priced_[x];
    int128 leaf = 1;  // requests: exactly one, whatever was reported
    if (!pu.single_request) {
      leaf = std::max<std::int64_t>(quantities[pu.unit], 0);
      for (const auto y : pu.descendants) leaf -= leaves[y];
      if (leaf < 0) leaf = 0;
    }
    leaves[x] = leaf;
    // Cliff pricing: the last tier whose start the total input exceeds sets the rate for every unit of this key.
    int128 rate = pu.base;
    for (const auto& t : pu.tiers) {
      if (threshold > t.start) rate = t.coefficient;
    }
    int128 term = 0;
    if (!checked_mul(rate, leaf, term) || !checked_add(total, term, total)) return std::nullopt;
  }
  const int128 rounded = divide_round_half_even(total, denominator_);
  if (rounded > std::numeric_limits<nano_usd>::max()) return std::nullopt;
  return static_cast<nano_usd>(rounded);
}

}  // namespace cg::pricing::detail
