// parse_usd of cg/ingest/validation.hpp: an event's cost, decimal text to integer nano-USD without ever going
// through a double. The grammar and the rounding are cg::values'; the limits are the API's.

#include "cg/ingest/validation.hpp"

#include "cg/values/money_text.hpp"

namespace cg::ingest {

namespace {

/// One billion USD: no single LLM call costs that, and 10^18 nano-USD still leaves int64 sums ninefold headroom.
constexpr std::int64_t max_nano_usd = 1'000'000'000'000'000'000;

}  // namespace

std::optional<std::int64_t> parse_usd(std::string_view text) {
  values::decimal_parts number;
  if (values::read_json_decimal(text, number) != values::decimal_fault::none) return std::nullopt;
  if (number.is_zero()) return 0;  // "-0" included
  if (number.negative) return std::nullopt;
  const auto nano = values::to_nano_usd(number);
  if (!nano || *nano > max_nano_usd) return std::nullopt;
  return nano;
}

}  // namespace cg::ingest
