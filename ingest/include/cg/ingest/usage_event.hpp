#pragma once
/// The usage event as a client pushed it, parsed and validated but not yet resolved, priced or stored.

#include "cg/storage/event_row.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cg::ingest {

/// One validated usage event: the values the client reported, stored as they are (storage::reported_usage, with
/// the token counts already normalised: input ⊇ cache read + cache write, output ⊇ reasoning), and those the
/// gateway still has to settle before the event becomes a row.
struct usage_event : storage::reported_usage {
  std::string tracking_token;
  std::optional<std::int64_t> timestamp_us;      ///< absent: the server uses the time it received the event
  std::optional<std::int64_t> client_cost_nusd;  ///< a positive `cost_usd` the client computed itself
};

}  // namespace cg::ingest
