#pragma once
/// The values of one usage event, in the three shapes it takes on its way: as its client reported them
/// (reported_usage, what ingest validates), as stored (event_row, what the writer inserts) and as read back
/// (stored_event, what the admin API shows). Each shape extends the one before, so a value is declared once;
/// event_columns.hpp describes every stored column and reaches these members through its accessors.

#include "cg/pricing/token_counts.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cg::storage {

/// What a client reports of one model call and the gateway stores as given (after validation).
struct reported_usage {
  std::optional<std::string> event_id;  ///< null: the client gave none, so no dedupe
  std::string provider;                 ///< as the client named it; may be empty
  std::string model;
  /// What kind of model call it was: `chat`, `embeddings`, ... (OpenTelemetry's `gen_ai.operation.name`) or a
  /// provider's own (`responses`); null when the client did not say.
  std::optional<std::string> operation;
  /// Normalised: input ⊇ cache read + cache write, output ⊇ reasoning.
  pricing::token_counts tokens;
  std::optional<std::string> user;
  std::optional<std::string> session_id;
  std::optional<std::string> session_type;
  std::optional<std::string> project;
  std::optional<std::string> feature;
  std::optional<std::string> environment;
  std::optional<std::string> meta;  ///< compact JSON text
};

/// One usage event as stored: what the client reported, plus what the gateway decided (time, token, cost,
/// provenance). Timestamps are unix microseconds UTC; money is integer nano-USD.
struct event_row : reported_usage {
  std::int64_t ts_us = 0;
  std::int64_t received_at_us = 0;
  /// The tracking token; null for an event of the legacy POST /log sent without one (as the old app stored them,
  /// and as imported v0.3 rows without a token are): never deduplicated, counted on no token.
  std::optional<std::int64_t> token_id;
  std::int64_t cost_nusd = 0;
  std::string cost_source;  ///< "client", "server", "unpriced" or "v0.3-import"
  std::string price_ref;    ///< which price was used (empty for client/unpriced)
  std::string source;       ///< "ingest", "log" (legacy), "batch", "otlp"
};

/// One stored event as the admin API shows it: the row, its id, and its token's label. `project` is the event's
/// own, else the one PROJECT_PATTERNS assigns, else null.
struct stored_event : event_row {
  std::int64_t id = 0;
  std::optional<std::string> token_label;  ///< kept after the token was deleted; null without a token
};

}  // namespace cg::storage
