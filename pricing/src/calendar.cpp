#include "calendar.hpp"

#include <chrono>

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
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const int year = fixed_digits(text, 0, 4);
  const int month = fixed_digits(text, 5, 2);
  const int day = fixed_digits(text, 8, 2);
  if (year < 1 || month < 1 || day < 1) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;  // 2025-02-30, month 13, ...
  const auto days = std::chrono::sys_days{date}.time_since_epoch().count();
  return static_cast<std::int64_t>(days) * micros_per_day;
}

std::optional<std::int64_t> parse_time_of_day(std::string_view text) {
  if (text.size() < 9 || text[2] != ':' || text[5] != ':') return std::nullopt;
  const int hours = fixed_digits(text, 0, 2);
  const int minutes = fixed_digits(text, 3, 2);
  const int seconds = fixed_digits(text, 6, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return std::nullopt;
  std::int64_t micros = ((hours * 60LL + minutes) * 60 + seconds) * 1'000'000;
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
    offset = (offset_hours * 60LL + offset_minutes) * 60 * 1'000'000;
    if (text[pos] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  // Local time = UTC + offset, so UTC = local - offset.
  return utc_time_of_day(micros - offset);
}

std::optional<std::int64_t> parse_utc_timestamp(std::string_view text) {
  if (text.size() < 20 || text[10] != 'T') return std::nullopt;
  const auto day = parse_start_date(text.substr(0, 10));
  if (!day) return std::nullopt;
  const std::string_view time = text.substr(11);
  if (time[2] != ':' || time[5] != ':') return std::nullopt;
  const int hours = fixed_digits(time, 0, 2);
  const int minutes = fixed_digits(time, 3, 2);
  const int seconds = fixed_digits(time, 6, 2);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return std::nullopt;
  std::int64_t micros = ((hours * 60LL + minutes) * 60 + seconds) * 1'000'000;
  std::size_t pos = 8;
  if (pos < time.size() && time[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    std::int64_t fraction = 0;
    while (pos < time.size() && time[pos] >= '0' && time[pos] <= '9') {
      if (++count > 9) return std::nullopt;
      if (count <= 6) fraction = fraction * 10 + (time[pos] - '0');
      ++pos;
    }
    if (count == 0) return std::nullopt;
    for (std::size_t i = count; i < 6; ++i) fraction *= 10;
    micros += fraction;
  }
  std::int64_t offset = 0;
  const std::string_view zone = time.substr(pos);
  if (zone == "Z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int offset_hours = fixed_digits(zone, 1, 2);
    const int offset_minutes = fixed_digits(zone, 4, 2);
    if (offset_hours < 0 || offset_hours > 23 || offset_minutes < 0 || offset_minutes > 59) return std::nullopt;
    offset = (offset_hours * 60LL + offset_minutes) * 60 * 1'000'000;
    if (zone[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  return *day + micros - offset;
}

std::int64_t utc_time_of_day(std::int64_t timestamp_us) noexcept {
  const std::int64_t rest = timestamp_us % micros_per_day;
  return rest < 0 ? rest + micros_per_day : rest;
}

}  // namespace cg::pricing::detail
