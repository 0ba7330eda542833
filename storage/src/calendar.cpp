#include "cg/storage/calendar.hpp"

#include "cg/values/time.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <chrono>

namespace cg::storage {

namespace {

namespace chrono = std::chrono;

using values::us_per_day;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

chrono::year_month_day civil(local_day day) { return chrono::year_month_day{chrono::sys_days{chrono::days{day}}}; }

}  // namespace

std::optional<time_zone_ref> time_zone_ref::find(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") {
    time_zone_ref utc;
    utc.name_ = std::string(name);
    return utc;
  }
  // Names come from the client: refuse anything that is not a plain zone name before the lookup (which only
  // searches the loaded list, but need not see odd input at all).
  if (name.empty() || name.size() > 64) return std::nullopt;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '_' || c == '-' || c == '+';
    if (!ok) return std::nullopt;
  }
  try {
    time_zone_ref found;
    found.zone_ = date::locate_zone(name);
    found.name_ = std::string(name);
    // Load the zone's transitions now, so that a zone file that cannot be read fails here, not in the middle of a
    // report.
    (void)found.zone_->get_info(date::sys_seconds{});
    return found;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

local_day time_zone_ref::day_of(std::int64_t unix_us) const {
  if (zone_ == nullptr) return static_cast<local_day>(floor_div(unix_us, us_per_day));
  const date::sys_time<chrono::microseconds> instant{chrono::microseconds{unix_us}};
  const auto local = zone_->to_local(instant);
  return static_cast<local_day>(date::floor<date::days>(local).time_since_epoch().count());
}

std::int64_t time_zone_ref::day_start(local_day day) const {
  if (zone_ == nullptr) return std::int64_t{day} * us_per_day;
  const date::local_days midnight{date::days{day}};
  const auto start = zone_->to_sys(midnight, date::choose::earliest);
  return chrono::duration_cast<chrono::microseconds>(start.time_since_epoch()).count();
}

std::optional<local_day> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int parts[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (std::size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      parts[p] = parts[p] * 10 + (text[i] - '0');
    }
  }
  const chrono::year_month_day date{chrono::year{parts[0]}, chrono::month{static_cast<unsigned>(parts[1])},
                                    chrono::day{static_cast<unsigned>(parts[2])}};
  if (!date.ok()) return std::nullopt;
  return static_cast<local_day>(chrono::sys_days{date}.time_since_epoch().count());
}

std::string format_day(local_day day) {
  const auto d = civil(day);
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                     static_cast<unsigned>(d.day()));
}

std::string format_month(local_day day) {
  const auto d = civil(day);
  return fmt::format("{:04}-{:02}", static_cast<int>(d.year()), static_cast<unsigned>(d.month()));
}

local_day week_start(local_day day) {
  // 1970-01-01 was a Thursday: three days after a Monday.
  return static_cast<local_day>(floor_div(std::int64_t{day} + 3, 7) * 7 - 3);
}

local_day month_start(local_day day) {
  const auto d = civil(day);
  return static_cast<local_day>(chrono::sys_days{d.year() / d.month() / 1}.time_since_epoch().count());
}

}  // namespace cg::storage
