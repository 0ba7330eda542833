#include "exact_decimal.hpp"

#include <cstddef>

namespace cg::pricing::detail {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<exact_decimal> parse_decimal(std::string_view text, std::string& why) {
  // JSON number grammar without a sign: int [frac] [exp]. Strict, so that what the file says is what is priced.
  std::size_t pos = 0;
  const auto digits_from = [&](std::size_t start) {
    std::size_t end = start;
    while (end < text.size() && is_digit(text[end])) ++end;
    return end;
  };
  if (text.empty()) {
    why = "is empty";
    return std::nullopt;
  }
  if (text[0] == '-') {
    why = "is negative";
    return std::nullopt;
  }
  const std::size_t int_end = digits_from(0);
  if (int_end == 0) {
    why = "is not a decimal number";
    return std::nullopt;
  }
  if (int_end > 1 && text[0] == '0') {
    why = "has a leading zero";
    return std::nullopt;
  }
  std::string_view int_digits = text.substr(0, int_end);
  std::string_view frac_digits;
  pos = int_end;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_end = digits_from(pos + 1);
    if (frac_end == pos + 1) {
      why = "has no digits after the decimal point";
      return std::nullopt;
    }
    frac_digits = text.substr(pos + 1, frac_end - pos - 1);
    pos = frac_end;
  }
  long exponent = 0;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) negative = text[pos++] == '-';
    const std::size_t exp_end = digits_from(pos);
    if (exp_end == pos) {
      why = "has an empty exponent";
      return std::nullopt;
    }
    for (std::size_t i = pos; i < exp_end; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 400) {
        why = "has an out-of-range exponent";
        return std::nullopt;
      }
    }
    if (negative) exponent = -exponent;
    pos = exp_end;
  }
  if (pos != text.size()) {
    why = "is not a decimal number";
    return std::nullopt;
  }

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
