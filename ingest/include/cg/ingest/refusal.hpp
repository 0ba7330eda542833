#pragma once
/// Why an event (or a whole ingest request) was not stored: the reasons the ingest module decides. server/ turns
/// each into an HTTP status and message in one place (routes/ingest_answers.cpp).

namespace cg::ingest {

enum class refusal {
  invalid_field,    ///< the event or request broke a rule of API.md; the field is named when one is at fault
  too_many_events,  ///< a batch over BATCH_MAX_EVENTS (the request as a whole)
  unknown_token,    ///< no tracking token has this value
  inactive_token,   ///< the tracking token exists but was deactivated
  rate_limited,     ///< the tracking token's bucket is empty
  queue_full,       ///< the writer's queue is at capacity (backpressure)
  shutting_down,    ///< the writer stopped taking events
  storage_failed,   ///< the batch holding the event failed to commit; nothing of it was stored
};

}  // namespace cg::ingest
