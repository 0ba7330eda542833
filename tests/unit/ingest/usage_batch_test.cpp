// parse_usage_batch and batch_field_path (usage_batch.hpp); the batch answer is the server's (ingest_answers_test.cpp).
#include "cg/ingest/usage_batch.hpp"

#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace {

using cg::ingest::batch_entry;
using cg::ingest::batch_format;
using cg::ingest::parse_usage_batch;
using cg::ingest::usage_event;
using cg::ingest::validation_error;

constexpr std::int64_t now_us = 1'717'200'000'000'000;  // 2024-06-01T00:00:00Z

std::vector<batch_entry> entries(std::string_view body, batch_format format = batch_format::json,
                                 std::string_view header = {}, cg::ingest::batch_limits limits = {}) {
  auto result = parse_usage_batch(body, format, header, now_us, limits);
  REQUIRE(std::holds_alternative<std::vector<batch_entry>>(result));
  return std::get<std::vector<batch_entry>>(result);
}

validation_error refusal(std::string_view body, batch_format format = batch_format::json,
                         cg::ingest::batch_limits limits = {}) {
  auto result = parse_usage_batch(body, format, {}, now_us, limits);
  REQUIRE(std::holds_alternative<validation_error>(result));
  return std::get<validation_error>(result);
}

const usage_event& event_at(const std::vector<batch_entry>& all, std::size_t i) {
  REQUIRE(std::holds_alternative<usage_event>(all.at(i)));
  return std::get<usage_event>(all.at(i));
}

const validation_error& error_at(const std::vector<batch_entry>& all, std::size_t i) {
  REQUIRE(std::holds_alternative<validation_error>(all.at(i)));
  return std::get<validation_error>(all.at(i));
}

const std::string good_a = R"({"tracking_token":"tok","model":"gpt-4o","event_id":"a","prompt_tokens":10})";
const std::string good_b = R"({"tracking_token":"tok","model":"gpt-4o-mini","event_id":"b"})";
const std::string no_model = R"({"tracking_token":"tok","event_id":"c"})";

std::string many(std::size_t n, std::string_view separator) {
  std::string body;
  for (std::size_t i = 0; i < n; ++i) {
    if (i) body += separator;
    body += good_b;
  }
  return body;
}

}  // namespace

TEST_SUITE("ingest.batch") {
  TEST_CASE("the three body shapes give the same events") {
    const auto array = entries("[" + good_a + "," + good_b + "]");
    const auto object = entries(R"({"events":[)" + good_a + "," + good_b + "]}");
    const auto ndjson = entries(good_a + "\n\n" + good_b + "\r\n  \n", batch_format::ndjson);
    for (const auto* all : {&array, &object, &ndjson}) {
      REQUIRE(all->size() == 2);
      CHECK(event_at(*all, 0).model == "gpt-4o");
      CHECK(event_at(*all, 0).tokens.input == 10);
      CHECK(event_at(*all, 1).event_id == "b");
    }
  }

  TEST_CASE("an NDJSON body without a final newline, and with CRLF line ends") {
    CHECK(entries(good_a + "\r\n" + good_b, batch_format::ndjson).size() == 2);
  }

  TEST_CASE("each event is judged alone and its field path is prefixed") {
    const auto all = entries("[" + good_a + "," + no_model + R"(,{"tracking_token":"tok","model":"m",)"
                             R"("usage":{"prompt_tokens":-1}}, 7])");
    REQUIRE(all.size() == 4);
    event_at(all, 0);
    CHECK(error_at(all, 1).reason == cg::ingest::refusal::invalid_field);
    CHECK(error_at(all, 1).field == "events[1].model");
    CHECK(error_at(all, 1).message.starts_with("events[1]: "));
    CHECK(error_at(all, 2).field == "events[2].usage.prompt_tokens");
    CHECK(error_at(all, 3).field == "events[3]");
    CHECK(error_at(all, 3).message.find("JSON object") != std::string::npos);
  }

  TEST_CASE("the X-Tracking-Token header applies to every event; a different body token refuses that event") {
    const auto all = entries(R"([{"model":"a"},{"model":"b","tracking_token":"tok"},)"
                             R"({"model":"c","tracking_token":"other"}])",
                             batch_format::json, "tok");
    CHECK(event_at(all, 0).tracking_token == "tok");
    CHECK(event_at(all, 1).tracking_token == "tok");
    CHECK(error_at(all, 2).field == "events[2].tracking_token");
  }

  TEST_CASE("an NDJSON line that is not JSON refuses that event only") {
    const auto all = entries(good_a + "\n{not json\n\n[1,2]\n" + good_b, batch_format::ndjson);
    REQUIRE(all.size() == 4);
    CHECK(error_at(all, 1).field == "events[1]");
    CHECK(error_at(all, 1).message.find("line 2 ") != std::string::npos);
    CHECK(error_at(all, 2).field == "events[2]");  // line 4: blank lines do not count as events
    event_at(all, 3);
  }

  TEST_CASE("a repeated key or a non-finite number refuses its event alone, in every shape (issues 11, 12)") {
    const std::string dup = R"({"tracking_token":"tok","model":"m","event_id":"A","event_id":"B"})";
    const std::string nested = R"({"tracking_token":"tok","model":"m","usage":{"prompt_tokens":1,"prompt_tokens":2}})";
    const std::string huge = R"({"tracking_token":"tok","model":"m","meta":{"x":[1e999]}})";
    const std::string events = good_a + "," + dup + "," + nested + "," + huge + "," + good_b;
    const auto array = entries("[" + events + "]");
    const auto object = entries(R"({"events":[)" + events + "]}");
    const auto ndjson =
        entries(good_a + "\n" + dup + "\n" + nested + "\n" + huge + "\n" + good_b, batch_format::ndjson);
    for (const auto* all : {&array, &object, &ndjson}) {
      REQUIRE(all->size() == 5);
      event_at(*all, 0);
      CHECK(error_at(*all, 1).field == "events[1].event_id");
      CHECK(error_at(*all, 1).message ==
            "events[1]: event_id is given more than once in its object; each key may appear only once");
      CHECK(error_at(*all, 2).field == "events[2].usage.prompt_tokens");
      CHECK(error_at(*all, 3).field == "events[3].meta.x[0]");
      CHECK(error_at(*all, 3).message.find("finite") != std::string::npos);
      event_at(*all, 4);
    }
  }

  TEST_CASE("a repeat or non-finite number outside the events refuses the batch, naming it") {
    auto err = refusal(R"({"events":[)" + good_a + R"(],"events":[)" + good_b + "]}");
    CHECK(err.reason == cg::ingest::refusal::invalid_field);
    CHECK(err.field == "events");
    err = refusal(R"({"events":[)" + good_a + R"(],"note":{"n":1e999}})");
    CHECK(err.field == "note.n");
    err = refusal(R"({"other":[{"a":1,"a":2}],"events":[)" + good_a + "]}");
    CHECK(err.field == "other[0].a");
  }

  TEST_CASE("a body that is not a batch is refused as a whole") {
    SUBCASE("not JSON") {
      const auto e = refusal("[{\"model\":");
      CHECK(e.reason == cg::ingest::refusal::invalid_field);
      CHECK(e.field.empty());
    }
    SUBCASE("a single event object, without events") {
      const auto e = refusal(good_a);
      CHECK(e.reason == cg::ingest::refusal::invalid_field);
      CHECK(e.field == "events");
    }
    SUBCASE("events is not an array") {
      const auto e = refusal(R"({"events":{"model":"x"}})");
      CHECK(e.field == "events");
      CHECK(e.message.find("an object") != std::string::npos);
    }
    SUBCASE("a scalar top level") {
      const auto e = refusal("42");
      CHECK(e.reason == cg::ingest::refusal::invalid_field);
      CHECK(e.field.empty());
    }
    SUBCASE("too deep") {
      const auto e = refusal(std::string(100, '[') + std::string(100, ']'));
      CHECK(e.reason == cg::ingest::refusal::invalid_field);
      CHECK(e.message.find("nested") != std::string::npos);
    }
    SUBCASE("empty: no events") {
      CHECK(refusal("[]").field == "events");
      CHECK(refusal(R"({"events":[]})").field == "events");
      CHECK(refusal("\n \n", batch_format::ndjson).field == "events");
      CHECK(refusal("", batch_format::ndjson).reason == cg::ingest::refusal::invalid_field);
    }
  }

  TEST_CASE("more events than the limit is 413 naming events, in every shape") {
    const cg::ingest::batch_limits limits{.max_events = 3};
    CHECK(entries("[" + many(3, ",") + "]", batch_format::json, {}, limits).size() == 3);
    CHECK(entries(many(3, "\n"), batch_format::ndjson, {}, limits).size() == 3);
    const auto array = refusal("[" + many(4, ",") + "]", batch_format::json, limits);
    CHECK(array.reason == cg::ingest::refusal::too_many_events);
    CHECK(array.field == "events");
    CHECK(array.message.find("4 events") != std::string::npos);
    const auto ndjson = refusal(many(5, "\n\n"), batch_format::ndjson, limits);
    CHECK(ndjson.reason == cg::ingest::refusal::too_many_events);
    CHECK(ndjson.message.find("5 events") != std::string::npos);
  }

  TEST_CASE("1,000 events by default") {
    CHECK(entries("[" + many(1000, ",") + "]").size() == 1000);
    CHECK(refusal("[" + many(1001, ",") + "]").reason == cg::ingest::refusal::too_many_events);
  }

  TEST_CASE("batch_field_path") {
    CHECK(cg::ingest::batch_field_path(0, "") == "events[0]");
    CHECK(cg::ingest::batch_field_path(12, "usage.prompt_tokens") == "events[12].usage.prompt_tokens");
  }
}
