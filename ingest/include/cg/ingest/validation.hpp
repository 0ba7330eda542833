#pragma once
/// Parsing and validating a pushed usage event: every rule of API.md, each failure naming its field.

#include "cg/ingest/refusal.hpp"
#include "cg/ingest/usage_event.hpp"
#include "cg/values/time.hpp"
#include "cg/values/timestamp.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace boost::json {
class value;
}

namespace cg::ingest {

/// A rejected event: why (invalid_field unless a batch is too large as a whole), the dotted JSON path of the
/// offending field (`prompt_tokens`, `usage.prompt_tokens_details.cached_tokens`; empty for the body as a whole)
/// and a message for humans.
struct validation_error {
  refusal reason = refusal::invalid_field;
  std::string field;
  std::string message;
};

using parse_result = std::variant<usage_event, validation_error>;

/// Limits from API.md; defaults are the documented ones.
struct event_limits {
  std::size_t model_max = 256;
  std::size_t event_id_max = 200;
  std::size_t tracking_token_max = 64;
  std::size_t attribution_max = 256;
  std::size_t meta_max_bytes = 8 * 1024;
  std::size_t meta_max_depth = 8;
  std::int64_t tokens_max = 1'000'000'000'000;     // 10^12
  std::int64_t future_skew_us = values::us_per_day;  // timestamps more than 24 h ahead are rejected
};

/// Validates one event object. `header_tracking_token` is the `X-Tracking-Token` header (empty when absent);
/// `now_us` is the server's clock, for the future-timestamp rule.
parse_result parse_usage_event(const boost::json::value& body, std::string_view header_tracking_token,
                               std::int64_t now_us, const event_limits& limits = {});

/// Parses the request body text first (a body that is not JSON is a 400 naming no field), then validates it.
parse_result parse_usage_event_text(std::string_view body, std::string_view header_tracking_token,
                                    std::int64_t now_us, const event_limits& limits = {});

/// The legacy `POST /log` body, as the old app's clients send it: as parse_usage_event_text, except that the
/// tracking token may be absent (neither in the body nor in the header: `tracking_token` is then left empty and
/// the event belongs to no token), and the old app's `estimatedCostUSD` is one more spelling of the client's cost
/// (`cost_usd`, `costUsd`).
parse_result parse_legacy_log_event_text(std::string_view body, std::string_view header_tracking_token,
                                         std::int64_t now_us, const event_limits& limits = {});

/// An event's timestamp is RFC 3339 as cg/values/timestamp.hpp reads it by default (`Z` or an offset, optional
/// fraction) or a bare `YYYY-MM-DD`; times leave the product in the same form, UTC with `Z`.
using values::format_timestamp;
using values::parse_timestamp;

/// Parses a decimal USD amount from its JSON text exactly into nano-USD (half-even beyond nine decimals).
/// nullopt for negative, non-finite or absurdly large values.
std::optional<std::int64_t> parse_usd(std::string_view decimal_text);

}  // namespace cg::ingest
