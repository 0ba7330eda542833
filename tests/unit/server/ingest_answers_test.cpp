// The one outcome-to-HTTP map (routes/ingest_answers.hpp): every refusal's status, message and Retry-After, the
// single-event bodies, and POST /ingest/batch's answer. The texts are the ones docs/api.md and the integration tests
// hold clients to.
#include "routes/ingest_answers.hpp"

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using cg::ingest::admission_outcome;
using cg::ingest::refusal;
namespace http = cg::server::http;

const cg::server::rate_limit ingest_limit{.per_minute = 600, .burst = 60};

std::string body_of(const cg::server::response& res) { return res.body(); }

}  // namespace

TEST_SUITE("server.ingest_answers") {
  TEST_CASE("each refusal has its status and words; 503s and 429s say when to retry") {
    struct expected {
      admission_outcome outcome;
      http::status status;
      std::string message;
      std::int64_t retry_after;
    };
    const std::vector<expected> all{
        {admission_outcome::refused(refusal::invalid_field, "model", "model is required"), http::status::bad_request,
         "model is required", 0},
        {admission_outcome::refused(refusal::too_many_events, "events", "too many"),
         http::status::payload_too_large, "too many", 0},
        {admission_outcome::refused(refusal::unknown_token, "tracking_token"), http::status::not_found,
         "unknown tracking token", 0},
        {admission_outcome::refused(refusal::inactive_token, "tracking_token", "ci-bot"), http::status::forbidden,
         "tracking token 'ci-bot' is inactive", 0},
        {admission_outcome::refused(refusal::rate_limited, {}, {}, 4), http::status::too_many_requests,
         "rate limit exceeded for this tracking token: 600 per minute, bursts of 60; retry in 4 s", 4},
        {admission_outcome::refused(refusal::queue_full), http::status::service_unavailable,
         "ingest queue is full; retry shortly", 1},
        {admission_outcome::refused(refusal::shutting_down), http::status::service_unavailable,
         "server is shutting down; retry", 1},
        {admission_outcome::refused(refusal::storage_failed, {}, "disk I/O error at /var/lib/x"),
         http::status::service_unavailable,
         "the event could not be stored (storage unavailable); nothing was recorded, retry", 1},
    };
    for (const auto& e : all) {
      CAPTURE(e.message);
      CHECK(cg::server::ingest_status(e.outcome) == e.status);
      CHECK(cg::server::refusal_message(e.outcome, ingest_limit) == e.message);
      CHECK(cg::server::refusal_retry_after(e.outcome) == e.retry_after);
      const auto res = cg::server::single_event_answer(e.outcome, "req-1", ingest_limit, {});
      CHECK(res.result() == e.status);
      CHECK(body_of(res).find(e.message) != std::string::npos);
      CHECK(body_of(res).find("/var/lib") == std::string::npos);  // a storage error never reaches the client
      if (e.retry_after > 0) CHECK(res[http::field::retry_after] == std::to_string(e.retry_after));
    }
  }

  TEST_CASE("single events: 201 with the exact cost on /ingest, 200 with the old app's extras on /log") {
    const auto stored = admission_outcome::stored(42, 1'234'567'891, "server");
    const auto created = cg::server::single_event_answer(stored, "r", ingest_limit, {});
    CHECK(created.result() == http::status::created);
    CHECK(body_of(created) ==
          R"({"ok":true,"id":42,"cost_usd":1.234567891,"cost_usd_exact":"1.234567891","cost_source":"server"})");
    const cg::server::success_shape legacy{.created = http::status::ok, .extra = {{"message", "usage logged"}}};
    const auto logged = cg::server::single_event_answer(stored, "r", ingest_limit, legacy);
    CHECK(logged.result() == http::status::ok);
    CHECK(body_of(logged).find(R"("message":"usage logged")") != std::string::npos);
    const auto dup = cg::server::single_event_answer(admission_outcome::duplicate(42), "r", ingest_limit, legacy);
    CHECK(dup.result() == http::status::ok);
    CHECK(body_of(dup).find(R"("duplicate":true,"id":42)") != std::string::npos);
  }

  TEST_CASE("a batch: counts, per-index results, 200 or 207, the longest Retry-After") {
    std::vector<admission_outcome> outcomes{
        admission_outcome::stored(7, 0, "unpriced"), admission_outcome::duplicate(7),
        admission_outcome::refused(refusal::invalid_field, "events[2].model", "bad")};
    CHECK(cg::server::batch_answer_status(outcomes) == http::status::multi_status);
    CHECK(cg::server::batch_retry_after(outcomes) == 0);
    CHECK(boost::json::serialize(cg::server::batch_answer_body(outcomes, ingest_limit)) ==
          R"({"accepted":1,"duplicates":1,"rejected":1,"results":[{"index":0,"status":201,"id":7},)"
          R"({"index":1,"status":200,"id":7,"duplicate":true},)"
          R"({"index":2,"status":400,"error":"bad","field":"events[2].model"}]})");

    outcomes.pop_back();
    CHECK(cg::server::batch_answer_status(outcomes) == http::status::ok);
    CHECK(cg::server::batch_answer_status({}) == http::status::ok);

    outcomes.push_back(admission_outcome::refused(refusal::rate_limited, {}, {}, 3));
    outcomes.push_back(admission_outcome::refused(refusal::queue_full));
    CHECK(cg::server::batch_retry_after(outcomes) == 3);
    const auto encoded = boost::json::serialize(cg::server::batch_answer_body(outcomes, ingest_limit));
    CHECK(encoded.find(R"({"index":3,"status":503,"error":"ingest queue is full; retry shortly"})") !=
          std::string::npos);  // no empty field
  }
}
