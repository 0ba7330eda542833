#pragma once
/// One price set (a genai-prices ModelPrice) compiled for exact, allocation-free pricing (internal to cg::pricing).

#include "cg/pricing/money.hpp"
#include "cg/pricing/price_calculation.hpp"
#include "exact_decimal.hpp"
#include "unit_registry.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cg::pricing::detail {

/// Quantities indexed by unit_registry index; units nobody reported are 0.
using unit_quantities = std::array<std::int64_t, max_units>;

/// A reported quantity as the exact decimal mantissa × 10^exponent (what the calculator prices).
struct decimal_quantity {
  std::uint64_t mantissa = 0;
  int exponent = 0;
};

/// Usage for the calculator, indexed by unit_registry index. `reported` says which keys the caller sent (also
/// with value 0): a missing key and a zero are not the same thing to the completeness rules.
struct exact_usage {
  std::array<decimal_quantity, max_units> values{};
  std::bitset<max_units> reported;
};

/// The calculator's amounts, each exact.
struct exact_cost {
  usd_amount total;
  usd_amount input;
  usd_amount output;
};

/// The ordinary quote's amounts, each rounded once, half to even, from its own exact sum.
struct nano_cost {
  nano_usd total = 0;
  nano_usd input = 0;
  nano_usd output = 0;
};

/// How a file writes its prices, and what an unknown price key means there.
enum class price_syntax : std::uint8_t {
  decimal_strings,  ///< the project's format, "0.15": an unknown key is an error (the file carries its registry)
  json_numbers,     ///< a genai-prices data.json, 0.15: an unknown key is ignored and reported (a newer feed)
};

struct price_reading {
  const unit_registry& units;
  price_syntax syntax = price_syntax::decimal_strings;
  std::vector<std::string>* warnings = nullptr;  ///< where ignored keys are reported (json_numbers only)
};

/// Every rate of the set is turned, at load time, into an integer coefficient over one common denominator:
/// cost in nano-USD = Σ coefficient(unit) × leaf(unit) / denominator. The sum is exact (128-bit integers) and is
/// rounded once, half to even. Leaves follow the data model's exclusive-bucket rule: a priced unit's leaf is its
/// quantity minus the leaves of its priced descendants (cache reads leave the input bucket, and so on).
/// Thread-safety: immutable after from_json().
class price_set {
 public:
  /// Reads a ModelPrice object; throws price_table_error naming `path` (unknown price key in the project's
  /// format, bad decimal, bad tier).
  static price_set from_json(const boost::json::value& prices, const price_reading& reading,
                             const std::string& path);

  /// Exact cost, each amount rounded once; nullopt only when an amount does not fit nano_usd (absurd
  /// quantities). A leaf that comes out negative (a part larger than its whole, e.g. cache reads above input)
  /// is clamped to 0: such usage is meant to be rejected before pricing, and clamping never charges for tokens
  /// that were not reported.
  std::optional<nano_cost> cost(const unit_quantities& quantities) const noexcept;

  /// The calculator: checks `usage` against the data model's completeness rules, then prices it without
  /// rounding. Returns an empty string on success, else the reason the usage cannot be priced.
  std::string calculate(const exact_usage& usage, const unit_registry& units, exact_cost& out) const;

  bool empty() const noexcept { return priced_.empty(); }
  bool tiered() const noexcept { return tiered_; }

 private:
  struct tier {
    std::int64_t start = 0;  ///< applies when the total input tokens are strictly above this
    int128 coefficient = 0;
  };
  struct priced_unit {
    std::uint16_t unit = 0;
    direction dir = direction::none;
    bool single_request = false;
    int128 base = 0;
    std::vector<tier> tiers;                   ///< ascending start
    std::vector<std::uint16_t> descendants;    ///< positions in priced_ of priced strict descendants
  };
  template <class Int>
  friend class exact_pricer;

  void find_power_of_ten() noexcept;

  std::vector<priced_unit> priced_;  ///< most dimensions first, so descendants are computed before ancestors
  int128 denominator_ = 1;
  /// denominator_ × to_power_of_ten_ = 10^power_of_ten_exponent_ when the denominator has no prime factors but
  /// 2 and 5 (always, unless a price is per 3600 seconds): then every exact amount is a terminating decimal.
  int128 to_power_of_ten_ = 0;
  int power_of_ten_exponent_ = 0;
  std::uint16_t threshold_unit_ = 0;  ///< input_tokens: the tier threshold is always the total input
  bool tiered_ = false;
};

}  // namespace cg::pricing::detail
