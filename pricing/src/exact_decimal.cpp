#include "exact_decimal.hpp"

#include "cg/values/money_text.hpp"

#include <cstddef>

namespace cg::pricing::detail {
namespace {

/// Why a price text is refused, to follow "price '<text>' ".
std::string_view fault_reason(values::decimal_fault fault) noexcept {
  switch (fault) {
    case values::decimal_fault::empty: return "is empty";
    case values::decimal_fault::leading_zero: return "has a leading zero";
    case values::decimal_fault::no_fraction_digits: return "has no digits after the decimal point";
    case values::decimal_fault::empty_exponent: return "has an empty exponent";
    case values::decimal_fault::exponent_out_of_range: return "has an out-of-range exponent";
    case values::decimal_fault::not_a_number:
    case values::decimal_fault::none: break;
  }
  return "is not a decimal number";
}

/// Exponents beyond this are no price anyone means, and would only make the arithmetic below slow.
constexpr std::int64_t max_exponent = 400;

}  // namespace

std::optional<exact_decimal> parse_decimal(std::string_view text, std::string& why) {
  // The JSON number grammar without a sign. Strict, so that what the file says is what is priced.
  if (!text.empty() && text[0] == '-') {
    why = "is negative";
    return std::nullopt;
  }
  values::decimal_parts number;
  if (const auto fault = values::read_json_decimal(text, number, max_exponent); fault != values::decimal_fault::none) {
    why = fault_reason(fault);
    return std::nullopt;
  }
  const std::string_view int_digits = number.integer;
  const std::string_view frac_digits = number.fraction;
  const long exponent = static_cast<long>(number.exponent);

  // All significant digits, then scale = number of fraction digits - exponent.
  std::string digits;
  digits.reserve(int_digits.size() + frac_digits.size());
  digits.append(int_digits).append(frac_digits);
  long scale = static_cast<long>(frac_digits.size()) - exponent;
  // Trailing zeros carry no value; dropping them keeps the representation canonical and the mantissa small.
  while (scale > 0 && digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    --scale;
  }
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return exact_decimal{0, 0};
  digits.erase(0, first);
  while (scale < 0) {  // "15e2" → 1500: keep scale non-negative
    digits.push_back('0');
    ++scale;
  }
  if (scale > max_decimal_scale) {
    why = "has more than 30 decimals";
    return std::nullopt;
  }
  if (digits.size() > 18) {  // 18 digits always fit an int64; 19 only sometimes: refuse rather than guess
    why = "has more than 18 significant digits";
    return std::nullopt;
  }
  std::int64_t mantissa = 0;
  for (char c : digits) mantissa = mantissa * 10 + (c - '0');
  return exact_decimal{mantissa, static_cast<int>(scale)};
}

bool checked_mul(int128 a, int128 b, int128& out) noexcept { return !__builtin_mul_overflow(a, b, &out); }

bool checked_add(int128 a, int128 b, int128& out) noexcept { return !__builtin_add_overflow(a, b, &out); }

bool power_of_ten(int exponent, int128& out) noexcept {
  if (exponent < 0) return false;
  int128 value = 1;
  for (int i = 0; i < exponent; ++i) {
    if (!checked_mul(value, 10, value)) return false;
  }
  out = value;
  return true;
}

int128 gcd(int128 a, int128 b) noexcept {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const int128 r = a % b;
    a = b;
    b = r;
  }
  return a;
}

int128 divide_round_half_even(int128 num, int128 den) noexcept {
  const int128 quotient = num / den;
  const int128 remainder = num % den;
  // Compare 2·remainder with den without forming 2·remainder (it could overflow when den is near the top).
  const int128 other = den - remainder;
  if (remainder > other) return quotient + 1;
  if (remainder == other && quotient % 2 != 0) return quotient + 1;
  return quotient;
}

}  // namespace cg::pricing::detail
