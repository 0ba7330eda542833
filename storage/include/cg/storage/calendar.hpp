#pragma once
/// Calendar days in an IANA time zone, for the day/week/month buckets of cost reports. DST-correct: a local day is
/// 23, 24 or 25 hours long, and a day whose midnight does not exist starts at the transition.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace date {
class time_zone;
}

namespace cg::storage {

/// A local calendar day: days since 1970-01-01 in that zone's calendar (not a UTC instant).
using local_day = std::int32_t;

/// An IANA time zone from the system's tz database (/usr/share/zoneinfo), or UTC.
/// Thread-safety: immutable after find(); the zone data it points to is shared, loaded once, and thread-safe.
class time_zone_ref {
 public:
  /// UTC, needing no tz database.
  time_zone_ref() = default;
  /// The zone called `name` (`Europe/Berlin`, `America/New_York`, `UTC`); nullopt when the tz database has no such
  /// zone. The first call reads the tz database from disk: call it off the IO threads.
  static std::optional<time_zone_ref> find(std::string_view name);

  const std::string& name() const noexcept { return name_; }
  bool is_utc() const noexcept { return zone_ == nullptr; }

  /// The local day an instant (unix µs) falls on.
  local_day day_of(std::int64_t unix_us) const;
  /// The first instant (unix µs) of a local day: local midnight, or, where midnight does not exist (a DST gap at
  /// 00:00), the instant of the transition; where it exists twice, the earlier.
  std::int64_t day_start(local_day day) const;

 private:
  const date::time_zone* zone_ = nullptr;  // null: UTC
  std::string name_ = "UTC";
};

/// `YYYY-MM-DD` as a day number; nullopt unless it is exactly a valid date of years 0000-9999.
std::optional<local_day> parse_day(std::string_view text);
/// `YYYY-MM-DD`.
std::string format_day(local_day day);
/// `YYYY-MM`.
std::string format_month(local_day day);
/// The Monday on or before `day` (ISO weeks start on Monday).
local_day week_start(local_day day);
/// The first day of the month `day` is in.
local_day month_start(local_day day);

}  // namespace cg::storage
