// The body of POST /ingest/batch: the first byte picks the framing (JSON or NDJSON), the rest is the body. Either a
// refusal of the whole, or exactly one verdict per event, none beyond the limit.
#include "fuzz_support.hpp"

#include "cg/ingest/usage_batch.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto format = (data[0] & 1) != 0 ? cg::ingest::batch_format::ndjson : cg::ingest::batch_format::json;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  cg::ingest::batch_limits limits;
  limits.max_events = 50;  // small, so the over-the-limit path is reached too
  const auto result = cg::ingest::parse_usage_batch(body, format, "tok", 1'767'225'600'000'000, limits);
  if (const auto* entries = std::get_if<std::vector<cg::ingest::batch_entry>>(&result)) {
    CG_FUZZ_CHECK(!entries->empty() && entries->size() <= limits.max_events);
    for (std::size_t i = 0; i < entries->size(); ++i) {
      if (const auto* error = std::get_if<cg::ingest::validation_error>(&(*entries)[i])) {
        // Every refused event names itself: `events[i]` or a field inside it.
        const std::string prefix = cg::ingest::batch_field_path(i, "");
        CG_FUZZ_CHECK(error->field.rfind(prefix, 0) == 0);
        CG_FUZZ_CHECK(!error->message.empty());
      }
    }
  } else {
    CG_FUZZ_CHECK(!std::get<cg::ingest::validation_error>(result).message.empty());
  }
  return 0;
}
