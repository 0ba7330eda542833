#pragma once
/// Time as the product stores it: a signed count of microseconds since the unix epoch, UTC.

#include <cstdint>

namespace cg::values {

inline constexpr std::int64_t us_per_second = 1'000'000;
inline constexpr std::int64_t us_per_minute = 60 * us_per_second;
inline constexpr std::int64_t us_per_day = 86'400 * us_per_second;

/// The system clock now, in unix microseconds.
std::int64_t now_us();

}  // namespace cg::values
