#pragma once
/// Splitting a POST /ingest/batch body into its events and validating each one alone, with the rules of
/// POST /ingest (validation.hpp). A fault in one event never refuses the others; only a body that cannot be read as
/// a batch at all (not JSON, the wrong top-level shape, too many events) refuses the request.

#include "cg/ingest/validation.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cg::ingest {

/// How the body is framed, from its Content-Type.
enum class batch_format {
  json,    ///< a JSON array of events, or an object `{"events": [...]}`
  ndjson,  ///< one event per line (`application/x-ndjson`); blank lines are skipped
};

struct batch_limits {
  std::size_t max_events = 1000;  ///< more is refused as a whole (413, field `events`)
  event_limits event{};
};

/// One event of the batch, in body order: the validated event or why it was refused (its `field` already prefixed
/// with `events[i]`, see batch_field_path).
using batch_entry = parse_result;

/// Either every event's verdict, or a refusal of the whole request (status 400 or 413, `field` empty or `events`).
using batch_parse_result = std::variant<std::vector<batch_entry>, validation_error>;

/// Reads the batch and validates each event as POST /ingest would, with `header_tracking_token` (X-Tracking-Token)
/// applying to every event and `now_us` the server's receive time. Refused as a whole: text that is not JSON (for
/// `json`), a top level that is neither an array nor an object with an `events` array, no events, or more than
/// `limits.max_events`. In NDJSON a line that is not JSON refuses only that event (field `events[i]`).
batch_parse_result parse_usage_batch(std::string_view body, batch_format format,
                                     std::string_view header_tracking_token, std::int64_t now_us,
                                     const batch_limits& limits = {});

/// The field path of `field` inside event `index`: `events[3].model`, or `events[3]` for the event as a whole
/// (an empty `field`). The same prefix for every body shape (array, object, NDJSON), so clients parse one form.
std::string batch_field_path(std::size_t index, std::string_view field);

}  // namespace cg::ingest
