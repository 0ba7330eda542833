// parse_usd of cg/ingest/validation.hpp: decimal text to integer nano-USD without ever going through a double.

#include "cg/ingest/validation.hpp"

#include <cstddef>

namespace cg::ingest {

namespace {

/// One billion USD: no single LLM call costs that, and 10^18 nano-USD still leaves int64 sums ninefold headroom.
constexpr std::uint64_t max_nano_usd = 1'000'000'000'000'000'000ULL;

/// Exponents beyond this only ever mean "zero" or "too large"; capping keeps the arithmetic in range.
constexpr std::int64_t exponent_cap = 1'000'000;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::int64_t> parse_usd(std::string_view text) {
  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::size_t pos = 0;
  const bool negative = pos < text.size() && text[pos] == '-';
  if (negative) ++pos;
  const std::size_t int_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  const std::size_t int_length = pos - int_begin;
  if (int_length == 0 || (int_length > 1 && text[int_begin] == '0')) return std::nullopt;
  std::size_t frac_begin = pos;
  std::size_t frac_length = 0;
  if (pos < text.size() && text[pos] == '.') {
    frac_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    frac_length = pos - frac_begin;
    if (frac_length == 0) return std::nullopt;
  }
  std::int64_t exponent = 0;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool exponent_negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) exponent_negative = text[pos++] == '-';
    const std::size_t exponent_begin = pos;
    while (pos < text.size() && is_digit(text[pos])) {
      if (exponent < exponent_cap) exponent = exponent * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == exponent_begin) return std::nullopt;
    if (exponent_negative) exponent = -exponent;
  }
  if (pos != text.size()) return std::nullopt;

  // The digits, integer part then fraction, read as one sequence d[0..length).
  const std::size_t length = int_length + frac_length;
  const auto digit = [&](std::size_t i) -> unsigned {
    const char c = i < int_length ? text[int_begin + i] : text[frac_begin + i - int_length];
    return static_cast<unsigned>(c - '0');
  };
  std::size_t first = 0;
  while (first < length && digit(first) == 0) ++first;
  if (first == length) return 0;  // zero, "-0" included
  if (negative) return std::nullopt;
  std::size_t last = length - 1;
  while (digit(last) == 0) --last;

  // value = significand (digits first..last) x 10^power nano-USD.
  const auto significant = static_cast<std::int64_t>(last - first + 1);
  const std::int64_t power =
      exponent - static_cast<std::int64_t>(frac_length) + 9 + static_cast<std::int64_t>(length - 1 - last);
  const std::int64_t integer_digits = significant + power;  // digits left of the nano-USD point
  if (integer_digits > 19) return std::nullopt;             // at least 10^19 nano-USD

  std::uint64_t nano = 0;
  if (power >= 0) {
    for (std::size_t i = first; i <= last; ++i) nano = nano * 10 + digit(i);
    for (std::int64_t i = 0; i < power; ++i) nano *= 10;  // at most 19 digits in all: no overflow
  } else {
    // Digits beyond the ninth decimal are rounded half-to-even, once.
    const std::size_t kept = integer_digits > 0 ? static_cast<std::size_t>(integer_digits) : 0;
    for (std::size_t i = first; i < first + kept; ++i) nano = nano * 10 + digit(i);
    if (integer_digits >= 0) {
      const unsigned rounding = digit(first + kept);
      // `last` holds a non-zero digit, so anything after the rounding digit makes it more than a half.
      const bool more = first + kept < last;
      if (rounding > 5 || (rounding == 5 && (more || nano % 2 == 1))) ++nano;
    }
    // integer_digits < 0: below a tenth of a nano-USD, which rounds to zero.
  }
  if (nano > max_nano_usd) return std::nullopt;
  return static_cast<std::int64_t>(nano);
}

}  // namespace cg::ingest
