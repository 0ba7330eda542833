#include "cg/pricing/money.hpp"

#include <charconv>
#include <string>

namespace cg::pricing {

double to_double_usd(nano_usd amount) {
  // Below 2^53 both operands are exact doubles and one division rounds once, to the nearest double. Above it,
  // parse the exact decimal text, which from_chars also rounds once.
  constexpr nano_usd exact_limit = nano_usd{1} << 53;
  if (amount > -exact_limit && amount < exact_limit) return static_cast<double>(amount) / 1e9;
  const std::string text = format_usd(amount);
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace cg::pricing
