#include "http/pipeline.hpp"

#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace cg::server {

namespace {

std::vector<ip_network> parse_proxies(const std::vector<std::string>& entries) {
  std::vector<ip_network> networks;
  for (const auto& entry : entries)
    if (auto n = ip_network::parse(entry)) networks.push_back(*n);  // config.cpp has refused bad entries already
  return networks;
}

std::string forwarded_for(const request& req) {
  std::string joined;
  for (auto [it, end] = req.equal_range("X-Forwarded-For"); it != end; ++it) {
    if (!joined.empty()) joined += ',';
    joined += it->value();
  }
  return joined;
}

bool is_preflight(const request& req) {
  return req.method() == http::verb::options && req.count(http::field::origin) > 0 &&
         req.count(http::field::access_control_request_method) > 0;
}

void add_vary_origin(response& res) {
  const auto vary = res[http::field::vary];
  if (vary.empty())
    res.set(http::field::vary, "Origin");
  else if (vary.find("Origin") == std::string_view::npos)
    res.set(http::field::vary, std::string(vary) + ", Origin");
}

}  // namespace

request_pipeline::request_pipeline(const router& routes, const config& cfg, rate_limits& limits,
                                   metrics_registry& metrics)
    : routes_(routes),
      cfg_(cfg),
      limits_(limits),
      metrics_(metrics),
      cors_(cfg.allowed_origins, cfg.production),
      proxies_(parse_proxies(cfg.trusted_proxies)) {}

void request_pipeline::seal() {
  std::vector<metrics_registry::route_label> labels;
  for (const auto& r : routes_.routes()) labels.push_back({std::string(http::to_string(r.method)), r.pattern});
  metrics_.set_routes(std::move(labels));
}

// The steps, in order, and why in this order:
//  1. Client address. X-Forwarded-For is believed only from TRUSTED_PROXIES; every later step (the per-address
//     bucket, logs) must see the real client, so this comes first.
//  2. Route match, without running the handler: the route's pattern labels the metrics (bounded cardinality, unlike
//     raw paths), and its doc says which limiter applies.
//  3. CORS preflight, answered here (204, or 403 for an origin that is not allowed, also when none is). Browsers
//     send preflights without credentials, so they must not reach authentication, and charging them to a bucket
//     would halve a browser client's budget and turn a 429 into an opaque CORS failure.
//  4. Admin rate limit (every route except ingestion and RATE_LIMIT_EXEMPT paths), before the handler so a
//     refused request costs no authentication, parsing or database work. Ingestion is limited per tracking token,
//     which is inside the body: the admission service asks the handler's request_quota once the token is resolved.
//  5. Failed-authentication throttle, for keyed routes (admin and ingest): a request that does not present the
//     route's valid key takes from its client address's AUTH_FAILURE bucket (after step 1, so a proxy's clients are
//     told apart), and once that is empty is answered 429 instead of 401: a client looping on a wrong key is
//     stopped, and guessing shows in the metrics. A request with the valid key is never charged and never refused
//     here, whoever else shares its address (so this cannot hide a correct guess: key length is the defence).
//     The handler still makes the authoritative check (and answers the 401).
//  6. The handler (router dispatch), inside the per-request barrier: an exception becomes a 500 that still passes
//     step 7. (The session keeps its own barrier for failures of the pipeline itself.)
//  7. On the way out, for every answer including errors and 429s: CORS response headers, RateLimit-* headers
//     (and Retry-After), then the request counters and latency histogram, once, just before the session writes.
void request_pipeline::handle(const request_ptr& ctx, const responder& respond) const {
  if (!proxies_.empty()) ctx->client_ip = proxies_.client_address(ctx->client_ip, forwarded_for(ctx->req));

  const auto matched = routes_.match(ctx);
  const bool cors_path = cors_.enabled() && cors_policy::applies_to(ctx->path);
  // A preflight is answered even when no origin can be allowed (production without ALLOWED_ORIGINS): a 403 with
  // the reason tells whoever sets up a browser client what to change, where a 405 would send them looking for a
  // missing route.
  const bool answer_preflight =
      cors_policy::applies_to(ctx->path) && !matched.found && !matched.allow.empty() && is_preflight(ctx->req);

  std::size_t slot = metrics_.unmatched_slot();
  if (matched.found)
    slot = static_cast<std::size_t>(matched.found - routes_.routes().data());
  else if (answer_preflight)
    slot = metrics_.preflight_slot();

  responder out = [this, ctx, respond, slot, cors_path](response res) {
    decorate(*ctx, cors_path, res);
    metrics_.record_request(slot, res.result_int(), std::chrono::steady_clock::now() - ctx->started);
    respond(std::move(res));
  };

  if (answer_preflight) return out(preflight(*ctx, matched.allow));
  if (!admit_admin(ctx, matched, out)) return;
  if (!admit_auth_failure(ctx, matched, out)) return;

  try {
    routes_.dispatch(ctx, matched, out);
  } catch (const std::exception& e) {
    log().write("error", "unhandled", {field("request_id", ctx->request_id), field("error", e.what())});
    out(json_error(http::status::internal_server_error, "internal error", ctx->request_id));
  }
}

void request_pipeline::refused(const request_context& ctx, response& res) const {
  decorate(ctx, cors_.enabled() && !ctx.path.empty() && cors_policy::applies_to(ctx.path), res);
  metrics_.record_request(metrics_.refused_slot(), res.result_int(), std::chrono::steady_clock::now() - ctx.started);
}

bool request_pipeline::admit_admin(const request_ptr& ctx, const router::match_result& matched,
                                   const responder& out) const {
  const auto auth = matched.found ? matched.found->doc.auth : route_auth::none;
  // OPTIONS is never charged (the old app exempted it too): it carries no work and no credentials.
  if (auth == route_auth::ingest || ctx->req.method() == http::verb::options) return true;
  if (!limits_.config().admin.enabled() || limits_.exempt(ctx->path)) return true;
  // All holders of the admin key share its bucket; without the valid key (a public route, a wrong key, a scanner)
  // the bucket is the client address, so guessing keys cannot mint fresh buckets.
  const auto decision = presents_admin_key(ctx->req, cfg_.api_key) ? limits_.check_admin("key")
                                                                    : limits_.check_admin("ip:" + ctx->client_ip);
  ctx->rate_limit = decision;
  if (decision.allowed) return true;
  out(rate_limited_response(*ctx, limits_.config().admin, decision, "admin requests"));
  return false;
}

bool request_pipeline::admit_auth_failure(const request_ptr& ctx, const router::match_result& matched,
                                          const responder& out) const {
  if (!matched.found || !limits_.config().auth_failure.enabled()) return true;
  switch (matched.found->doc.auth) {
    case route_auth::none: return true;
    case route_auth::admin:
      if (presents_admin_key(ctx->req, cfg_.api_key)) return true;
      break;
    case route_auth::ingest:
      if (constant_time_equal(ctx->req["X-Ingest-Key"], cfg_.ingest_key)) return true;  // the handlers' rule
      break;
  }
  const auto decision = limits_.check_auth_failure(auth_failure_key(ctx->client_ip));
  if (decision.allowed) return true;  // the handler answers 401
  ctx->rate_limit = decision;
  out(rate_limited_response(*ctx, limits_.config().auth_failure, decision,
                            "failed authentication from this client address"));
  return false;
}

response request_pipeline::preflight(const request_context& ctx, const std::string& allow) const {
  const auto origin = ctx.req[http::field::origin];
  if (!cors_.allows(origin)) {
    auto res = json_error(http::status::forbidden,
                          cors_.enabled() ? fmt::format("origin '{}' is not allowed (ALLOWED_ORIGINS)",
                                                        std::string(origin))
                                          : fmt::format("origin '{}' is not allowed: no origin is (ALLOWED_ORIGINS "
                                                        "is empty, and production allows none by default)",
                                                        std::string(origin)),
                          ctx.request_id);
    res.set(http::field::vary, "Origin");
    return res;
  }
  response res{http::status::no_content, 11};
  res.set(http::field::access_control_allow_origin, origin);
  res.set(http::field::access_control_allow_methods, allow.find("GET") != std::string::npos ? allow + ", HEAD" : allow);
  res.set(http::field::access_control_allow_headers, cors_policy::allowed_headers);
  res.set(http::field::access_control_max_age, cors_policy::max_age);
  res.set(http::field::vary, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  res.set(http::field::cache_control, "no-store");
  return res;
}

void request_pipeline::decorate(const request_context& ctx, bool cors_path, response& res) const {
  if (cors_path && !res.count(http::field::access_control_allow_origin)) {
    add_vary_origin(res);
    const auto origin = ctx.req[http::field::origin];
    if (cors_.allows(origin)) {
      res.set(http::field::access_control_allow_origin, origin);
      res.set(http::field::access_control_expose_headers, cors_policy::exposed_headers);
    }
  }
  if (ctx.rate_limit) {
    const auto& d = *ctx.rate_limit;
    res.set("RateLimit-Limit", std::to_string(d.limit));
    res.set("RateLimit-Remaining", std::to_string(d.remaining));
    res.set("RateLimit-Reset", std::to_string(d.reset_s));
    if (!d.allowed) res.set(http::field::retry_after, std::to_string(d.retry_after_s));
  }
}

request_quota::request_quota(rate_limits& limits, request_context& ctx, bool record)
    : limits_(limits),
      ctx_(ctx),
      applies_(limits.config().ingest.enabled() && !limits.exempt(ctx.path)),
      record_(record) {}

ingest::token_quota::verdict request_quota::charge(std::string_view tracking_token) {
  if (!applies_) return {};
  const auto decision = limits_.check_ingest(tracking_token);
  if (record_) ctx_.rate_limit = decision;
  return {decision.allowed, decision.retry_after_s};
}

void count_ingest_answer(metrics_registry& metrics, unsigned status) {
  metrics.record_ingest(status == 201   ? metrics_registry::ingest_result::created
                        : status == 200 ? metrics_registry::ingest_result::duplicate
                                        : metrics_registry::ingest_result::refused,
                        status);
}

responder counting_ingest_outcome(metrics_registry& metrics, responder respond) {
  return [&metrics, respond = std::move(respond)](response res) {
    count_ingest_answer(metrics, res.result_int());
    respond(std::move(res));
  };
}

response rate_limited_response(const request_context& ctx, const rate_limit& limit, const rate_decision& decision,
                               std::string_view what) {
  return json_error(http::status::too_many_requests, rate_limit_message(limit, decision.retry_after_s, what),
                    ctx.request_id);
}

std::string rate_limit_message(const rate_limit& limit, std::int64_t retry_after_s, std::string_view what) {
  return fmt::format("rate limit exceeded for {}: {} per minute, bursts of {}; retry in {} s", what,
                     limit.per_minute, limit.burst, retry_after_s);
}

}  // namespace cg::server
