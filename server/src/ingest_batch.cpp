// The POST /ingest/batch handler: decode (encoding, framing), call the ingest module (parse_usage_batch), run each
// valid event through the checks and the writer exactly as POST /ingest does, and answer once every event's
// outcome is known. The rules themselves live in cg::ingest (usage_batch.hpp, batch_results.hpp) and
// content_encoding.hpp; docs/api.md has the decisions.

#include "ingest_batch.hpp"

#include "content_encoding.hpp"
#include "handler_support.hpp"
#include "pipeline.hpp"

#include "cg/ingest/batch_results.hpp"
#include "cg/ingest/event_row.hpp"
#include "cg/ingest/usage_batch.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cctype>
#include <optional>

namespace cg::server {

namespace {

using ingest::batch_event_result;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The body's framing from its Content-Type: JSON (as POST /ingest: none at all is read as JSON) or NDJSON;
/// nullopt for anything else (415).
std::optional<ingest::batch_format> batch_format_of(std::string_view content_type) {
  if (content_type.empty()) return ingest::batch_format::json;
  std::string media;
  for (const char c : content_type.substr(0, content_type.find(';')))
    if (c != ' ' && c != '\t') media += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (media == "application/x-ndjson" || media == "application/ndjson") return ingest::batch_format::ndjson;
  if (media == "application/json" || (media.starts_with("application/") && media.ends_with("+json")))
    return ingest::batch_format::json;
  return std::nullopt;
}

/// The answer being assembled: one slot per event, filled by the handler (refusals) or by the writer's completions
/// (outcomes), in any order and on any IO thread. The last one to settle sends the response.
/// Thread-safety: each slot is written by exactly one party before it settles; `pending` orders those writes
/// before the read in send() (acq_rel), so no lock is needed.
class batch_answer : public std::enable_shared_from_this<batch_answer> {
 public:
  batch_answer(std::size_t events, request_ptr ctx, responder respond, metrics_registry& metrics)
      : results_(events), ctx_(std::move(ctx)), respond_(std::move(respond)), metrics_(metrics) {}

  batch_event_result& slot(std::size_t index) { return results_[index]; }

  /// One more outcome to wait for; call before handing the event to the writer (its completion may run first).
  void expect() { pending_.fetch_add(1, std::memory_order_relaxed); }

  /// One outcome known (or the handler done submitting); the last one answers.
  void settle() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) send();
  }

  /// Logs a failed commit once per request, not once per event.
  void note_storage_failure(const std::string& error) {
    if (logged_failure_.exchange(true)) return;
    log().write("error", "commit_failed", {field("request_id", ctx_->request_id), field("error", error)});
  }

 private:
  void send() {
    // Counted per event, into the counters POST /ingest feeds, so dashboards see events whatever the route.
    for (const auto& r : results_) {
      const auto status = static_cast<unsigned>(r.status);
      metrics_.record_ingest(status == 201   ? metrics_registry::ingest_result::created
                             : status == 200 ? metrics_registry::ingest_result::duplicate
                                             : metrics_registry::ingest_result::refused,
                             status);
    }
    auto res = json_ok(static_cast<http::status>(ingest::batch_status(results_)),
                       ingest::encode_batch_results(results_));
    if (const int retry = ingest::batch_retry_after(results_); retry > 0)
      res.set(http::field::retry_after, std::to_string(retry));
    respond_(std::move(res));
  }

  std::vector<batch_event_result> results_;
  std::atomic<std::size_t> pending_{1};  // the handler's own hold, released once every event was submitted
  std::atomic<bool> logged_failure_{false};
  request_ptr ctx_;
  responder respond_;
  metrics_registry& metrics_;
};

/// What POST /ingest checks after validation, for one event: its token exists (404) and is active (403), and the
/// token's bucket has room (429, charged only once the token is known to exist). The token's row id, or the
/// refusal.
std::variant<std::int64_t, batch_event_result> admit_event(services& s, const request_ptr& ctx,
                                                           const ingest::usage_event& event, std::size_t index) {
  const auto token = s.tokens.find(event.tracking_token);
  const auto token_field = ingest::batch_field_path(index, "tracking_token");
  if (!token) return batch_event_result::refused(404, "unknown tracking token", token_field);
  if (!token->active)
    return batch_event_result::refused(403, fmt::format("tracking token '{}' is inactive", token->label),
                                       token_field);
  const auto& limit = s.limits.config().ingest;
  if (limit.enabled() && !s.limits.exempt(ctx->path)) {
    const auto decision = s.limits.check_ingest(event.tracking_token);
    if (!decision.allowed)
      return batch_event_result::refused(
          429,
          fmt::format("rate limit exceeded for this tracking token: {} per minute, bursts of {}; retry in {} s",
                      limit.per_minute, limit.burst, decision.retry_after_s),
          {}, static_cast<int>(decision.retry_after_s));
  }
  return token->id;
}

/// Hands one admitted event to the group-commit writer; its completion fills the event's slot.
void submit_event(services& s, const std::shared_ptr<batch_answer>& answer, std::size_t index,
                  storage::event_row row) {
  answer->expect();
  const auto status = s.writer.submit(std::move(row), [answer, index](const ingest::write_outcome& outcome) {
    auto& slot = answer->slot(index);
    switch (outcome.result) {
      case ingest::write_outcome::status::created:
        slot = batch_event_result::created(outcome.id);
        break;
      case ingest::write_outcome::status::duplicate:
        slot = batch_event_result::duplicate(outcome.id);
        break;
      case ingest::write_outcome::status::storage_failed:
        answer->note_storage_failure(outcome.error);
        slot = batch_event_result::refused(
            503, "the event could not be stored (storage unavailable); nothing was recorded, retry", {}, 1);
        break;
    }
    answer->settle();
  });
  if (status == ingest::submit_status::queued) return;
  answer->slot(index) = batch_event_result::refused(
      503, status == ingest::submit_status::queue_full ? "ingest queue is full; retry shortly"
                                                       : "server is shutting down; retry",
      {}, 1);
  answer->settle();  // the completion will never run
}

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

  const auto received = now_us();
  auto parsed = ingest::parse_usage_batch(body, *format, ctx->req["X-Tracking-Token"], received,
                                          {.max_events = s.cfg.batch_max_events});
  if (const auto* err = std::get_if<ingest::validation_error>(&parsed))
    return refuse(static_cast<http::status>(err->status), err->message, err->field);
  auto& entries = std::get<std::vector<ingest::batch_entry>>(parsed);

  auto answer = std::make_shared<batch_answer>(entries.size(), ctx, respond, s.metrics);
  // One price table for the whole batch, even if a reload lands half-way.
  const auto prices = s.prices.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto* err = std::get_if<ingest::validation_error>(&entries[i])) {
      answer->slot(i) = batch_event_result::refused(err->status, std::move(err->message), std::move(err->field));
      continue;
    }
    auto& event = std::get<ingest::usage_event>(entries[i]);
    auto admitted = admit_event(s, ctx, event, i);
    if (auto* refusal = std::get_if<batch_event_result>(&admitted)) {
      answer->slot(i) = std::move(*refusal);
      continue;
    }
    submit_event(s, answer, i,
                 ingest::make_event_row(std::move(event), std::get<std::int64_t>(admitted), received, *prices,
                                        "ingest"));
  }
  answer->settle();  // every event is submitted or refused: the last outcome may now answer
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
