#pragma once
/// How the values a Cost Guardian v0.3 (Flask) database holds are read without guessing: its times (whatever its
/// clients sent, and SQLite's DATETIME('now')), and its REAL costs rounded once to nano-USD. Internal to cg::storage.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::storage::v03 {

std::string_view trim(std::string_view text);

/// Decimal digits with an optional sign and nothing else (surrounding white space aside).
std::optional<std::int64_t> whole_integer(std::string_view text);

/// A time as text → µs UTC: ISO-8601 as Python and SQLite write it (`YYYY-MM-DD`, then optionally `T` or a space
/// and `HH:MM[:SS[.fraction]]`, then optionally `Z` or `±HH[:MM]`; no offset means UTC), or a unix time whose
/// magnitude gives its unit. nullopt for anything else.
std::optional<std::int64_t> text_time_to_us(std::string_view text);
std::optional<std::int64_t> unix_number_to_us(std::int64_t value);
std::optional<std::int64_t> unix_number_to_us(double value);

/// Decimal text (`0.0000045`, `4.5e-06`, `-3`) → nano-USD, rounded once, half to even, never through a binary
/// fraction. nullopt when it is not a number or leaves the 64-bit range.
std::optional<std::int64_t> decimal_to_nano(std::string_view text);

}  // namespace cg::storage::v03
