#pragma once
/// The usage event as a client pushed it, parsed and validated but not yet resolved, priced or stored.

#include <cstdint>
#include <optional>
#include <string>

namespace cg::ingest {

/// One validated usage event. Token counts are already normalised: `input_tokens` is the whole input (cache reads
/// and writes are parts of it), `output_tokens` the whole output (reasoning is part of it).
struct usage_event {
  std::string tracking_token;
  std::optional<std::string> event_id;
  std::string provider;  ///< as the client named it; may be empty
  std::string model;
  std::optional<std::int64_t> timestamp_us;  ///< absent: the server uses the time it received the event
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t total_tokens = 0;
  std::int64_t cache_read_tokens = 0;
  std::int64_t cache_write_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::optional<std::int64_t> client_cost_nusd;  ///< a positive `cost_usd` the client computed itself
  std::optional<std::string> user;
  std::optional<std::string> session_id;
  std::optional<std::string> session_type;
  std::optional<std::string> project;
  std::optional<std::string> feature;
  std::optional<std::string> environment;
  std::optional<std::string> meta;  ///< compact JSON text of `meta`
};

}  // namespace cg::ingest
