#pragma once
/// Exact money: integer nano-USD (1e-9 USD). Never a double between the price table and the CSV.

#include <cstdint>
#include <string>

namespace cg::pricing {

/// An amount of money in nano-USD. Sums are integer sums.
using nano_usd = std::int64_t;

/// Exact decimal text of an amount in USD with nine decimals: 2250 -> "0.000002250", -5 -> "-0.000000005".
std::string format_usd(nano_usd amount);

/// The same amount as a JSON-friendly double (for seed-compatible `estimatedCostUSD` / `cost_usd` numbers only).
double to_double_usd(nano_usd amount);

}  // namespace cg::pricing
