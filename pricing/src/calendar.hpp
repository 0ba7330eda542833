#pragma once
/// Dates and times of day in price constraints, as UTC microseconds (internal to cg::pricing).

#include <cstdint>
#include <optional>
#include <string_view>

namespace cg::pricing::detail {

/// "YYYY-MM-DD" (year 1..9999, a real calendar day) → unix microseconds of that day's 00:00:00 UTC.
std::optional<std::int64_t> parse_start_date(std::string_view text);

/// "HH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)" → microseconds since 00:00 UTC, offset applied, modulo one day.
std::optional<std::int64_t> parse_time_of_day(std::string_view text);

/// The UTC time of day of a unix-microsecond timestamp (also for timestamps before 1970).
std::int64_t utc_time_of_day(std::int64_t timestamp_us) noexcept;

}  // namespace cg::pricing::detail
