// POST /ingest and the legacy POST /log: authenticate, parse and validate the body (cg::ingest), hand the event to
// the admission service, and answer its outcome through the one map of routes/ingest_answers.hpp.

#include "http/pipeline.hpp"
#include "routes/handler_support.hpp"
#include "routes/ingest_answers.hpp"
#include "routes/routes.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"
#include "cg/values/time.hpp"

namespace cg::server {

namespace {

/// Admits one parsed event (or answers why its body was refused) and answers once the outcome is known; `source`
/// is stored with the row. A failed commit is logged here, with the request id; its error never reaches the client.
void admit_one(services& s, const request_ptr& ctx, const responder& respond, ingest::parse_result parsed,
               std::int64_t received, std::string_view source, success_shape shape) {
  const auto& ingest_limit = s.limits.config().ingest;
  auto answer = [ctx, respond, &ingest_limit, shape = std::move(shape)](const ingest::admission_outcome& outcome) {
    if (outcome.reason == ingest::refusal::storage_failed && !outcome.stored_or_duplicate())
      log().write("error", "commit_failed", {field("request_id", ctx->request_id), field("error", outcome.detail)});
    respond(single_event_answer(outcome, ctx->request_id, ingest_limit, shape));
  };
  if (auto* err = std::get_if<ingest::validation_error>(&parsed))
    return answer(ingest::admission_outcome::invalid(std::move(*err)));
  request_quota quota(s.limits, *ctx, true);
  s.admission.admit(std::move(std::get<ingest::usage_event>(parsed)),
                    {.received_us = received, .source = source, .quota = &quota}, std::move(answer));
}

void handle_ingest(services& s, const request_ptr& ctx, const responder& answer) {
  const auto respond = counting_ingest_outcome(s.metrics, answer);  // every answer counts: 401 is ingest_bad_auth
  if (!constant_time_equal(ctx->req["X-Ingest-Key"], s.cfg.ingest_key)) {
    respond(json_error(http::status::unauthorized, "missing or invalid X-Ingest-Key", ctx->request_id));
    return;
  }
  if (!require_json(ctx, respond)) return;
  const auto received = values::now_us();
  admit_one(s, ctx, respond, ingest::parse_usage_event_text(ctx->req.body(), ctx->req["X-Tracking-Token"], received),
            received, "ingest", {});
}

// The seed's deprecated endpoint, as its clients call it: the admin key instead of the ingest key, the old app's
// body (no tracking token needed, `estimatedCostUSD` as the client's cost), 200 with a message for a stored event.
// A body that names a tracking token (or X-Tracking-Token) is held to it exactly as on /ingest. Every answer
// carries `Deprecation: true` and a Link to /ingest.
void handle_log(services& s, const request_ptr& ctx, const responder& respond) {
  const responder deprecated = [respond](response res) {
    res.set("Deprecation", "true");
    res.set(http::field::link, "</ingest>; rel=\"successor-version\"");
    respond(std::move(res));
  };
  if (!require_admin(s, ctx, deprecated) || !require_json(ctx, deprecated)) return;
  const auto received = values::now_us();
  admit_one(s, ctx, deprecated,
            ingest::parse_legacy_log_event_text(ctx->req.body(), ctx->req["X-Tracking-Token"], received), received,
            "log",
            {.created = http::status::ok,
             .extra = {{"message", "usage logged"},
                       {"warning", "POST /log is deprecated: send events to POST /ingest with X-Ingest-Key"}}});
}

}  // namespace

void register_ingest_routes(router& routes, services& s) {
  routes.add(http::verb::post, "/ingest", [&s](const request_ptr& c, const responder& r) { handle_ingest(s, c, r); },
             {.summary = "Store one usage event (acknowledged after commit)",
              .auth = route_auth::ingest,
              .headers = "X-Tracking-Token",
              .body = "UsageEvent",
              .responses = "201:IngestCreated 200:IngestDuplicate 400 403 404 413 415 503"});
}

void register_legacy_log_route(router& routes, services& s) {
  routes.add(http::verb::post, "/log", [&s](const request_ptr& c, const responder& r) { handle_log(s, c, r); },
             {.summary = "Legacy: store one usage event with the admin key (use POST /ingest)",
              .headers = "X-Tracking-Token",
              .body = "application/json",
              .responses = "200:application/json 400 403 404 415 503",
              .deprecated = true});
}

}  // namespace cg::server
