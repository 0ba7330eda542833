#pragma once
// The request pipeline: the cross-cutting steps every request passes between the session and its handler, in one
// place and one order (see request_pipeline::handle for the order and its reasons).

#include "client_address.hpp"
#include "cors.hpp"
#include "http.hpp"
#include "metrics.hpp"
#include "rate_limit.hpp"
#include "router.hpp"

#include "cg/server/config.hpp"

namespace cg::server {

/// Thread-safety: seal() once at start-up, after the last route is added and before the first request; handle() is
/// then const and safe from every IO thread (its state is immutable, the limiter and the registry are thread-safe).
class request_pipeline {
 public:
  /// Keeps references: all four outlive every session (they are declared before the io_context).
  request_pipeline(const router& routes, const config& cfg, rate_limits& limits, metrics_registry& metrics);

  /// Call once every route is registered: sizes the per-route metrics for the router's table.
  void seal();

  /// Runs one request through the steps, then its handler; `respond` is the session's responder.
  void handle(const request_ptr& ctx, const responder& respond) const;

  /// For a request the connection layer refused before it could be read whole (413, 431, 400 malformed HTTP or
  /// framing): adds the CORS headers its origin is allowed, so a browser page sees the real status instead of an
  /// opaque CORS failure, and counts it in the metrics (route `(refused)`). `ctx` holds whatever of the request was
  /// read; without a path (request line unreadable) there are no CORS headers, as the path decides whether CORS
  /// applies at all.
  void refused(const request_context& ctx, response& res) const;

 private:
  bool admit_admin(const request_ptr& ctx, const router::match_result& matched, const responder& out) const;
  bool admit_auth_failure(const request_ptr& ctx, const router::match_result& matched, const responder& out) const;
  response preflight(const request_context& ctx, const std::string& allow) const;
  void decorate(const request_context& ctx, bool cors_path, response& res) const;

  const router& routes_;
  const config& cfg_;
  rate_limits& limits_;
  metrics_registry& metrics_;
  cors_policy cors_;
  trusted_proxies proxies_;
};

/// For ingestion handlers, once the tracking token is known and found (so made-up tokens never create buckets):
/// charges `events` to the token's bucket (INGEST_RPM / INGEST_BURST), records the decision on ctx for the
/// RateLimit-* headers, and when the bucket is empty answers 429 and returns false.
bool admit_ingest(rate_limits& limits, const request_ptr& ctx, std::string_view tracking_token,
                  const responder& respond, std::uint32_t events = 1);

/// For single-event ingestion routes: counts the answer in the ingest outcome counters (201 created, 200 duplicate,
/// anything else refused with its status) and passes it on.
responder counting_ingest_outcome(metrics_registry& metrics, responder respond);

/// The 429 answer for a refused decision (the pipeline adds Retry-After and RateLimit-* from ctx->rate_limit).
response rate_limited_response(const request_context& ctx, const rate_limit& limit, const rate_decision& decision,
                               std::string_view what);

}  // namespace cg::server
