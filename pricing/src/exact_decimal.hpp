#pragma once
/// Exact decimal prices and the 128-bit integer arithmetic that keeps costs exact (internal to cg::pricing).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::pricing::detail {

// GCC and Clang provide __int128 on 64-bit targets; __extension__ keeps -Wpedantic quiet about it. A product of a
// price mantissa (< 2^63) and a token count (< 2^63) always fits, which is what exact pricing needs.
__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

/// A non-negative decimal as written in the price text: value = mantissa × 10^-scale, mantissa without trailing
/// zeros when scale > 0 (so "1.50" and "1.5" are the same value and the same representation).
struct exact_decimal {
  std::int64_t mantissa = 0;
  int scale = 0;  ///< 0..max_scale
};

inline constexpr int max_decimal_scale = 30;

/// Parses a non-negative JSON number text ("3", "0.075", "0.18000000000000002", "1.5e-7"). On failure returns
/// nullopt and sets `why` to a reason that fits after "price '<text>' ".
std::optional<exact_decimal> parse_decimal(std::string_view text, std::string& why);

/// Checked arithmetic: false when the result does not fit (the caller decides what that means).
bool checked_mul(int128 a, int128 b, int128& out) noexcept;
bool checked_add(int128 a, int128 b, int128& out) noexcept;
/// 10^exponent, or false when it does not fit.
bool power_of_ten(int exponent, int128& out) noexcept;
int128 gcd(int128 a, int128 b) noexcept;

/// num / den rounded half to even; den > 0, num >= 0.
int128 divide_round_half_even(int128 num, int128 den) noexcept;

}  // namespace cg::pricing::detail
