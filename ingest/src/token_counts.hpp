#pragma once
// Private to cg_ingest: the six token classes of an event, from its flat fields and its native `usage` object.

#include "field_readers.hpp"

#include "cg/ingest/usage_event.hpp"
#include "cg/ingest/validation.hpp"

#include <boost/json/object.hpp>

#include <string_view>

namespace cg::ingest::detail {

/// Fills input/output/total/cache_read/cache_write/reasoning of `event` (normalised: input ⊇ cache read + cache
/// write, output ⊇ reasoning) from `body`, or names the offending field. `provider` is the event's provider as sent;
/// it only settles a `usage` object whose keys fit both Anthropic Messages and OpenAI Responses.
maybe_error read_token_counts(const boost::json::object& body, std::string_view provider, const event_limits& limits,
                              usage_event& event);

}  // namespace cg::ingest::detail
