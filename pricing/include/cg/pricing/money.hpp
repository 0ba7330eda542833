#pragma once
/// Exact money: integer nano-USD (1e-9 USD). Never a double between the price table and the CSV. The amount type
/// and its exact text are cg::values' (every module writes amounts); the price table's are the same.

#include "cg/values/money_text.hpp"

namespace cg::pricing {

using values::format_usd;
using values::nano_usd;

/// The same amount as a JSON-friendly double (for seed-compatible `estimatedCostUSD` / `cost_usd` numbers only).
double to_double_usd(nano_usd amount);

}  // namespace cg::pricing
