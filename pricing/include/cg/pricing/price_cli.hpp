#pragma once
/// `cost-guardian price`: check any cost against another implementation from the command line.

#include <iosfwd>

namespace cg::pricing {

class price_table;

/// Reads JSON lines from `in` until end of input and writes exactly one JSON line per input line to `out`, in
/// input order, then returns 0 (1 only when `out` fails; the reason goes to `err`, which gets nothing else).
///
/// Input line: `{"id": str, "provider": str|null, "provider_id": str|null, "provider_api_url": str|null,
///   "model": str, "timestamp": "YYYY-MM-DDTHH:MM:SS[.fff]Z", "usage": {usage_key: number >= 0, ...}}`
///   (`provider_id` is another name for `provider`; the URL is used only when neither is given; unknown usage
///   keys and unknown fields are ignored).
/// Output line: `{"id": <echo>, "total_usd": number|null, "input_usd": number|null, "output_usd": number|null,
///   "provider_id": str|null, "model_id": str|null}` plus `"error": str` only when the usage is contradictory or
///   incomplete, or the line is malformed (then the amounts are null and `id` is echoed when it could be read).
///   Amounts are not rounded: each is the double nearest to the exact value, printed with the fewest digits that
///   read back as that double. null amounts without an error mean no price is known for the provider and model.
///
/// The whole input is read in large blocks and the answers are written in large blocks (no flush per line), so
/// the command is meant for batches and pipes rather than interactive use.
int run_price_cli(std::istream& in, std::ostream& out, std::ostream& err, const price_table& table);

}  // namespace cg::pricing
