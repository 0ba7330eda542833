#pragma once
/// One price set (a genai-prices ModelPrice) compiled for exact, allocation-free pricing (internal to cg::pricing).

#include "cg/pricing/money.hpp"
#include "exact_decimal.hpp"
#include "unit_registry.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cg::pricing::detail {

/// Quantities indexed by unit_registry index; units nobody reported are 0.
using unit_quantities = std::array<std::int64_t, max_units>;

/// Every rate of the set is turned, at load time, into an integer coefficient over one common denominator:
/// cost in nano-USD = Σ coefficient(unit) × leaf(unit) / denominator. The sum is exact (128-bit integers) and is
/// rounded once, half to even. Leaves follow the data model's exclusive-bucket rule: a priced unit's leaf is its
/// quantity minus the leaves of its priced descendants (cache reads leave the input bucket, and so on).
/// Thread-safety: immutable after from_json().
class price_set {
 public:
  /// Reads a ModelPrice object; throws price_table_error naming `path` (unknown price key, bad decimal, bad tier).
  static price_set from_json(const boost::json::value& prices, const unit_registry& units, const std::string& path);

  /// Exact cost; nullopt only when the amount does not fit nano_usd (absurd quantities). A leaf that comes out
  /// negative (a part larger than its whole, e.g. cache reads above input) is clamped to 0: such usage is meant
  /// to be rejected before pricing, and clamping never charges for tokens that were not reported.
  std::optional<nano_usd> cost(const unit_quantities& quantities) const noexcept;

  bool empty() const noexcept { return priced_.empty(); }
  bool tiered() const noexcept { return tiered_; }

 private:
  struct tier {
    std::int64_t start = 0;  ///< applies when the total input tokens are strictly above this
    int128 coefficient = 0;
  };
  struct priced_unit {
    std::uint16_t unit = 0;
    bool single_request = false;
    int128 base = 0;
    std::vector<tier> tiers;                   ///< ascending start
    std::vector<std::uint16_t> descendants;    ///< positions in priced_ of priced strict descendants
  };

  std::vector<priced_unit> priced_;  ///< most dimensions first, so descendants are computed before ancestors
  int128 denominator_ = 1;
  std::uint16_t threshold_unit_ = 0;  ///< input_tokens: the tier threshold is always the total input
  bool tiered_ = false;
};

}  // namespace cg::pricing::detail
