#pragma once
/// ISO-8601 / RFC 3339 timestamps to and from unix microseconds UTC. Each reader of timestamps in the product
/// accepts its own set of spellings (the ingest API, the price data, a v0.3 database); one parser serves them all,
/// told which spellings to accept by a timestamp_rules.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::values {

/// Which spellings a parse accepts beyond `YYYY-MM-DD` `T` `HH:MM:SS` `Z`. Digits past the microsecond are always
/// truncated (towards the earlier instant); 24:00 and a leap second 60 are always refused, as neither has one
/// obvious instant to store.
struct timestamp_rules {
  bool date_only = true;                 ///< a bare `YYYY-MM-DD` is its midnight UTC
  std::string_view separators = "Tt ";   ///< what may stand between date and time (a space: Python's str())
  bool seconds_optional = false;         ///< `HH:MM` without seconds
  bool comma_fraction = false;           ///< `,` as well as `.` before the fraction
  std::size_t max_fraction_digits = 9;   ///< 0: any number of fraction digits
  bool zone_optional = false;            ///< no zone means UTC (otherwise refused: which zone was meant is unknown)
  bool lower_case_z = true;              ///< `z` as well as `Z`
  bool hour_offset = false;              ///< `+05` as well as `+05:30`
  bool basic_offset = true;              ///< `+0530` (strftime's %z) as well as `+05:30`
  int min_year = 0;
};

/// RFC 3339 as the ingest API takes it: a zone is required; `t`, `z`, a space separator, `+0530` and a bare date
/// are accepted.
inline constexpr timestamp_rules rfc3339_timestamp{};

/// Exactly `YYYY-MM-DDTHH:MM:SS[.f]Z` or `±HH:MM`, one to nine fraction digits, years 0001 to 9999.
inline constexpr timestamp_rules strict_rfc3339_timestamp{.date_only = false,
                                                          .separators = "T",
                                                          .lower_case_z = false,
                                                          .basic_offset = false,
                                                          .min_year = 1};

/// ISO-8601 as Python and SQLite write it: seconds, fraction (`.` or `,`, any length) and zone all optional (no
/// zone means UTC), offsets as `±HH`, `±HHMM` or `±HH:MM`.
inline constexpr timestamp_rules lenient_iso8601_timestamp{.seconds_optional = true,
                                                           .comma_fraction = true,
                                                           .max_fraction_digits = 0,
                                                           .zone_optional = true,
                                                           .hour_offset = true};

/// A timestamp → unix µs UTC (local time minus its offset); nullopt when `text` is not one under `rules`, or names
/// a day or time that does not exist (February 30, 25:00).
std::optional<std::int64_t> parse_timestamp(std::string_view text, const timestamp_rules& rules = rfc3339_timestamp);

/// Unix µs UTC as ISO-8601 with `Z`, microseconds only when non-zero: `2024-01-15T10:30:00Z`,
/// `2024-01-15T10:30:00.123456Z`. Clamped to years 0000-9999, the range parse_timestamp reads back.
std::string format_timestamp(std::int64_t unix_us);

}  // namespace cg::values
