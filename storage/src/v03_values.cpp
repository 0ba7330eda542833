#include "v03_values.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace cg::storage::v03 {

namespace {
constexpr std::int64_t us_per_second = 1'000'000;
}  // namespace

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

class text_cursor {
 public:
  explicit text_cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool digits(int count, int& out) {
    out = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return false;
      out = out * 10 + (text_[pos_++] - '0');
    }
    return true;
  }
  bool next_is_digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// ISO-8601 as Python and SQLite write it: `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM[:SS[.ffffff]]`, then
// optionally `Z` or an offset `±HH[:MM]`. Without an offset the time is UTC: v0.3 stored utcnow() and SQLite's
// CURRENT_TIMESTAMP, both UTC. Digits past the microsecond are dropped.
std::optional<std::int64_t> iso_to_us(std::string_view text) {
  text_cursor in(text);
  int year = 0, month = 0, day = 0;
  if (!in.digits(4, year) || !in.eat('-') || !in.digits(2, month) || !in.eat('-') || !in.digits(2, day)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  const auto days = static_cast<std::int64_t>(std::chrono::sys_days{date}.time_since_epoch().count());
  std::int64_t us = days * 86'400 * us_per_second;
  if (in.done()) return us;

  if (!in.eat('T') && !in.eat('t') && !in.eat(' ')) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  if (!in.digits(2, hour) || !in.eat(':') || !in.digits(2, minute)) return std::nullopt;
  if (in.eat(':') && !in.digits(2, second)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::int64_t fraction_us = 0;
  if (in.eat('.') || in.eat(',')) {
    if (!in.next_is_digit()) return std::nullopt;
    std::int64_t scale = 100'000;
    int digit = 0;
    while (in.next_is_digit()) {
      in.digits(1, digit);
      fraction_us += digit * scale;
      scale /= 10;
    }
  }
  us += ((hour * 60 + minute) * 60 + second) * us_per_second + fraction_us;

  if (in.eat('Z') || in.eat('z')) return in.done() ? std::optional(us) : std::nullopt;
  if (in.done()) return us;
  int sign = 0;
  if (in.eat('+')) {
    sign = 1;
  } else if (in.eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  int offset_hours = 0, offset_minutes = 0;
  if (!in.digits(2, offset_hours)) return std::nullopt;
  if (!in.done()) {
    in.eat(':');
    if (!in.digits(2, offset_minutes)) return std::nullopt;
  }
  if (!in.done() || offset_hours > 23 || offset_minutes > 59) return std::nullopt;
  return us - sign * (offset_hours * 60 + offset_minutes) * 60 * us_per_second;
}

template <typename Number>
std::optional<Number> whole_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::int64_t> whole_integer(std::string_view text) { return whole_number<std::int64_t>(trim(text)); }

std::optional<std::int64_t> text_time_to_us(std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return std::nullopt;
  if (auto integer = whole_number<std::int64_t>(text)) return unix_number_to_us(*integer);
  if (auto real = whole_number<double>(text)) return unix_number_to_us(*real);
  return iso_to_us(text);
}

// ---- money --------------------------------------------------------------------------------------------------------

// Decimal text (`0.0000045`, `4.5e-06`, `-3`) to nano-USD, rounded once, half to even, without passing through a
// binary fraction.
std::optional<std::int64_t> decimal_to_nano(std::string_view raw) {
  std::string_view text = trim(raw);
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::string digits;
  int exponent = 0;  // value = digits * 10^exponent
  bool seen_point = false;
  bool any_digit = false;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (seen_point) --exponent;
      if (!(digits.empty() && c == '0')) digits.push_back(c);  // leading zeros carry no value
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E') return std::nullopt;
    std::string_view power = text.substr(i + 1);
    if (!power.empty() && power.front() == '+') power.remove_prefix(1);
    const auto value = whole_number<int>(power);
    if (!value || *value < -400 || *value > 400) return std::nullopt;
    exponent += *value;
  }
  if (digits.empty()) return 0;

  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const auto push = [&](std::int64_t acc, int digit) -> std::optional<std::int64_t> {
    if (acc > (max - digit) / 10) return std::nullopt;
    return acc * 10 + digit;
  };

  const int shift = exponent + 9;  // nano = digits * 10^shift
  std::int64_t nano = 0;
  if (shift >= 0) {
    for (char c : digits) {
      auto next = push(nano, c - '0');
      if (!next) return std::nullopt;
      nano = *next;
    }
    for (int k = 0; k < shift; ++k) {
      auto next = push(nano, 0);
      if (!next) return std::nullopt;
      nano = *next;
    }
  } else {
    const std::size_t dropped = static_cast<std::size_t>(-shift);
    const std::size_t kept = digits.size() > dropped ? digits.size() - dropped : 0;
    for (std::size_t k = 0; k < kept; ++k) {
      auto next = push(nano, digits[k] - '0');
      if (!next) return std::nullopt;
      nano = *next;
    }
    // The first dropped digit decides; below it, only "anything non-zero" matters.
    const int first = dropped > digits.size() ? 0 : digits[kept] - '0';
    bool rest_nonzero = false;
    for (std::size_t k = dropped > digits.size() ? 0 : kept + 1; k < digits.size(); ++k) {
      rest_nonzero = rest_nonzero || digits[k] != '0';
    }
    if (dropped > digits.size()) rest_nonzero = true;  // every digit is below the first dropped (zero) digit
    const bool round_up = first > 5 || (first == 5 && (rest_nonzero || nano % 2 == 1));
    if (round_up) {
      if (nano == max) return std::nullopt;
      ++nano;
    }
  }
  return negative ? -nano : nano;
}

// The shortest decimal text that reads back as the same double: what Python printed for this REAL, and the value the
// user saw. Rounding that text once avoids the error a `value * 1e9` would add.
std::string shortest_decimal(double value) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc{} ? std::string(buffer.data(), end) : std::string("nan");
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace cg::storage::v03
