// parse_timestamp and format_timestamp of cg/values/timestamp.hpp. The calendar arithmetic is std::chrono's
// (proleptic Gregorian), so leap years need no code of their own here.

#include "cg/values/timestamp.hpp"

#include "cg/values/time.hpp"

#include <algorithm>
#include <chrono>

namespace cg::values {

namespace {

namespace chrono = std::chrono;

/// Reads a timestamp's text left to right.
class text_cursor {
 public:
  explicit text_cursor(std::string_view text) : text_(text) {}

  bool done() const noexcept { return pos_ == text_.size(); }

  bool eat(char c) noexcept {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  /// Consumes the next character when it is one of `set`.
  bool eat_any(std::string_view set, char& which) noexcept {
    if (pos_ >= text_.size() || set.find(text_[pos_]) == std::string_view::npos) return false;
    which = text_[pos_++];
    return true;
  }

  /// Exactly `count` ASCII digits.
  bool digits(int count, int& out) noexcept {
    int value = 0;
    for (int i = 0; i < count; ++i) {
      if (!next_is_digit()) return false;
      value = value * 10 + (text_[pos_++] - '0');
    }
    out = value;
    return true;
  }

  bool next_is_digit() const noexcept { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

constexpr std::int64_t days_since_epoch(const chrono::year_month_day& date) noexcept {
  return chrono::sys_days{date}.time_since_epoch().count();
}

// Only four-digit years parse, so format_timestamp promises a round trip within the same range.
constexpr std::int64_t first_us = days_since_epoch(chrono::year{0} / 1 / 1) * us_per_day;
constexpr std::int64_t last_us = days_since_epoch(chrono::year{10000} / 1 / 1) * us_per_day - 1;

/// `YYYY-MM-DD` → unix µs of its midnight UTC.
std::optional<std::int64_t> read_date(text_cursor& in, const timestamp_rules& rules) {
  int year = 0, month = 0, day = 0;
  if (!in.digits(4, year) || !in.eat('-') || !in.digits(2, month) || !in.eat('-') || !in.digits(2, day)) {
    return std::nullopt;
  }
  if (year < rules.min_year) return std::nullopt;
  const chrono::year_month_day date{chrono::year{year}, chrono::month{static_cast<unsigned>(month)},
                                    chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;  // month 13, February 30, February 29 of a common year
  return days_since_epoch(date) * us_per_day;
}

/// `HH:MM[:SS][.fraction]` → µs since midnight.
std::optional<std::int64_t> read_clock(text_cursor& in, const timestamp_rules& rules) {
  int hour = 0, minute = 0, second = 0;
  if (!in.digits(2, hour) || !in.eat(':') || !in.digits(2, minute)) return std::nullopt;
  const bool has_seconds = in.eat(':');
  if (has_seconds ? !in.digits(2, second) : !rules.seconds_optional) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  std::int64_t fraction_us = 0;
  if (in.eat('.') || (rules.comma_fraction && in.eat(','))) {
    std::size_t count = 0;
    std::int64_t scale = 100'000;
    for (int digit = 0; in.next_is_digit(); ++count) {
      in.digits(1, digit);
      fraction_us += digit * scale;  // past the sixth digit the scale is 0: truncated
      scale /= 10;
    }
    if (count == 0 || (rules.max_fraction_digits != 0 && count > rules.max_fraction_digits)) return std::nullopt;
  }
  return ((hour * 60 + minute) * 60 + second) * us_per_second + fraction_us;
}

/// The zone, `Z` or `±HH[[:]MM]`, as the offset of local time from UTC in µs; what follows must be the end.
std::optional<std::int64_t> read_zone(text_cursor& in, const timestamp_rules& rules) {
  if (in.done()) return rules.zone_optional ? std::optional<std::int64_t>(0) : std::nullopt;
  if (in.eat('Z') || (rules.lower_case_z && in.eat('z'))) {
    return in.done() ? std::optional<std::int64_t>(0) : std::nullopt;
  }
  char sign = 0;
  if (!in.eat_any("+-", sign)) return std::nullopt;
  int hours = 0, minutes = 0;
  if (!in.digits(2, hours)) return std::nullopt;
  if (!(rules.hour_offset && in.done())) {
    if (!in.eat(':') && !rules.basic_offset) return std::nullopt;
    if (!in.digits(2, minutes)) return std::nullopt;
  }
  if (!in.done() || hours > 23 || minutes > 59) return std::nullopt;
  const std::int64_t offset = (hours * 60 + minutes) * us_per_minute;
  return sign == '-' ? -offset : offset;
}

void write_digits(char* out, unsigned value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::optional<std::int64_t> parse_timestamp(std::string_view text, const timestamp_rules& rules) {
  text_cursor in(text);
  const auto midnight_us = read_date(in, rules);
  if (!midnight_us) return std::nullopt;
  if (in.done()) return rules.date_only ? midnight_us : std::nullopt;
  char separator = 0;
  if (!in.eat_any(rules.separators, separator)) return std::nullopt;
  const auto clock_us = read_clock(in, rules);
  if (!clock_us) return std::nullopt;
  const auto offset_us = read_zone(in, rules);
  if (!offset_us) return std::nullopt;
  return *midnight_us + *clock_us - *offset_us;
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

}  // namespace cg::values
