// The admission service: from a decoded event to an outcome, against a real SQLite file, the real writer and the
// embedded price table. The order of the checks is the contract: a refused token never reaches the rate limit, a
// refused event never reaches the database.
#include "cg/ingest/admission.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/storage/connection.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace cg;
using namespace std::chrono_literals;
using ingest::admission_outcome;
using ingest::refusal;

/// A quota that counts what it was asked and refuses once `room` is used up.
struct counting_quota final : ingest::token_quota {
  int room = 1'000;
  std::vector<std::string> asked;
  verdict charge(std::string_view token) override {
    asked.emplace_back(token);
    if (room == 0) return {false, 7};
    --room;
    return {};
  }
};

/// Waits for the one outcome of an admit() call, on whichever thread it comes.
struct awaited {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<admission_outcome> got;
  ingest::admission_service::completion done() {
    return [this](admission_outcome o) {
      std::lock_guard lock(mutex);
      got = std::move(o);
      cv.notify_all();
    };
  }
  admission_outcome wait() {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 30s, [&] { return got.has_value(); }));
    return *got;
  }
};

/// An event as POST /ingest parses it; without a token, as the legacy POST /log does (the only way in without one).
ingest::usage_event event(std::string token, std::string event_id) {
  const std::string body = (token.empty() ? std::string("{") : R"({"tracking_token":")" + token + R"(",)") +
                           R"("event_id":")" + event_id +
                           R"(","provider":"openai","model":"gpt-4o-mini","prompt_tokens":1000,"completion_tokens":500})";
  const auto parsed = token.empty() ? ingest::parse_legacy_log_event_text(body, {}, 1'700'000'000'000'000)
                                    : ingest::parse_usage_event_text(body, {}, 1'700'000'000'000'000);
  REQUIRE(std::holds_alternative<ingest::usage_event>(parsed));
  return std::get<ingest::usage_event>(parsed);
}

struct fixture {
  test::temp_dir tmp;
  ingest::token_registry tokens;
  std::atomic<std::shared_ptr<const pricing::price_table>> prices{pricing::price_table::embedded()};
  std::optional<ingest::group_commit_writer> writer;
  std::optional<ingest::admission_service> admission;

  fixture() {
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    storage::token_store store(db);
    store.create("live", "tok-live", 1);
    const auto idle = store.create("idle", "tok-idle", 1);
    store.set_active(idle.id, false);
    tokens.replace(store.list());
    writer.emplace(storage::adopt_sqlite(std::move(db)), ingest::group_commit_writer::options{});
    admission.emplace(tokens, *writer, prices);
  }

  admission_outcome admit(ingest::usage_event e, ingest::token_quota* quota = nullptr) {
    awaited out;
    admission->admit(std::move(e), {.received_us = 1'700'000'000'000'000, .source = "ingest", .quota = quota},
                     out.done());
    return out.wait();
  }
};

}  // namespace

TEST_SUITE("ingest.admission") {
  TEST_CASE("a stored event carries its id and exact cost; the same event again is a duplicate of that id") {
    fixture f;
    counting_quota quota;
    const auto first = f.admit(event("tok-live", "e1"), &quota);
    REQUIRE(first.what == admission_outcome::result::stored);
    CHECK(first.id > 0);
    CHECK(first.cost_source == "server");
    CHECK(first.cost_nusd > 0);
    const auto again = f.admit(event("tok-live", "e1"), &quota);
    CHECK(again.what == admission_outcome::result::duplicate);
    CHECK(again.id == first.id);
    CHECK(quota.asked.size() == 2);  // a retried event still counts against its token's bucket
  }

  TEST_CASE("unknown and inactive tokens are refused before the rate limit is asked, naming tracking_token") {
    fixture f;
    counting_quota quota;
    const auto unknown = f.admit(event("tok-made-up", "e1"), &quota);
    CHECK(unknown.what == admission_outcome::result::refused);
    CHECK(unknown.reason == refusal::unknown_token);
    CHECK(unknown.field == "tracking_token");
    const auto inactive = f.admit(event("tok-idle", "e1"), &quota);
    CHECK(inactive.reason == refusal::inactive_token);
    CHECK(inactive.detail == "idle");
    CHECK(quota.asked.empty());  // made-up tokens never create buckets
  }

  TEST_CASE("an empty bucket refuses with its retry-after, and nothing is stored") {
    fixture f;
    counting_quota quota;
    quota.room = 0;
    const auto limited = f.admit(event("tok-live", "e1"), &quota);
    CHECK(limited.reason == refusal::rate_limited);
    CHECK(limited.retry_after_s == 7);
    quota.room = 1;
    CHECK(f.admit(event("tok-live", "e1"), &quota).what == admission_outcome::result::stored);  // not a duplicate
  }

  TEST_CASE("an event without a tracking token (POST /log) belongs to no token and asks no bucket") {
    fixture f;
    counting_quota quota;
    const auto stored = f.admit(event("", "e1"), &quota);
    CHECK(stored.what == admission_outcome::result::stored);
    CHECK(quota.asked.empty());
  }

  TEST_CASE("after the writer stopped, events are refused as shutting_down, not lost silently") {
    fixture f;
    f.writer->stop();
    const auto refused = f.admit(event("tok-live", "e1"));
    CHECK(refused.reason == refusal::shutting_down);
  }

  TEST_CASE("a validation error becomes an invalid_field outcome naming its field") {
    const auto outcome = admission_outcome::invalid({refusal::invalid_field, "model", "model is required"});
    CHECK(outcome.what == admission_outcome::result::refused);
    CHECK(outcome.reason == refusal::invalid_field);
    CHECK(outcome.field == "model");
    CHECK(outcome.detail == "model is required");
  }
}
