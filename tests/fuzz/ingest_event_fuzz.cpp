// The body of POST /ingest: any bytes → an event that keeps every documented rule, or a refusal with a message.
#include "fuzz_support.hpp"

#include "cg/ingest/validation.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

namespace {

constexpr std::int64_t now_us = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z: fixed, so runs repeat

void check_event(const cg::ingest::usage_event& e, const cg::ingest::event_limits& limits) {
  CG_FUZZ_CHECK(!e.model.empty() && e.model.size() <= limits.model_max);
  for (const auto n : {e.tokens.input, e.tokens.output, e.tokens.total, e.tokens.cache_read, e.tokens.cache_write,
                       e.tokens.reasoning}) {
    CG_FUZZ_CHECK(n >= 0 && n <= limits.tokens_max);
  }
  // Input is the whole input (cache reads and writes are parts of it), output the whole output (reasoning is part).
  CG_FUZZ_CHECK(e.tokens.cache_read + e.tokens.cache_write <= e.tokens.input);
  CG_FUZZ_CHECK(e.tokens.reasoning <= e.tokens.output);
  if (e.timestamp_us) CG_FUZZ_CHECK(*e.timestamp_us <= now_us + limits.future_skew_us);
  // A positive cost below half a nano-USD stays the client's (0): never negative.
  if (e.client_cost_nusd) CG_FUZZ_CHECK(*e.client_cost_nusd >= 0);
  if (e.meta) CG_FUZZ_CHECK(e.meta->size() <= limits.meta_max_bytes);
  for (const auto* text : {&e.model, &e.provider, &e.tracking_token}) CG_FUZZ_CHECK(cg::fuzz::valid_utf8(*text));
  for (const auto* text : {&e.event_id, &e.user, &e.session_id, &e.session_type, &e.project, &e.feature,
                           &e.environment, &e.meta}) {
    if (*text) CG_FUZZ_CHECK(cg::fuzz::valid_utf8(**text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const cg::ingest::event_limits limits;
  const auto result = cg::ingest::parse_usage_event_text(body, "", now_us, limits);
  if (const auto* event = std::get_if<cg::ingest::usage_event>(&result)) {
    check_event(*event, limits);
  } else {
    const auto& error = std::get<cg::ingest::validation_error>(result);
    CG_FUZZ_CHECK(!error.message.empty());
  }
  return 0;
}
