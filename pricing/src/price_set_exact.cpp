// The calculator half of price_set: usage in exact decimals, checked for completeness, priced without rounding.
// Kept apart from price_set.cpp because it is the only user of Boost.Multiprecision (a heavy header).
#include "price_set.hpp"

#include <boost/multiprecision/cpp_int.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

namespace cg::pricing::detail {
namespace {

using big_int = boost::multiprecision::cpp_int;

// The same checked arithmetic for both integer types: 128-bit integers report overflow (the caller then starts
// again with big_int), big_int never overflows.
bool try_add(int128 a, int128 b, int128& out) noexcept { return !__builtin_add_overflow(a, b, &out); }
bool try_sub(int128 a, int128 b, int128& out) noexcept { return !__builtin_sub_overflow(a, b, &out); }
bool try_mul(int128 a, int128 b, int128& out) noexcept { return !__builtin_mul_overflow(a, b, &out); }
bool try_add(const big_int& a, const big_int& b, big_int& out) {
  out = a + b;
  return true;
}
bool try_sub(const big_int& a, const big_int& b, big_int& out) {
  out = a - b;
  return true;
}
bool try_mul(const big_int& a, const big_int& b, big_int& out) {
  out = a * b;
  return true;
}

template <class Int>
Int from_int128(int128 value) {
  if constexpr (std::is_same_v<Int, int128>) {
    return value;
  } else {
    // Non-negative in every use: coefficients, the power-of-ten factor.
    const auto magnitude = static_cast<uint128>(value);
    big_int out = static_cast<std::uint64_t>(magnitude >> 64);
    out <<= 64;
    out += static_cast<std::uint64_t>(magnitude);
    return out;
  }
}

template <class Int>
bool power_of_ten_as(int exponent, Int& out) {
  Int value = 1;
  for (int i = 0; i < exponent; ++i) {
    if (!try_mul(value, Int{10}, value)) return false;
  }
  out = value;
  return true;
}

/// Decimal digits of a non-negative integer.
std::string digits_of(int128 value) {
  constexpr std::uint64_t chunk = 1'000'000'000'000'000'000ULL;  // 10^18: each chunk fits a uint64
  if (value < static_cast<int128>(chunk)) return std::to_string(static_cast<std::uint64_t>(value));
  std::string low = std::to_string(static_cast<std::uint64_t>(value % chunk));
  low.insert(0, 18 - low.size(), '0');
  return digits_of(value / chunk) + low;
}
std::string digits_of(const big_int& value) { return value.str(); }

long double approximate(int128 value) { return static_cast<long double>(value); }
long double approximate(const big_int& value) { return value.convert_to<long double>(); }

/// digits × 10^-point as decimal text without trailing zeros: ("45", 5) → "0.00045", ("1200", 3) → "1.2".
std::string place_point(std::string digits, int point) {
  if (point <= 0) {
    digits.append(static_cast<std::size_t>(-point), '0');
    return digits;
  }
  const auto fraction_digits = static_cast<std::size_t>(point);
  if (digits.size() <= fraction_digits) digits.insert(0, fraction_digits - digits.size() + 1, '0');
  digits.insert(digits.size() - fraction_digits, 1, '.');
  while (digits.back() == '0') digits.pop_back();
  if (digits.back() == '.') digits.pop_back();
  return digits;
}

usd_amount make_amount(std::string decimal) {
  usd_amount amount;
  // from_chars rounds the exact decimal text once, to the nearest double.
  std::from_chars(decimal.data(), decimal.data() + decimal.size(), amount.value);
  amount.decimal = std::move(decimal);
  return amount;
}

/// numerator / denominator (both > 0 or numerator 0) as decimal text, for a denominator that is not a power of
/// ten times 2s and 5s: long division to 40 significant digits, the last one rounded half to even.
template <class Int>
std::string divide_to_text(const Int& numerator, const Int& denominator) {
  constexpr int significant = 40;
  Int quotient = numerator / denominator;
  Int remainder = numerator % denominator;
  std::string digits = digits_of(quotient);
  int point = 0;  // digits after the decimal point
  int counted = quotient == 0 ? 0 : static_cast<int>(digits.size());
  while (remainder != 0 && counted < significant) {
    remainder *= 10;
    const Int digit = remainder / denominator;
    remainder %= denominator;
    const char c = static_cast<char>('0' + static_cast<int>(digit));
    digits.push_back(c);
    ++point;
    if (counted > 0 || c != '0') ++counted;
  }
  if (remainder != 0) {
    const Int twice = remainder * 2;
    const bool up = twice > denominator || (twice == denominator && (digits.back() - '0') % 2 == 1);
    if (up) {
      auto i = digits.size();
      while (i > 0 && digits[i - 1] == '9') digits[--i] = '0';
      if (i == 0) {
        digits.insert(0, 1, '1');
      } else {
        ++digits[i - 1];
      }
    }
  }
  return place_point(std::move(digits), point);
}

}  // namespace

/// One calculation with integers of type Int: 128-bit first, arbitrary precision when that overflows.
template <class Int>
class exact_pricer {
 public:
  enum class outcome : std::uint8_t { priced, contradictory, overflow };

  exact_pricer(const price_set& set, const exact_usage& usage, const unit_registry& units)
      : set_(set), usage_(usage), units_(units) {}

  outcome run(exact_cost& out, std::string& error) {
    // Every quantity is brought to one scale: scaled = value × 10^scale, an integer.
    int scale = 0;
    for (std::size_t u = 0; u < units_.size(); ++u) {
      const auto& q = usage_.values[u];
      if (q.mantissa != 0 && q.exponent < 0) scale = std::max(scale, -q.exponent);
    }
    Int one;  // 1 in scaled units: the request count
    if (!power_of_ten_as(scale, one)) return outcome::overflow;

    const std::size_t n = set_.priced_.size();
    std::vector<Int> leaves(n);
    Int threshold;
    if (!scaled(set_.threshold_unit_, scale, threshold)) return outcome::overflow;
    Int total = 0;
    Int input = 0;
    Int output = 0;
    for (std::size_t x = 0; x < n; ++x) {
      const auto& pu = set_.priced_[x];
      Int leaf;
      if (pu.single_request) {
        leaf = one;
      } else {
        Int whole;
        if (!scaled(pu.unit, scale, whole)) return outcome::overflow;
        Int parts = 0;
        for (const auto y : pu.descendants) {
          if (!try_add(parts, leaves[y], parts)) return outcome::overflow;
        }
        if (!try_sub(whole, parts, leaf)) return outcome::overflow;
        if (leaf < 0) {
          if (!within_float_noise(leaf, whole, parts, pu.descendants.size(), scale)) {
            error = contradiction(pu);
            return outcome::contradictory;
          }
          leaf = 0;
        }
      }
      leaves[x] = leaf;
      Int rate = from_int128<Int>(pu.base);
      for (const auto& t : pu.tiers) {
        Int start;
        if (!try_mul(Int{t.start}, one, start)) return outcome::overflow;
        if (threshold > start) rate = from_int128<Int>(t.coefficient);
      }
      Int term;
      if (!try_mul(rate, leaf, term) || !try_add(total, term, total)) return outcome::overflow;
      if (pu.dir == direction::input && !try_add(input, term, input)) return outcome::overflow;
      if (pu.dir == direction::output && !try_add(output, term, output)) return outcome::overflow;
    }
    // Amount in USD = numerator / (denominator × 10^scale × 10^9).
    std::string total_text;
    std::string input_text;
    std::string output_text;
    if (!to_text(total, scale, total_text) || !to_text(input, scale, input_text) ||
        !to_text(output, scale, output_text)) {
      return outcome::overflow;
    }
    out.total = make_amount(std::move(total_text));
    out.input = make_amount(std::move(input_text));
    out.output = make_amount(std::move(output_text));
    return outcome::priced;
  }

 private:
  bool scaled(std::size_t unit, int scale, Int& out) const {
    const auto& q = usage_.values[unit];
    if (q.mantissa == 0) {
      out = 0;
      return true;
    }
    Int factor;
    if (!power_of_ten_as(q.exponent + scale, factor)) return false;
    return try_mul(Int{q.mantissa}, factor, out);
  }

  /// Upstream's JavaScript treats a negative leaf within floating-point noise as 0, so that usage computed in
  /// doubles (0.3 − 0.1 − 0.2) is not rejected: |leaf| ≤ ε · max(1, |whole|, |parts|) · (n + 1).
  bool within_float_noise(const Int& leaf, const Int& whole, const Int& parts, std::size_t n, int scale) const {
    const long double unit = std::pow(10.0L, static_cast<long double>(scale));
    const long double magnitude = -approximate(leaf) / unit;
    const long double largest = std::max({1.0L, approximate(whole) / unit, approximate(parts) / unit});
    const long double epsilon = std::numeric_limits<double>::epsilon();
    return magnitude <= epsilon * largest * static_cast<long double>(n + 1);
  }

  std::string contradiction(const price_set::priced_unit& pu) const {
    std::string parts;
    for (const auto y : pu.descendants) {
      const auto unit = set_.priced_[y].unit;
      if (!usage_.reported.test(unit) || usage_.values[unit].mantissa == 0) continue;
      if (!parts.empty()) parts += " + ";
      parts += units_.at(unit).usage_key;
    }
    const auto& whole = units_.at(pu.unit).usage_key;
    return fmt::format("usage is contradictory: {} is more than {} (a part cannot exceed its whole)", parts, whole);
  }

  bool to_text(const Int& numerator, int scale, std::string& out) const {
    const int exponent = 9 + scale;  // nano-USD → USD, and the usage scale
    if (numerator == 0) {
      out = "0";
      return true;
    }
    if (set_.to_power_of_ten_ != 0) {
      Int digits;
      if (!try_mul(numerator, from_int128<Int>(set_.to_power_of_ten_), digits)) return false;
      out = place_point(digits_of(digits), set_.power_of_ten_exponent_ + exponent);
      return true;
    }
    Int denominator;
    if (!power_of_ten_as(exponent, denominator) ||
        !try_mul(denominator, from_int128<Int>(set_.denominator_), denominator)) {
      return false;
    }
    // Long division multiplies the remainder (< denominator) by 10: keep that in range too.
    Int headroom;
    if (!try_mul(denominator, Int{10}, headroom)) return false;
    out = divide_to_text(numerator, denominator);
    return true;
  }

  const price_set& set_;
  const exact_usage& usage_;
  const unit_registry& units_;
};

std::string price_set::calculate(const exact_usage& usage, const unit_registry& units, exact_cost& out) const {
  // Completeness (reference README §7): a missing key reads as 0 unless that would be a guess.
  std::array<std::uint16_t, max_units> positive{};
  std::size_t positive_count = 0;
  for (std::size_t u = 0; u < units.size(); ++u) {
    if (usage.reported.test(u) && usage.values[u].mantissa != 0) {
      positive[positive_count++] = static_cast<std::uint16_t>(u);
    }
  }
  for (const auto& pu : priced_) {
    if (pu.single_request || usage.reported.test(pu.unit)) continue;
    const auto& missing = units.at(pu.unit).usage_key;
    for (std::size_t i = 0; i < positive_count; ++i) {
      if (units.is_strict_ancestor(pu.unit, positive[i])) {
        return fmt::format("usage is incomplete: {} was reported but {}, which it is part of and which is priced, "
                           "was not (report the total)",
                           units.at(positive[i]).usage_key, missing);
      }
    }
    for (std::size_t i = 0; i < positive_count; ++i) {
      for (std::size_t j = i + 1; j < positive_count; ++j) {
        if ((units.dimensions_of(positive[i]) | units.dimensions_of(positive[j])) == units.dimensions_of(pu.unit)) {
          return fmt::format("usage is incomplete: {} and {} overlap in {}, which is priced but was not reported",
                             units.at(positive[i]).usage_key, units.at(positive[j]).usage_key, missing);
        }
      }
    }
  }

  std::string error;
  switch (exact_pricer<int128>(*this, usage, units).run(out, error)) {
    case exact_pricer<int128>::outcome::priced:
      return {};
    case exact_pricer<int128>::outcome::contradictory:
      return error;
    case exact_pricer<int128>::outcome::overflow:
      break;
  }
  // Only quantities far outside anything real (or with very many digits) get here; arbitrary precision is slow
  // but exact.
  if (exact_pricer<big_int>(*this, usage, units).run(out, error) == exact_pricer<big_int>::outcome::priced) {
    return {};
  }
  return error;
}

}  // namespace cg::pricing::detail
