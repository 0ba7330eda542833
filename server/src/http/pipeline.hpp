#pragma once
// The request pipeline: the cross-cutting steps every request passes between the session and its handler, in one
// place and one order (see request_pipeline::handle for the order and its reasons).

#include "http/client_address.hpp"
#include "http/cors.hpp"
#include "http/http.hpp"
#include "http/metrics.hpp"
#include "http/rate_limit.hpp"
#include "http/router.hpp"

#include "cg/ingest/admission.hpp"
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

/// The ingest rate limit (INGEST_RPM / INGEST_BURST, per tracking token) as the admission service asks it, for one
/// request: each charge() takes one event from the token's bucket. With `record` (single-event routes), the last
/// decision is kept on the request for the RateLimit-* headers; a batch's events each carry their own answer.
/// Thread-safety: one request's; lives on the handler's stack for the duration of its admit() calls.
class request_quota final : public ingest::token_quota {
 public:
  request_quota(rate_limits& limits, request_context& ctx, bool record);
  verdict charge(std::string_view tracking_token) override;

 private:
  rate_limits& limits_;
  request_context& ctx_;
  bool applies_;
  bool record_;
};

/// Counts one ingest answer by its status: 201 created, 200 duplicate, anything else refused.
void count_ingest_answer(metrics_registry& metrics, unsigned status);

/// For single-event ingestion routes: counts the answer in the ingest outcome counters (201 created, 200 duplicate,
/// anything else refused with its status) and passes it on.
responder counting_ingest_outcome(metrics_registry& metrics, responder respond);

/// The words of every 429: "rate limit exceeded for <what>: N per minute, bursts of B; retry in S s".
std::string rate_limit_message(const rate_limit& limit, std::int64_t retry_after_s, std::string_view what);

/// The 429 answer for a refused decision (the pipeline adds Retry-After and RateLimit-* from ctx->rate_limit).
response rate_limited_response(const request_context& ctx, const rate_limit& limit, const rate_decision& decision,
                               std::string_view what);

}  // namespace cg::server
