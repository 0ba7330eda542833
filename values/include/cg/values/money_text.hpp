#pragma once
/// Exact money as text: decimal text to integer nano-USD (1e-9 USD) and back, never through a binary fraction.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace cg::values {

/// An amount of money in nano-USD. Sums are integer sums.
using nano_usd = std::int64_t;

/// A decimal number as its text spells it: value = ±(integer digits, then fraction digits) × 10^(exponent -
/// fraction.size()). The views point into the text that was read.
struct decimal_parts {
  bool negative = false;
  std::string_view integer;   ///< digits before the point (may be empty in lenient spellings such as `.5`)
  std::string_view fraction;  ///< digits after the point
  std::int64_t exponent = 0;  ///< the `e` part; saturates far beyond any meaningful value

  /// True when every digit is zero (`-0`, `0.000`, `0e5`).
  bool is_zero() const noexcept;
};

/// Why a text is not a JSON number, in the order the checks run (a caller can name the first fault).
enum class decimal_fault {
  none,
  empty,
  not_a_number,
  leading_zero,
  no_fraction_digits,
  empty_exponent,
  exponent_out_of_range,
};

/// Reads `text` under the JSON number grammar, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, nothing around
/// it. An exponent beyond ±`max_exponent` is refused; without a limit, a huge one saturates (it then only ever
/// means zero or too large).
decimal_fault read_json_decimal(std::string_view text, decimal_parts& out,
                                std::int64_t max_exponent = std::numeric_limits<std::int64_t>::max());

/// The amount in nano-USD, rounded once, half to even, when it has digits below the nano-USD; nullopt when it
/// leaves the 64-bit range.
std::optional<nano_usd> to_nano_usd(const decimal_parts& number);

/// The shortest decimal text that reads back as the same double (std::to_chars): 0.15 → "0.15", 1e-7 → "1e-07".
/// What Python and JavaScript print for a double, so rounding that text once gives the amount its writer saw,
/// without the error a `value * 1e9` would add.
std::string shortest_decimal(double value);

/// Exact decimal text of an amount in USD with nine decimals: 2250 -> "0.000002250", -5 -> "-0.000000005".
std::string format_usd(nano_usd amount);

}  // namespace cg::values
