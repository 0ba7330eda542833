#include "v03_values.hpp"

#include "cg/values/money_text.hpp"
#include "cg/values/text.hpp"
#include "cg/values/time.hpp"
#include "cg/values/timestamp.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace cg::storage::v03 {

using values::us_per_second;

// ---- time ---------------------------------------------------------------------------------------------------------

// A number is a unix time; its magnitude tells the unit. Seconds below 1e11 reach the year 5138, so the ranges
// cannot be confused for any plausible date.
std::optional<std::int64_t> unix_number_to_us(std::int64_t value) {
  if (value == std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  const std::int64_t magnitude = value < 0 ? -value : value;
  if (magnitude < 100'000'000'000) return value * us_per_second;      // seconds
  if (magnitude < 100'000'000'000'000) return value * 1000;           // milliseconds
  if (magnitude < 100'000'000'000'000'000) return value;              // microseconds
  return value / 1000;                                                // nanoseconds
}

std::optional<std::int64_t> unix_number_to_us(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  const double magnitude = std::fabs(value);
  double us = 0;
  if (magnitude < 1e11) {
    us = value * 1e6;
  } else if (magnitude < 1e14) {
    us = value * 1e3;
  } else if (magnitude < 1e17) {
    us = value;
  } else {
    us = value / 1e3;
  }
  if (std::fabs(us) >= 9e18) return std::nullopt;
  return std::llround(us);
}

namespace {

template <typename Number>
std::optional<Number> whole_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view trim(std::string_view text) { return values::trim(text, " \t\n\r"); }

std::optional<std::int64_t> whole_integer(std::string_view text) { return whole_number<std::int64_t>(trim(text)); }

std::optional<std::int64_t> text_time_to_us(std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return std::nullopt;
  if (auto integer = whole_number<std::int64_t>(text)) return unix_number_to_us(*integer);
  if (auto real = whole_number<double>(text)) return unix_number_to_us(*real);
  // ISO-8601 as Python and SQLite write it; without an offset the time is UTC: v0.3 stored utcnow() and SQLite's
  // CURRENT_TIMESTAMP, both UTC.
  return values::parse_timestamp(text, values::lenient_iso8601_timestamp);
}

// ---- money --------------------------------------------------------------------------------------------------------

// Decimal text as Python printed a REAL or a client sent it: the JSON grammar loosened (a `+` sign, leading zeros,
// `.5` and `5.` are read too), the exponent within ±400. The rounding to nano-USD is cg::values'.
std::optional<std::int64_t> decimal_to_nano(std::string_view raw) {
  std::string_view text = trim(raw);
  values::decimal_parts number;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    number.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  const std::size_t end = std::min(text.find_first_not_of("0123456789."), text.size());
  const std::string_view mantissa = text.substr(0, end);
  const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
  number.integer = mantissa.substr(0, point);
  number.fraction = mantissa.substr(std::min(point + 1, mantissa.size()));
  if (number.fraction.find('.') != std::string_view::npos) return std::nullopt;  // a second point
  if (number.integer.empty() && number.fraction.empty()) return std::nullopt;
  if (end < text.size()) {
    if (text[end] != 'e' && text[end] != 'E') return std::nullopt;
    std::string_view power = text.substr(end + 1);
    if (!power.empty() && power.front() == '+') power.remove_prefix(1);
    const auto value = whole_number<int>(power);
    if (!value || *value < -400 || *value > 400) return std::nullopt;
    number.exponent = *value;
  }
  return values::to_nano_usd(number);
}

}  // namespace cg::storage::v03
