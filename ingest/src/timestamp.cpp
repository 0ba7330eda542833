// parse_timestamp and format_timestamp of cg/ingest/validation.hpp: ISO-8601 in, ISO-8601 UTC with `Z` out.
// The calendar arithmetic is std::chrono's (proleptic Gregorian), so leap years need no code of their own here.

#include "cg/ingest/validation.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace cg::ingest {

namespace {

namespace chrono = std::chrono;

constexpr std::int64_t us_per_second = 1'000'000;
constexpr std::int64_t us_per_minute = 60 * us_per_second;
constexpr std::int64_t us_per_day = 86'400 * us_per_second;

/// Reads exactly `count` ASCII digits at `pos`.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) noexcept {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

constexpr std::int64_t days_since_epoch(const chrono::year_month_day& date) noexcept {
  return chrono::sys_days{date}.time_since_epoch().count();
}

// parse_timestamp reads four-digit years only, so format_timestamp promises a round trip within the same range.
constexpr std::int64_t first_us = days_since_epoch(chrono::year{0} / 1 / 1) * us_per_day;
constexpr std::int64_t last_us = days_since_epoch(chrono::year{10000} / 1 / 1) * us_per_day - 1;

void write_digits(char* out, unsigned value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day)) {
    return std::nullopt;
  }
  const chrono::year_month_day date{chrono::year{year}, chrono::month{static_cast<unsigned>(month)},
                                    chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;  // month 13, February 30, February 29 of a common year
  const std::int64_t midnight_us = days_since_epoch(date) * us_per_day;
  if (text.size() == 10) return midnight_us;

  // RFC 3339 allows a space (what Python's str(datetime) writes) and lower-case `t`/`z`.
  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(text, 11, 2, hour) || text.size() < 19 || text[13] != ':' || !read_digits(text, 14, 2, minute) ||
      text[16] != ':' || !read_digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  // 24:00 and leap second 60 are rejected: neither has one obvious instant to store.
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  std::size_t pos = 19;
  std::int64_t fraction_us = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    const std::size_t count = pos - first;
    if (count == 0 || count > 9) return std::nullopt;
    // Storage keeps microseconds; digits beyond the sixth are truncated (towards the earlier instant).
    for (std::size_t i = 0; i < 6; ++i) {
      fraction_us = fraction_us * 10 + (i < count ? text[first + i] - '0' : 0);
    }
  }

  // A time without a zone is rejected (API.md): which zone it meant cannot be known.
  if (pos >= text.size()) return std::nullopt;
  std::int64_t offset_us = 0;
  const char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!read_digits(text, pos + 1, 2, offset_hours)) return std::nullopt;
    pos += 3;
    if (pos < text.size() && text[pos] == ':') ++pos;  // +05:30 and the basic form +0530 (strftime's %z)
    if (!read_digits(text, pos, 2, offset_minutes)) return std::nullopt;
    pos += 2;
    if (offset_hours > 23 || offset_minutes > 59) return std::nullopt;
    offset_us = (offset_hours * 60 + offset_minutes) * us_per_minute;
    if (zone == '-') offset_us = -offset_us;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;

  const std::int64_t time_of_day_us = ((hour * 60 + minute) * 60 + second) * us_per_second + fraction_us;
  // Local time minus its offset is UTC.
  return midnight_us + time_of_day_us - offset_us;
}

std::string format_timestamp(std::int64_t unix_us) {
  // Outside years 0000-9999 nothing parses and nothing is stored; clamp rather than print a five-digit year.
  unix_us = std::clamp(unix_us, first_us, last_us);
  std::int64_t day_count = unix_us / us_per_day;
  std::int64_t time_of_day_us = unix_us % us_per_day;
  if (time_of_day_us < 0) {  // division truncates towards zero; before 1970 the day starts earlier
    time_of_day_us += us_per_day;
    --day_count;
  }
  const chrono::year_month_day date{chrono::sys_days{chrono::days{day_count}}};
  const auto seconds = static_cast<unsigned>(time_of_day_us / us_per_second);
  const auto micros = static_cast<unsigned>(time_of_day_us % us_per_second);

  char buffer[32];  // "YYYY-MM-DDTHH:MM:SS.ffffffZ" is 27 characters
  write_digits(buffer, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  buffer[4] = '-';
  write_digits(buffer + 5, static_cast<unsigned>(date.month()), 2);
  buffer[7] = '-';
  write_digits(buffer + 8, static_cast<unsigned>(date.day()), 2);
  buffer[10] = 'T';
  write_digits(buffer + 11, seconds / 3600, 2);
  buffer[13] = ':';
  write_digits(buffer + 14, seconds / 60 % 60, 2);
  buffer[16] = ':';
  write_digits(buffer + 17, seconds % 60, 2);
  std::size_t size = 19;
  if (micros != 0) {
    buffer[size++] = '.';
    write_digits(buffer + size, micros, 6);
    size += 6;
  }
  buffer[size++] = 'Z';
  return std::string(buffer, size);
}

}  // namespace cg::ingest
