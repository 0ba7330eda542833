#include "cg/values/money_text.hpp"

#include <array>
#include <charconv>
#include <cstddef>
#include <limits>

namespace cg::values {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Beyond this an exponent only ever means "zero" or "too large"; saturating keeps the arithmetic in range.
constexpr std::int64_t exponent_cap = 1'000'000;

std::size_t digits_from(std::string_view text, std::size_t pos) noexcept {
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  return pos;
}

}  // namespace

bool decimal_parts::is_zero() const noexcept {
  return integer.find_first_not_of('0') == std::string_view::npos &&
         fraction.find_first_not_of('0') == std::string_view::npos;
}

decimal_fault read_json_decimal(std::string_view text, decimal_parts& out, std::int64_t max_exponent) {
  if (text.empty()) return decimal_fault::empty;
  decimal_parts number;
  std::size_t pos = 0;
  number.negative = text[0] == '-';
  if (number.negative) ++pos;
  const std::size_t int_end = digits_from(text, pos);
  if (int_end == pos) return decimal_fault::not_a_number;
  if (int_end - pos > 1 && text[pos] == '0') return decimal_fault::leading_zero;
  number.integer = text.substr(pos, int_end - pos);
  pos = int_end;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_end = digits_from(text, pos + 1);
    if (frac_end == pos + 1) return decimal_fault::no_fraction_digits;
    number.fraction = text.substr(pos + 1, frac_end - pos - 1);
    pos = frac_end;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) negative = text[pos++] == '-';
    const std::size_t exp_end = digits_from(text, pos);
    if (exp_end == pos) return decimal_fault::empty_exponent;
    for (; pos < exp_end; ++pos) {
      if (number.exponent < exponent_cap) number.exponent = number.exponent * 10 + (text[pos] - '0');
    }
    if (number.exponent > max_exponent) return decimal_fault::exponent_out_of_range;
    if (negative) number.exponent = -number.exponent;
  }
  if (pos != text.size()) return decimal_fault::not_a_number;
  out = number;
  return decimal_fault::none;
}

std::optional<nano_usd> to_nano_usd(const decimal_parts& number) {
  // The digits, integer part then fraction, read as one sequence d[0..length).
  const std::size_t int_length = number.integer.size();
  const std::size_t length = int_length + number.fraction.size();
  const auto digit = [&](std::size_t i) -> unsigned {
    const char c = i < int_length ? number.integer[i] : number.fraction[i - int_length];
    return static_cast<unsigned>(c - '0');
  };
  std::size_t first = 0;
  while (first < length && digit(first) == 0) ++first;
  if (first == length) return 0;
  std::size_t last = length - 1;
  while (digit(last) == 0) --last;

  // value = significand (digits first..last) x 10^power nano-USD.
  const auto significant = static_cast<std::int64_t>(last - first + 1);
  const std::int64_t power = number.exponent - static_cast<std::int64_t>(number.fraction.size()) + 9 +
                             static_cast<std::int64_t>(length - 1 - last);
  const std::int64_t integer_digits = significant + power;  // digits left of the nano-USD point
  if (integer_digits > 19) return std::nullopt;             // at least 10^19 nano-USD

  std::uint64_t nano = 0;  // 19 digits always fit
  if (power >= 0) {
    for (std::size_t i = first; i <= last; ++i) nano = nano * 10 + digit(i);
    for (std::int64_t i = 0; i < power; ++i) nano *= 10;
  } else if (integer_digits >= 0) {
    // Digits beyond the ninth decimal are rounded half-to-even, once. Below a tenth of a nano-USD (integer_digits
    // < 0) everything rounds to zero.
    const auto kept = static_cast<std::size_t>(integer_digits);
    for (std::size_t i = first; i < first + kept; ++i) nano = nano * 10 + digit(i);
    const unsigned rounding = digit(first + kept);
    // `last` holds a non-zero digit, so anything after the rounding digit makes it more than a half.
    const bool more = first + kept < last;
    if (rounding > 5 || (rounding == 5 && (more || nano % 2 == 1))) ++nano;
  }
  if (nano > static_cast<std::uint64_t>(std::numeric_limits<nano_usd>::max())) return std::nullopt;
  const auto magnitude = static_cast<nano_usd>(nano);
  return number.negative ? -magnitude : magnitude;
}

std::string shortest_decimal(double value) {
  std::array<char, 32> buffer{};  // the longest shortest form of a double has 24 characters
  const auto end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value).ptr;
  return std::string(buffer.data(), end);
}

std::string format_usd(nano_usd amount) {
  // Work on the magnitude as unsigned so that the most negative amount formats too.
  const bool negative = amount < 0;
  const std::uint64_t magnitude =
      negative ? std::uint64_t{0} - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  std::string digits = std::to_string(magnitude);
  if (digits.size() < 10) digits.insert(0, 10 - digits.size(), '0');
  digits.insert(digits.size() - 9, 1, '.');
  if (negative) digits.insert(0, 1, '-');
  return digits;
}

}  // namespace cg::values
