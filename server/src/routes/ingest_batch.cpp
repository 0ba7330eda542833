// The POST /ingest/batch handler: decode (encoding, framing), parse the events (cg::ingest parse_usage_batch), hand
// each valid one to the admission service exactly as POST /ingest does, and answer once every event's outcome is
// known, through the one outcome map (routes/ingest_answers.hpp). docs/api.md has the decisions.

#include "http/content_encoding.hpp"
#include "http/pipeline.hpp"
#include "routes/handler_support.hpp"
#include "routes/ingest_answers.hpp"
#include "routes/routes.hpp"

#include "cg/ingest/admission.hpp"
#include "cg/ingest/usage_batch.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"
#include "cg/values/time.hpp"

#include <fmt/format.h>

#include <atomic>
#include <optional>

namespace cg::server {

namespace {

using ingest::admission_outcome;

/// The body's framing from its Content-Type: JSON (as POST /ingest: none at all is read as JSON) or NDJSON;
/// nullopt for anything else (415).
std::optional<ingest::batch_format> batch_format_of(std::string_view content_type) {
  if (content_type.empty()) return ingest::batch_format::json;
  const auto media = media_type(content_type);
  if (media == "application/x-ndjson" || media == "application/ndjson") return ingest::batch_format::ndjson;
  if (is_json_media(media)) return ingest::batch_format::json;
  return std::nullopt;
}

/// The answer being assembled: one outcome per event, filled by the handler (refusals before the writer) or by the
/// writer's completions, in any order and on any thread. The last one to settle sends the response.
/// Thread-safety: each slot is written by exactly one party before it settles; `pending` orders those writes
/// before the read in send() (acq_rel), so no lock is needed.
class batch_answer : public std::enable_shared_from_this<batch_answer> {
 public:
  batch_answer(std::size_t events, request_ptr ctx, responder respond, services& s)
      : outcomes_(events), ctx_(std::move(ctx)), respond_(std::move(respond)), s_(s) {}

  /// One more outcome to wait for; call before handing the event to admission (its outcome may come first).
  void expect() { pending_.fetch_add(1, std::memory_order_relaxed); }

  /// Event `index`'s outcome is known; the last one answers.
  void settle(std::size_t index, admission_outcome outcome) {
    if (outcome.what == admission_outcome::result::refused && outcome.reason == ingest::refusal::storage_failed)
      note_storage_failure(outcome.detail);
    // A token refusal names the event's own field; the batch answers with the path inside the batch.
    if (outcome.reason != ingest::refusal::invalid_field && !outcome.field.empty())
      outcome.field = ingest::batch_field_path(index, outcome.field);
    outcomes_[index] = std::move(outcome);
    release();
  }

  /// The handler is done submitting; the last outcome (maybe this) answers.
  void release() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) send();
  }

 private:
  /// Logs a failed commit once per request, not once per event.
  void note_storage_failure(const std::string& error) {
    if (logged_failure_.exchange(true)) return;
    log().write("error", "commit_failed", {field("request_id", ctx_->request_id), field("error", error)});
  }

  void send() {
    // Counted per event, into the counters POST /ingest feeds, so dashboards see events whatever the route.
    for (const auto& outcome : outcomes_)
      count_ingest_answer(s_.metrics, static_cast<unsigned>(ingest_status(outcome)));
    const auto& limit = s_.limits.config().ingest;
    auto res = json_ok(batch_answer_status(outcomes_), batch_answer_body(outcomes_, limit));
    if (const auto retry = batch_retry_after(outcomes_); retry > 0)
      res.set(http::field::retry_after, std::to_string(retry));
    respond_(std::move(res));
  }

  std::vector<admission_outcome> outcomes_;
  std::atomic<std::size_t> pending_{1};  // the handler's own hold, released once every event was submitted
  std::atomic<bool> logged_failure_{false};
  request_ptr ctx_;
  responder respond_;
  services& s_;
};

void handle_ingest_batch(services& s, const request_ptr& ctx, const responder& respond) {
  // A request refused as a whole counts once in the ingest counters (its events were never read one by one).
  const auto refuse = [&](http::status status, std::string_view message, std::optional<std::string_view> field) {
    counting_ingest_outcome(s.metrics, respond)(json_error(status, message, ctx->request_id, field));
  };
  if (!constant_time_equal(ctx->req["X-Ingest-Key"], s.cfg.ingest_key))
    return refuse(http::status::unauthorized, "missing or invalid X-Ingest-Key", std::nullopt);

  const auto encoding_header = ctx->req[http::field::content_encoding];
  const auto encoding = parse_content_encoding(encoding_header);
  if (encoding == body_encoding::unsupported)
    return refuse(http::status::unsupported_media_type,
                  fmt::format("Content-Encoding must be gzip or identity, got '{}'", std::string(encoding_header)),
                  std::nullopt);
  const auto content_type = ctx->req[http::field::content_type];
  const auto format = batch_format_of(content_type);
  if (!format)
    return refuse(http::status::unsupported_media_type,
                  fmt::format("Content-Type must be application/json or application/x-ndjson, got '{}'",
                              std::string(content_type)),
                  std::nullopt);

  std::string_view body = ctx->req.body();
  inflate_result inflated;
  if (encoding == body_encoding::gzip) {
    // Bounded by the same limit as a plain body: a gzip bomb stops at BATCH_MAX_BYTES of output.
    inflated = inflate_gzip(body, s.cfg.batch_max_bytes);
    if (inflated.status == inflate_result::outcome::too_large)
      return refuse(http::status::payload_too_large,
                    fmt::format("the body inflates to more than {} bytes (BATCH_MAX_BYTES)", s.cfg.batch_max_bytes),
                    std::nullopt);
    if (inflated.status == inflate_result::outcome::corrupt)
      return refuse(http::status::bad_request, "body is not valid gzip (Content-Encoding: gzip)", std::nullopt);
    body = inflated.body;
  }

  const auto received = values::now_us();
  auto parsed = ingest::parse_usage_batch(body, *format, ctx->req["X-Tracking-Token"], received,
                                          {.max_events = s.cfg.batch_max_events});
  if (auto* err = std::get_if<ingest::validation_error>(&parsed)) {
    const auto outcome = admission_outcome::invalid(std::move(*err));
    return refuse(ingest_status(outcome), outcome.detail, outcome.field);
  }
  auto& entries = std::get<std::vector<ingest::batch_entry>>(parsed);

  auto answer = std::make_shared<batch_answer>(entries.size(), ctx, respond, s);
  // One price table for the whole batch, even if a reload lands half-way.
  const auto prices = s.admission.current_prices();
  request_quota quota(s.limits, *ctx, false);  // each event's 429 is in the body; no RateLimit-* for the request
  const ingest::admission_request how{.received_us = received, .source = "ingest", .quota = &quota,
                                      .prices = prices.get()};
  for (std::size_t i = 0; i < entries.size(); ++i) {
    answer->expect();
    if (auto* err = std::get_if<ingest::validation_error>(&entries[i])) {
      answer->settle(i, admission_outcome::invalid(std::move(*err)));
      continue;
    }
    s.admission.admit(std::move(std::get<ingest::usage_event>(entries[i])), how,
                      [answer, i](admission_outcome outcome) { answer->settle(i, std::move(outcome)); });
  }
  answer->release();  // every event is submitted or refused: the last outcome may now answer
}

}  // namespace

void register_ingest_batch_route(router& routes, services& s) {
  routes.add(http::verb::post, "/ingest/batch",
             [&s](const request_ptr& c, const responder& r) { handle_ingest_batch(s, c, r); },
             {.summary = "Store many usage events (each judged alone; acknowledged after commit)",
              .auth = route_auth::ingest,
              .headers = "X-Tracking-Token Content-Encoding:gzip|identity",
              .body = "UsageEventBatch,application/x-ndjson",
              .responses = "200:BatchResult 207:BatchResult 400 413 415",
              .description =
                  "A JSON array of events, `{\"events\": [...]}`, or NDJSON (one event per line). At most "
                  "BATCH_MAX_EVENTS events (default 1,000) and BATCH_MAX_BYTES (default 10 MiB, also after gzip "
                  "inflation). Each event gets the status POST /ingest would have given it alone (201, 200 "
                  "duplicate, 400, 403, 404, 429, 503); 200 when every event was stored or a duplicate, 207 "
                  "otherwise. Field paths are prefixed `events[i].`."});
}

}  // namespace cg::server
