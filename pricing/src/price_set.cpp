#include "price_set.hpp"

#include "exact_json.hpp"

#include "cg/pricing/price_table.hpp"
#include "cg/values/money_text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace cg::pricing::detail {
namespace {

constexpr std::int64_t nanos_per_usd = 1'000'000'000;

/// A rate as the exact fraction nano-USD per usage unit: numerator / denominator, reduced.
struct fraction {
  int128 numerator = 0;
  int128 denominator = 1;
};

/// The decimal a price value stands for. The project's format writes prices as strings, exactly as the source
/// wrote them. A data.json writes JSON numbers: integers are exact, and a double's shortest round-trip text is the
/// source text for every value a shortest-round-trip writer (Python's json, JSON.stringify) produced, because the
/// parser rounds each number correctly (see exact_json.hpp).
exact_decimal read_decimal(const boost::json::value& value, price_syntax syntax, const std::string& path) {
  std::string number_text;
  std::string_view text;
  if (syntax == price_syntax::decimal_strings) {
    const auto* string = value.if_string();
    if (string == nullptr) {
      throw price_table_error(fmt::format("{}: a price must be a decimal string such as \"0.15\"", path));
    }
    text = std::string_view{*string};
  } else {
    if (value.is_int64()) {
      number_text = std::to_string(value.get_int64());
    } else if (value.is_uint64()) {
      number_text = std::to_string(value.get_uint64());
    } else if (value.is_double()) {
      number_text = values::shortest_decimal(value.get_double());
    } else {
      throw price_table_error(fmt::format("{}: a price must be a JSON number", path));
    }
    text = number_text;
  }
  std::string why;
  const auto parsed = parse_decimal(text, why);
  if (!parsed) throw price_table_error(fmt::format("{}: price '{}' {}", path, text, why));
  return *parsed;
}

/// A tier start: a non-negative integer (an integral double too, as a lenient JSON reader would take it).
std::int64_t read_tier_start(const boost::json::value& value, const std::string& path) {
  if (value.is_int64() && value.get_int64() >= 0) return value.get_int64();
  if (value.is_double()) {
    const double d = value.get_double();
    if (d >= 0 && d < 9.0e18 && std::floor(d) == d) return static_cast<std::int64_t>(d);
  }
  throw price_table_error(fmt::format("{}: must be a non-negative integer", path));
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

/// One price key of a set, before the set's common denominator is known: the unit it prices, its base rate, and its
/// tiers (by input-token threshold, in order).
struct pending_rate {
  std::size_t unit;
  fraction base;
  std::vector<std::pair<std::int64_t, fraction>> tiers;
};

/// A tiered price: `{"base": ..., "tiers": [{"start": n, "price": ...}, ...]}`, nothing else.
void read_tiers(const boost::json::object& tiered, const price_reading& reading, std::int64_t per,
                const std::string& price_path, pending_rate& rate) {
  for (const auto& field : tiered) {
    const std::string_view name{field.key()};
    if (name != "base" && name != "tiers") {
      throw price_table_error(fmt::format("{}: unknown field '{}' in a tiered price", price_path, name));
    }
  }
  const auto* base = tiered.if_contains("base");
  const auto* tiers = tiered.if_contains("tiers");
  if (base == nullptr || tiers == nullptr || !tiers->is_array()) {
    throw price_table_error(fmt::format("{}: a tiered price needs 'base' and a 'tiers' array", price_path));
  }
  rate.base = to_fraction(read_decimal(*base, reading.syntax, price_path + ".base"), per, price_path + ".base");
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
    rate.tiers.emplace_back(read_tier_start(*start, tier_path + ".start"),
                            to_fraction(read_decimal(*price, reading.syntax, tier_path + ".price"), per,
                                        tier_path + ".price"));
  }
  std::stable_sort(rate.tiers.begin(), rate.tiers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

/// Every price key of a set's object, read exactly; keys a newer feed added are skipped with a warning.
std::vector<pending_rate> read_rates(const boost::json::object& object, const price_reading& reading,
                                     const std::string& path) {
  const unit_registry& units = reading.units;
  std::vector<pending_rate> rates;
  for (const auto& [key, value] : object) {
    const std::string_view price_key{key};
    const std::string price_path = fmt::format("{}.{}", path, price_key);
    const auto unit_index = units.find_price_key(price_key);
    if (!unit_index && reading.syntax == price_syntax::decimal_strings) {
      // The file carries its own unit registry, so an unknown key is a broken file, not a newer feed.
      throw price_table_error(fmt::format("{}: unknown price key '{}'", path, price_key));
    }
    if (!unit_index) {
      // A data.json newer than the compiled-in registry. Upstream clients ignore such a key, which under-prices,
      // so the key is checked for shape, skipped, and reported for the server to log loudly.
      if (!value.is_number() && !value.is_object()) {
        throw price_table_error(fmt::format("{}: a price must be a JSON number or a tiered price", price_path));
      }
      if (reading.warnings != nullptr) {
        reading.warnings->push_back(
            fmt::format("{}: unknown price key '{}' ignored (not in the unit registry; the feed may be newer "
                        "than this build, so this model may be under-priced)",
                        path, price_key));
      }
      continue;
    }
    const std::int64_t per = units.at(*unit_index).per;
    pending_rate rate{*unit_index, {}, {}};
    if (const auto* tiered = value.if_object()) {
      if (reading.syntax == price_syntax::json_numbers && units.at(*unit_index).single_request) {
        throw price_table_error(fmt::format("{}: a request fee cannot be tiered", price_path));
      }
      read_tiers(*tiered, reading, per, price_path, rate);
    } else {
      rate.base = to_fraction(read_decimal(value, reading.syntax, price_path), per, price_path);
    }
    rates.push_back(std::move(rate));
  }
  return rates;
}

}  // namespace

price_set price_set::from_json(const boost::json::value& prices, const price_reading& reading,
                               const std::string& path) {
  const unit_registry& units = reading.units;
  const auto* object = prices.if_object();
  if (object == nullptr) throw price_table_error(fmt::format("{}: a price set must be an object", path));
  const auto rates = read_rates(*object, reading, path);

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
  set.find_power_of_ten();
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
    pu.dir = units.at(rate.unit).dir;
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

void price_set::find_power_of_ten() noexcept {
  // denominator_ = 2^twos × 5^fives × rest. With rest = 1, multiplying by 2^(k−twos) × 5^(k−fives), k the larger
  // exponent, makes it 10^k.
  int128 rest = denominator_;
  int twos = 0;
  int fives = 0;
  while (rest % 2 == 0) {
    rest /= 2;
    ++twos;
  }
  while (rest % 5 == 0) {
    rest /= 5;
    ++fives;
  }
  to_power_of_ten_ = 0;
  if (rest != 1) return;
  const int k = std::max(twos, fives);
  int128 factor = 1;
  for (int i = twos; i < k; ++i) {
    if (!checked_mul(factor, 2, factor)) return;
  }
  for (int i = fives; i < k; ++i) {
    if (!checked_mul(factor, 5, factor)) return;
  }
  to_power_of_ten_ = factor;
  power_of_ten_exponent_ = k;
}

std::optional<nano_cost> price_set::cost(const unit_quantities& quantities) const noexcept {
  const std::int64_t threshold = quantities[threshold_unit_];
  std::array<int128, max_units> leaves{};
  int128 total = 0;
  int128 input = 0;
  int128 output = 0;
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
    // input and output are parts of total, so they cannot overflow when total did not.
    if (pu.dir == direction::input) input += term;
    if (pu.dir == direction::output) output += term;
  }
  const auto round = [this](int128 numerator) -> std::optional<nano_usd> {
    const int128 rounded = divide_round_half_even(numerator, denominator_);
    if (rounded > std::numeric_limits<nano_usd>::max()) return std::nullopt;
    return static_cast<nano_usd>(rounded);
  };
  const auto rounded_total = round(total);
  if (!rounded_total) return std::nullopt;
  return nano_cost{*rounded_total, *round(input), *round(output)};
}

}  // namespace cg::pricing::detail
