#include "calendar.hpp"

#include "cg/values/time.hpp"
#include "cg/values/timestamp.hpp"

namespace cg::pricing::detail {
namespace {

/// Parses exactly `count` decimal digits at `pos`; -1 when they are not all digits.
int fixed_digits(std::string_view text, std::size_t pos, std::size_t count) noexcept {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<std::int64_t> parse_start_date(std::string_view text) {
  // A date and nothing after it: no separator is allowed to start a time.
  return values::parse_timestamp(text, values::timestamp_rules{.separators = "", .min_year = 1});
}

std::optional<std::int64_t> parse_time_of_day(std::string_view text) {
  if (text.size() < 9 || text[2] != ':' || text[5] != ':') return std::nullopt;
  const int hours = fixed_digits(text, 0, 2);
  const int minutes = fixed_digits(text, 3, 2);
  const int seconds = fixed_digits(text, 6, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return std::nullopt;
  std::int64_t micros = ((hours * 60LL + minutes) * 60 + seconds) * values::us_per_second;
  std::size_t pos = 8;
  if (text[pos] == '.') {
    ++pos;
    std::int64_t fraction = 0;
    std::size_t count = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (++count > 6) return std::nullopt;  // finer than the microsecond timestamps it is compared with
      fraction = fraction * 10 + (text[pos++] - '0');
    }
    if (count == 0) return std::nullopt;
    for (std::size_t i = count; i < 6; ++i) fraction *= 10;
    micros += fraction;
  }
  if (pos >= text.size()) return std::nullopt;  // a zone is required: a bare local time is ambiguous
  std::int64_t offset = 0;
  if (text[pos] == 'Z' && pos + 1 == text.size()) {
    offset = 0;
  } else if ((text[pos] == '+' || text[pos] == '-') && pos + 6 == text.size() && text[pos + 3] == ':') {
    const int offset_hours = fixed_digits(text, pos + 1, 2);
    const int offset_minutes = fixed_digits(text, pos + 4, 2);
    if (offset_hours < 0 || offset_hours > 23 || offset_minutes < 0 || offset_minutes > 59) return std::nullopt;
    offset = (offset_hours * 60LL + offset_minutes) * 60 * values::us_per_second;
    if (text[pos] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  // Local time = UTC + offset, so UTC = local - offset.
  return utc_time_of_day(micros - offset);
}

std::int64_t utc_time_of_day(std::int64_t timestamp_us) noexcept {
  const std::int64_t rest = timestamp_us % values::us_per_day;
  return rest < 0 ? rest + values::us_per_day : rest;
}

}  // namespace cg::pricing::detail
