#pragma once
// The one place an ingest outcome becomes HTTP: the status, the message and the Retry-After of every refusal, and
// the body of a stored or duplicate event, for a single event (POST /ingest, POST /log) and for each event of a
// batch (POST /ingest/batch). The ingest module decides what happened; only this file says how it is answered.

#include "http/http.hpp"
#include "http/rate_limit.hpp"

#include "cg/ingest/admission.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace cg::server {

/// 201 stored, 200 duplicate; a refusal's status: 400 invalid_field, 413 too_many_events, 404 unknown_token,
/// 403 inactive_token, 429 rate_limited, 503 queue_full / shutting_down / storage_failed.
http::status ingest_status(const ingest::admission_outcome& outcome) noexcept;

/// The message a refusal is answered with (`ingest_limit` words the rate-limit one). storage_failed never carries
/// its storage error to the client: that is logged by the route.
std::string refusal_message(const ingest::admission_outcome& outcome, const rate_limit& ingest_limit);

/// Seconds a client should wait before retrying a refusal: the bucket's wait for rate_limited, 1 for the 503s,
/// 0 (no Retry-After) otherwise.
std::int64_t refusal_retry_after(const ingest::admission_outcome& outcome) noexcept;

/// How a single-event route answers a stored event: POST /ingest with 201; the legacy POST /log with 200 for both
/// stored and duplicate, as the old app did, and `extra` members (its message and deprecation warning) in both
/// success bodies.
struct success_shape {
  http::status created = http::status::created;
  boost::json::object extra;
};

/// The complete answer of a single-event route: the success body (ok, id, cost_usd, cost_usd_exact, cost_source;
/// or ok, duplicate, id) or the JSON error naming its field, with Retry-After when a retry can pass.
response single_event_answer(const ingest::admission_outcome& outcome, const std::string& request_id,
                             const rate_limit& ingest_limit, const success_shape& shape);

/// POST /ingest/batch's answer body: `{"accepted", "duplicates", "rejected", "results": [{"index", "status", "id"
/// [, "duplicate": true]} or {"index", "status", "error"[, "field"]}, ...]}`, results in body order. Refusals'
/// fields are already the batch's paths (`events[2].model`).
boost::json::object batch_answer_body(const std::vector<ingest::admission_outcome>& outcomes,
                                      const rate_limit& ingest_limit);

/// 200 when every event was stored or was a duplicate (an empty list included), 207 otherwise.
http::status batch_answer_status(const std::vector<ingest::admission_outcome>& outcomes) noexcept;

/// The Retry-After a batch's answer carries: the largest of its events' (0: none, no header).
std::int64_t batch_retry_after(const std::vector<ingest::admission_outcome>& outcomes) noexcept;

}  // namespace cg::server
