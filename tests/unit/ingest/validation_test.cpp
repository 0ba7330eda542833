// Every public header of cg::ingest first, so each is shown to compile on its own.
#include "cg/ingest/admission.hpp"
#include "cg/ingest/event_row.hpp"
#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/refusal.hpp"
#include "cg/ingest/strict_json.hpp"
#include "cg/ingest/token_registry.hpp"
#include "cg/ingest/usage_batch.hpp"
#include "cg/ingest/usage_event.hpp"
#include "cg/ingest/validation.hpp"

#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

namespace {

using cg::ingest::format_timestamp;
using cg::ingest::parse_result;
using cg::ingest::parse_timestamp;
using cg::ingest::parse_usd;
using cg::ingest::parse_usage_event;
using cg::ingest::parse_usage_event_text;
using cg::ingest::usage_event;
using cg::ingest::validation_error;

constexpr std::int64_t now_us = 1'717'200'000'000'000;  // 2024-06-01T00:00:00Z
constexpr std::int64_t jan15_1030_us = 1'705'314'600'000'000;  // 2024-01-15T10:30:00Z
constexpr std::int64_t hour_us = 3'600'000'000;

/// `fields` spliced into an event that already has a tracking token and a model.
std::string event_with(std::string_view fields) {
  std::string body = R"({"tracking_token":"tok","model":"gpt-4o-mini")";
  if (!fields.empty()) {
    body += ',';
    body += fields;
  }
  body += '}';
  return body;
}

usage_event accepted(std::string_view body, std::string_view header = {}) {
  INFO("body: ", body);
  const parse_result result = parse_usage_event_text(body, header, now_us);
  if (const auto* error = std::get_if<validation_error>(&result)) {
    FAIL("rejected: field '", error->field, "': ", error->message);
  }
  return std::get<usage_event>(result);
}

validation_error rejected(std::string_view body, std::string_view header = {}) {
  INFO("body: ", body);
  const parse_result result = parse_usage_event_text(body, header, now_us);
  if (std::holds_alternative<usage_event>(result)) FAIL("accepted, expected a 400");
  return std::get<validation_error>(result);
}

/// The body is refused with 400 naming exactly `field`.
void check_rejects(std::string_view body, std::string_view field, std::string_view header = {}) {
  const validation_error error = rejected(body, header);
  INFO("body: ", body, "  message: ", error.message);
  CHECK(error.reason == cg::ingest::refusal::invalid_field);
  CHECK(error.field == field);
  CHECK_FALSE(error.message.empty());
}

std::string repeated(std::string_view unit, std::size_t count) {
  std::string s;
  for (std::size_t i = 0; i < count; ++i) s += unit;
  return s;
}

std::string json_quoted(std::string_view s) { return '"' + std::string(s) + '"'; }

}  // namespace

TEST_SUITE("ingest.validation") {

// ---------------------------------------------------------------------------------------------- the body itself

TEST_CASE("a body that is not JSON is a 400 naming no field") {
  for (std::string_view body : {"", "not json", "{", R"({"model":)", "{} {}", "{'model':'x'}", "[1,]",
                                "{\"model\":\"\xff\"}" /* invalid UTF-8 */}) {
    const validation_error error = rejected(body);
    CHECK(error.reason == cg::ingest::refusal::invalid_field);
    CHECK(error.field.empty());
    CHECK(error.message == "body is not valid JSON");
  }
}

TEST_CASE("a body that is JSON but not an object is a 400 naming no field") {
  for (std::string_view body : {"[]", "42", "\"text\"", "null", "true", R"([{"tracking_token":"t","model":"m"}])"}) {
    check_rejects(body, "");
  }
}

TEST_CASE("a body nested deeper than 64 levels is a 400 naming no field; 64 levels parse") {
  const std::string deep_ok = event_with(R"("extra":)" + repeated("[", 63) + repeated("]", 63));
  accepted(deep_ok);  // the body object is level 1, so 63 arrays make 64
  const std::string too_deep = event_with(R"("extra":)" + repeated("[", 64) + repeated("]", 64));
  const validation_error error = rejected(too_deep);
  CHECK(error.field.empty());
  CHECK(error.message.find("nested") != std::string::npos);
}

TEST_CASE("a NUL character in a string field is a 400 naming the field (PostgreSQL text cannot hold one)") {
  check_rejects(R"({"tracking_token":"tok","model":"gpt\u0000x"})", "model");
  check_rejects(R"({"tracking_token":"tok","model":"m","user":"a\u0000"})", "user");
  check_rejects(R"({"tracking_token":"tok","model":"m","event_id":"\u0000"})", "event_id");
  // Inside meta it stays JSON text ("\u0000" escaped), which every backend stores.
  accepted(R"({"tracking_token":"tok","model":"m","meta":{"k":"a\u0000b"}})");
}

TEST_CASE("parse_usage_event takes an already parsed value") {
  const boost::json::value body = {{"tracking_token", "tok"}, {"model", "m"}, {"prompt_tokens", 3}};
  const parse_result result = parse_usage_event(body, {}, now_us);
  REQUIRE(std::holds_alternative<usage_event>(result));
  CHECK(std::get<usage_event>(result).tokens.input == 3);
  const parse_result not_object = parse_usage_event(boost::json::value(42), {}, now_us);
  REQUIRE(std::holds_alternative<validation_error>(not_object));
  CHECK(std::get<validation_error>(not_object).field.empty());
}

TEST_CASE("the minimal event has zero tokens, no timestamp and no optional fields") {
  const usage_event e = accepted(R"({"tracking_token":"tok","model":"gpt-4o-mini"})");
  CHECK(e.tracking_token == "tok");
  CHECK(e.model == "gpt-4o-mini");
  CHECK(e.provider.empty());
  CHECK_FALSE(e.event_id);
  CHECK_FALSE(e.timestamp_us);
  CHECK(e.tokens.input == 0);
  CHECK(e.tokens.output == 0);
  CHECK(e.tokens.total == 0);
  CHECK(e.tokens.cache_read == 0);
  CHECK(e.tokens.cache_write == 0);
  CHECK(e.tokens.reasoning == 0);
  CHECK_FALSE(e.client_cost_nusd);
  CHECK_FALSE(e.user);
  CHECK_FALSE(e.session_id);
  CHECK_FALSE(e.session_type);
  CHECK_FALSE(e.project);
  CHECK_FALSE(e.feature);
  CHECK_FALSE(e.environment);
  CHECK_FALSE(e.meta);
  CHECK_FALSE(e.operation);
}

TEST_CASE("the seed example of API.md is read field by field") {
  const usage_event e = accepted(R"({ "tracking_token": "abc123", "event_id": "chatcmpl-9x...", "provider": "openai",
    "model": "gpt-4o-mini-2024-07-18", "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
    "cost_usd": 0.0000045, "timestamp": "2024-01-15T10:30:00Z", "meta": {"any": "json"} })");
  CHECK(e.tracking_token == "abc123");
  CHECK(e.event_id == "chatcmpl-9x...");
  CHECK(e.provider == "openai");
  CHECK(e.model == "gpt-4o-mini-2024-07-18");
  CHECK(e.tokens.input == 10);
  CHECK(e.tokens.output == 5);
  CHECK(e.tokens.total == 15);
  CHECK(e.client_cost_nusd == 4500);
  CHECK(e.timestamp_us == jan15_1030_us);
  CHECK(e.meta == R"({"any":"json"})");
}

TEST_CASE("the seed's camelCase body is read like the snake_case one") {
  const usage_event e = accepted(R"({"trackingToken":"abc","model":"m","promptTokens":10,"completionTokens":5,
    "totalTokens":15,"costUsd":0.25,"eventId":"e1","sessionId":"s1","sessionType":"chat","cacheReadTokens":4,
    "cacheWriteTokens":3,"reasoningTokens":2})");
  CHECK(e.tracking_token == "abc");
  CHECK(e.tokens.input == 10);
  CHECK(e.tokens.output == 5);
  CHECK(e.tokens.total == 15);
  CHECK(e.client_cost_nusd == 250'000'000);
  CHECK(e.event_id == "e1");
  CHECK(e.session_id == "s1");
  CHECK(e.session_type == "chat");
  CHECK(e.tokens.cache_read == 4);
  CHECK(e.tokens.cache_write == 3);
  CHECK(e.tokens.reasoning == 2);
}

TEST_CASE("unknown top-level fields are ignored; JSON null reads as absent") {
  const usage_event e = accepted(event_with(R"("colour":"blue","nested":{"x":[1,2]},"event_id":null,
    "prompt_tokens":null,"cost_usd":null,"timestamp":null,"meta":null,"user":null,"usage":null,"provider":null)"));
  CHECK_FALSE(e.event_id);
  CHECK(e.tokens.input == 0);
  CHECK_FALSE(e.client_cost_nusd);
  CHECK_FALSE(e.timestamp_us);
  CHECK_FALSE(e.meta);
  CHECK_FALSE(e.user);
  CHECK(e.provider.empty());
}

TEST_CASE("a key given twice anywhere in the body is a 400 naming its path (issue 12)") {
  check_rejects(event_with(R"("prompt_tokens":1,"prompt_tokens":2)"), "prompt_tokens");
  check_rejects(event_with(R"("prompt_tokens":-1,"prompt_tokens":10)"), "prompt_tokens");
  check_rejects(R"({"tracking_token":"tok","model":"m","event_id":"A","event_id":"B"})", "event_id");
  check_rejects(R"({"model":"a","tracking_token":"tok","model":"b"})", "model");
  check_rejects(event_with(R"("usage":{"prompt_tokens":1,"completion_tokens":2,"prompt_tokens":3})"),
                "usage.prompt_tokens");
  check_rejects(event_with(R"("usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":2}})"),
                "usage.prompt_tokens_details.cached_tokens");
  check_rejects(event_with(R"("meta":{"a":{"b":[{"x":1},{"y":1,"y":1}]}})"), "meta.a.b[1].y");
  // Equal values too: the body still says one thing twice, and which one was meant is not ours to guess.
  check_rejects(event_with(R"("user":"u","user":"u")"), "user");
  // A key written with an escape is the same key.
  check_rejects(event_with(R"("user":"u","user":"v")"), "user");
  const auto error = rejected(event_with(R"("prompt_tokens":-1,"prompt_tokens":10)"));
  CHECK(error.message.find("more than once") != std::string::npos);
  SUBCASE("the same key in different objects is no repeat") {
    const auto e = accepted(event_with(R"("user":"u","meta":{"user":"x","n":{"user":1}},"project":"p")"));
    CHECK(e.user == "u");
  }
}

TEST_CASE("a number beyond the double range anywhere in the body is a 400 naming its path (issue 11)") {
  check_rejects(event_with(R"("meta":{"x":1e999})"), "meta.x");
  check_rejects(event_with(R"("meta":{"x":[0,-1e999]})"), "meta.x[1]");
  check_rejects(event_with(R"("usage":{"prompt_tokens":1e999})"), "usage.prompt_tokens");
  check_rejects(event_with(R"("cost_usd":-1e999)"), "cost_usd");
  SUBCASE("NaN and Infinity are not JSON: a 400 naming no field") {
    for (std::string_view v : {"NaN", "Infinity", "-Infinity", "nan", "inf"}) {
      const auto error = rejected(event_with(std::string(R"("cost_usd":)") + std::string(v)));
      CHECK(error.field.empty());
      CHECK(error.message == "body is not valid JSON");
    }
  }
  SUBCASE("tiny numbers round to zero and are fine") {
    CHECK(accepted(event_with(R"("meta":{"x":1e-999})")).meta.has_value());
  }
}

// ---------------------------------------------------------------------------------------------- tracking token

TEST_CASE("tracking_token: body, header, alias and conflicts") {
  SUBCASE("missing from body and header") { check_rejects(R"({"model":"m"})", "tracking_token"); }
  SUBCASE("null is missing") { check_rejects(R"({"tracking_token":null,"model":"m"})", "tracking_token"); }
  SUBCASE("from the header alone") { CHECK(accepted(R"({"model":"m"})", "hdr").tracking_token == "hdr"); }
  SUBCASE("body and header equal") {
    CHECK(accepted(R"({"tracking_token":"same","model":"m"})", "same").tracking_token == "same");
  }
  SUBCASE("body and header differ") {
    check_rejects(R"({"tracking_token":"body","model":"m"})", "tracking_token", "header");
  }
  SUBCASE("camelCase alias differs from the header: the key used is named") {
    check_rejects(R"({"trackingToken":"body","model":"m"})", "trackingToken", "header");
  }
  SUBCASE("camelCase alias") { CHECK(accepted(R"({"trackingToken":"camel","model":"m"})").tracking_token == "camel"); }
  SUBCASE("both spellings, equal") {
    CHECK(accepted(R"({"tracking_token":"a","trackingToken":"a","model":"m"})").tracking_token == "a");
  }
  SUBCASE("both spellings, different") {
    check_rejects(R"({"tracking_token":"a","trackingToken":"b","model":"m"})", "tracking_token");
  }
  SUBCASE("not a string") { check_rejects(R"({"tracking_token":123,"model":"m"})", "tracking_token"); }
  SUBCASE("camelCase not a string") { check_rejects(R"({"trackingToken":[],"model":"m"})", "trackingToken"); }
  SUBCASE("empty") { check_rejects(R"({"tracking_token":"","model":"m"})", "tracking_token"); }
  SUBCASE("64 bytes is the limit") {
    const std::string at = repeated("t", 64);
    CHECK(accepted(R"({"model":"m","tracking_token":)" + json_quoted(at) + "}").tracking_token == at);
    check_rejects(R"({"model":"m","tracking_token":)" + json_quoted(repeated("t", 65)) + "}", "tracking_token");
  }
  SUBCASE("a header over 64 bytes") {
    CHECK(accepted(R"({"model":"m"})", repeated("h", 64)).tracking_token.size() == 64);
    check_rejects(R"({"model":"m"})", "tracking_token", repeated("h", 65));
  }
}

// ---------------------------------------------------------------------------------------------- strings

TEST_CASE("model: required, a non-empty string of at most 256 bytes") {
  SUBCASE("missing") { check_rejects(R"({"tracking_token":"t"})", "model"); }
  SUBCASE("null") { check_rejects(R"({"tracking_token":"t","model":null})", "model"); }
  SUBCASE("empty") { check_rejects(R"({"tracking_token":"t","model":""})", "model"); }
  SUBCASE("a number") { check_rejects(R"({"tracking_token":"t","model":4})", "model"); }
  SUBCASE("an object") { check_rejects(R"({"tracking_token":"t","model":{"id":"gpt"}})", "model"); }
  SUBCASE("256 bytes accepted, 257 refused") {
    accepted(R"({"tracking_token":"t","model":)" + json_quoted(repeated("m", 256)) + "}");
    check_rejects(R"({"tracking_token":"t","model":)" + json_quoted(repeated("m", 257)) + "}", "model");
  }
  SUBCASE("the limit counts UTF-8 bytes, not characters") {
    // "é" is two bytes: 128 of them are 256 bytes, 129 are 258.
    CHECK(accepted(R"({"tracking_token":"t","model":)" + json_quoted(repeated("\xc3\xa9", 128)) + "}").model.size() ==
          256);
    check_rejects(R"({"tracking_token":"t","model":)" + json_quoted(repeated("\xc3\xa9", 129)) + "}", "model");
  }
  SUBCASE("escapes count as the bytes they decode to") {
    CHECK(accepted(R"({"tracking_token":"t","model":"a\u00e9\n"})").model == "a\xc3\xa9\n");
  }
}

TEST_CASE("event_id: optional, non-empty, at most 200 bytes, alias eventId") {
  SUBCASE("absent") { CHECK_FALSE(accepted(event_with("")).event_id); }
  SUBCASE("given") { CHECK(accepted(event_with(R"("event_id":"chatcmpl-1")")).event_id == "chatcmpl-1"); }
  SUBCASE("alias") { CHECK(accepted(event_with(R"("eventId":"x")")).event_id == "x"); }
  SUBCASE("empty") { check_rejects(event_with(R"("event_id":"")"), "event_id"); }
  SUBCASE("empty alias") { check_rejects(event_with(R"("eventId":"")"), "eventId"); }
  SUBCASE("not a string") { check_rejects(event_with(R"("event_id":17)"), "event_id"); }
  SUBCASE("200 bytes accepted, 201 refused") {
    accepted(event_with(R"("event_id":)" + json_quoted(repeated("e", 200))));
    check_rejects(event_with(R"("event_id":)" + json_quoted(repeated("e", 201))), "event_id");
    check_rejects(event_with(R"("eventId":)" + json_quoted(repeated("e", 201))), "eventId");
  }
  SUBCASE("both spellings differ") { check_rejects(event_with(R"("event_id":"a","eventId":"b")"), "event_id"); }
  SUBCASE("both spellings equal") { CHECK(accepted(event_with(R"("event_id":"a","eventId":"a")")).event_id == "a"); }
}

TEST_CASE("provider: optional string, kept as sent, at most 256 bytes") {
  CHECK(accepted(event_with(R"("provider":"OpenAI")")).provider == "OpenAI");
  CHECK(accepted(event_with(R"("provider":"")")).provider.empty());
  check_rejects(event_with(R"("provider":true)"), "provider");
  accepted(event_with(R"("provider":)" + json_quoted(repeated("p", 256))));
  check_rejects(event_with(R"("provider":)" + json_quoted(repeated("p", 257))), "provider");
}

TEST_CASE("operation: optional, 1 to 64 characters from [A-Za-z0-9_.-], kept as sent") {
  CHECK_FALSE(accepted(event_with(R"("provider":"openai")")).operation);
  CHECK_FALSE(accepted(event_with(R"("operation":null)")).operation);
  for (const std::string name : {"chat", "text_completion", "embeddings", "generate_content", "execute_tool",
                                 "create_agent", "invoke_agent", "responses", "Chat.v2-beta"}) {
    CHECK(accepted(event_with(R"("operation":)" + json_quoted(name))).operation == name);
  }
  accepted(event_with(R"("operation":)" + json_quoted(repeated("o", 64))));
  check_rejects(event_with(R"("operation":)" + json_quoted(repeated("o", 65))), "operation");
  for (const std::string bad : {R"("")", R"("chat ")", R"("chat completion")", R"("chat/1")", R"("é")", "1",
                                "true", R"(["chat"])", R"({"name":"chat"})"}) {
    check_rejects(event_with(R"("operation":)" + bad), "operation");
  }
}

TEST_CASE("attribution fields: optional strings of at most 256 bytes; empty means unattributed") {
  struct attribution_case {
    std::string_view key;
    std::optional<std::string> usage_event::*member;
  };
  const attribution_case cases[] = {
      {"user", &usage_event::user},           {"session_id", &usage_event::session_id},
      {"sessionId", &usage_event::session_id}, {"session_type", &usage_event::session_type},
      {"sessionType", &usage_event::session_type}, {"project", &usage_event::project},
      {"feature", &usage_event::feature},     {"environment", &usage_event::environment},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    const std::string key = json_quoted(c.key);
    CHECK(accepted(event_with(key + R"(:"value")")).*c.member == "value");
    CHECK_FALSE(accepted(event_with(key + R"(:"")")).*c.member);
    CHECK((accepted(event_with(key + ":" + json_quoted(repeated("a", 256)))).*c.member)->size() == 256);
    check_rejects(event_with(key + ":" + json_quoted(repeated("a", 257))), c.key);
    check_rejects(event_with(key + ":42"), c.key);
    check_rejects(event_with(key + R"(:{"id":1})"), c.key);
  }
  SUBCASE("snake and camel both given") {
    CHECK(accepted(event_with(R"("session_id":"s","sessionId":"s")")).session_id == "s");
    check_rejects(event_with(R"("session_id":"s","sessionId":"t")"), "session_id");
    check_rejects(event_with(R"("session_type":"a","sessionType":"b")"), "session_type");
  }
}

// ---------------------------------------------------------------------------------------------- token counts

TEST_CASE("each flat count field and its camelCase alias: integers in [0, 10^12]") {
  const std::string_view fields[] = {"prompt_tokens",     "promptTokens",     "completion_tokens",
                                     "completionTokens",  "total_tokens",     "totalTokens",
                                     "cache_read_tokens", "cacheReadTokens",  "cache_write_tokens",
                                     "cacheWriteTokens",  "reasoning_tokens", "reasoningTokens"};
  for (std::string_view field : fields) {
    CAPTURE(field);
    const std::string key = json_quoted(field) + ":";
    accepted(event_with(key + "0"));
    accepted(event_with(key + "7"));
    accepted(event_with(key + "7.0"));           // an integral double
    accepted(event_with(key + "1000000000000"));  // exactly 10^12
    accepted(event_with(key + "1e12"));
    check_rejects(event_with(key + "1000000000001"), field);
    check_rejects(event_with(key + "1e13"), field);
    check_rejects(event_with(key + "18446744073709551615"), field);  // a uint64
    check_rejects(event_with(key + "1e300"), field);
    check_rejects(event_with(key + "-1"), field);
    check_rejects(event_with(key + "-1.0"), field);
    check_rejects(event_with(key + "10.5"), field);
    check_rejects(event_with(key + "0.1"), field);
    check_rejects(event_with(key + "\"10\""), field);
    check_rejects(event_with(key + "true"), field);
    check_rejects(event_with(key + "[10]"), field);
    check_rejects(event_with(key + "{}"), field);
  }
}

TEST_CASE("flat counts are read into the normalised classes") {
  const usage_event e = accepted(event_with(R"("prompt_tokens":100,"completion_tokens":50,"cache_read_tokens":60,
    "cache_write_tokens":30,"reasoning_tokens":20)"));
  CHECK(e.tokens.input == 100);
  CHECK(e.tokens.output == 50);
  CHECK(e.tokens.total == 150);
  CHECK(e.tokens.cache_read == 60);
  CHECK(e.tokens.cache_write == 30);
  CHECK(e.tokens.reasoning == 20);
}

TEST_CASE("a snake_case count and its camelCase alias must agree") {
  CHECK(accepted(event_with(R"("prompt_tokens":10,"promptTokens":10)")).tokens.input == 10);
  CHECK(accepted(event_with(R"("prompt_tokens":10,"promptTokens":10.0)")).tokens.input == 10);
  check_rejects(event_with(R"("prompt_tokens":10,"promptTokens":11)"), "prompt_tokens");
  check_rejects(event_with(R"("completion_tokens":1,"completionTokens":2)"), "completion_tokens");
  check_rejects(event_with(R"("total_tokens":1,"totalTokens":2)"), "total_tokens");
  check_rejects(event_with(R"("cache_read_tokens":1,"cacheReadTokens":2,"prompt_tokens":9)"), "cache_read_tokens");
  check_rejects(event_with(R"("cache_write_tokens":1,"cacheWriteTokens":2,"prompt_tokens":9)"), "cache_write_tokens");
  check_rejects(event_with(R"("reasoning_tokens":1,"reasoningTokens":2,"completion_tokens":9)"), "reasoning_tokens");
  SUBCASE("an invalid alias is named by its own spelling") {
    check_rejects(event_with(R"("prompt_tokens":10,"promptTokens":-1)"), "promptTokens");
  }
}

TEST_CASE("total_tokens defaults to input + output and may not be smaller") {
  CHECK(accepted(event_with(R"("prompt_tokens":10,"completion_tokens":5)")).tokens.total == 15);
  CHECK(accepted(event_with(R"("prompt_tokens":10,"completion_tokens":5,"total_tokens":15)")).tokens.total == 15);
  // Larger is kept: some providers count tokens that are neither (tool-use prompts, thoughts billed apart).
  CHECK(accepted(event_with(R"("prompt_tokens":10,"completion_tokens":5,"total_tokens":20)")).tokens.total == 20);
  CHECK(accepted(event_with(R"("total_tokens":20)")).tokens.total == 20);
  check_rejects(event_with(R"("prompt_tokens":10,"completion_tokens":5,"total_tokens":14)"), "total_tokens");
  check_rejects(event_with(R"("promptTokens":10,"completionTokens":5,"totalTokens":14)"), "totalTokens");
  SUBCASE("the sum of two maximal counts does not overflow") {
    const usage_event e = accepted(event_with(R"("prompt_tokens":1e12,"completion_tokens":1e12)"));
    CHECK(e.tokens.total == 2'000'000'000'000);
  }
}

TEST_CASE("parts may not exceed their whole; the part is named") {
  SUBCASE("cache read within the input") {
    CHECK(accepted(event_with(R"("prompt_tokens":10,"cache_read_tokens":10)")).tokens.cache_read == 10);
  }
  SUBCASE("cache read over the input") {
    check_rejects(event_with(R"("prompt_tokens":10,"cache_read_tokens":11)"), "cache_read_tokens");
  }
  SUBCASE("cache write over the input") {
    check_rejects(event_with(R"("prompt_tokens":10,"cache_write_tokens":11)"), "cache_write_tokens");
  }
  SUBCASE("cache read + write over the input: the write is named") {
    accepted(event_with(R"("prompt_tokens":10,"cache_read_tokens":6,"cache_write_tokens":4)"));
    check_rejects(event_with(R"("prompt_tokens":10,"cache_read_tokens":6,"cache_write_tokens":5)"),
                  "cache_write_tokens");
  }
  SUBCASE("camelCase parts are named as sent") {
    check_rejects(event_with(R"("promptTokens":10,"cacheReadTokens":11)"), "cacheReadTokens");
  }
  SUBCASE("reasoning over the output") {
    CHECK(accepted(event_with(R"("completion_tokens":5,"reasoning_tokens":5)")).tokens.reasoning == 5);
    check_rejects(event_with(R"("completion_tokens":5,"reasoning_tokens":6)"), "reasoning_tokens");
  }
  SUBCASE("an explicit zero whole still holds its parts") {
    check_rejects(event_with(R"("prompt_tokens":0,"cache_read_tokens":1)"), "cache_read_tokens");
  }
}

TEST_CASE("a whole that is not given is the sum of its given parts") {
  const usage_event e = accepted(event_with(R"("cache_read_tokens":60,"cache_write_tokens":30,"reasoning_tokens":7)"));
  CHECK(e.tokens.input == 90);
  CHECK(e.tokens.cache_read == 60);
  CHECK(e.tokens.cache_write == 30);
  CHECK(e.tokens.output == 7);
  CHECK(e.tokens.reasoning == 7);
  CHECK(e.tokens.total == 97);
}

// ---------------------------------------------------------------------------------------------- native usage

TEST_CASE("usage from OpenAI Chat Completions") {
  const usage_event e = accepted(event_with(R"("provider":"openai","usage":{"prompt_tokens":1200,
    "completion_tokens":300,"total_tokens":1500,
    "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
    "completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0,"accepted_prediction_tokens":0,
                                 "rejected_prediction_tokens":0}})"));
  CHECK(e.tokens.input == 1200);
  CHECK(e.tokens.output == 300);
  CHECK(e.tokens.total == 1500);
  CHECK(e.tokens.cache_read == 1024);
  CHECK(e.tokens.cache_write == 0);
  CHECK(e.tokens.reasoning == 128);

  SUBCASE("details may be null or missing") {
    const usage_event n = accepted(event_with(R"("usage":{"prompt_tokens":9,"completion_tokens":1,
      "total_tokens":10,"prompt_tokens_details":null})"));
    CHECK(n.tokens.input == 9);
    CHECK(n.tokens.cache_read == 0);
    CHECK(n.tokens.total == 10);
  }
  SUBCASE("errors name the dotted path inside usage") {
    check_rejects(event_with(R"("usage":{"prompt_tokens":-1})"), "usage.prompt_tokens");
    check_rejects(event_with(R"("usage":{"prompt_tokens":1,"completion_tokens":"2"})"), "usage.completion_tokens");
    check_rejects(event_with(R"("usage":{"prompt_tokens":1,"total_tokens":1.5})"), "usage.total_tokens");
    check_rejects(event_with(R"("usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":true}})"),
                  "usage.prompt_tokens_details.cached_tokens");
    check_rejects(event_with(R"("usage":{"prompt_tokens":10,"prompt_tokens_details":[1]})"),
                  "usage.prompt_tokens_details");
    check_rejects(event_with(R"("usage":{"completion_tokens":10,"completion_tokens_details":5})"),
                  "usage.completion_tokens_details");
  }
  SUBCASE("parts over wholes inside usage name the part's path") {
    check_rejects(event_with(R"("usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":11}})"),
                  "usage.prompt_tokens_details.cached_tokens");
    check_rejects(event_with(R"("usage":{"completion_tokens":10,
                                 "completion_tokens_details":{"reasoning_tokens":11}})"),
                  "usage.completion_tokens_details.reasoning_tokens");
    check_rejects(event_with(R"("usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":14})"),
                  "usage.total_tokens");
  }
}

TEST_CASE("usage from the OpenAI Responses API: input_tokens includes the cached ones") {
  const usage_event e = accepted(event_with(R"("provider":"openai","usage":{"input_tokens":1000,
    "input_tokens_details":{"cached_tokens":400},"output_tokens":250,
    "output_tokens_details":{"reasoning_tokens":200},"total_tokens":1250})"));
  CHECK(e.tokens.input == 1000);
  CHECK(e.tokens.cache_read == 400);
  CHECK(e.tokens.output == 250);
  CHECK(e.tokens.reasoning == 200);
  CHECK(e.tokens.total == 1250);
  CHECK(e.tokens.cache_write == 0);
  check_rejects(event_with(R"("usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":11}})"),
                "usage.input_tokens_details.cached_tokens");
  check_rejects(event_with(R"("usage":{"output_tokens":10,"output_tokens_details":{"reasoning_tokens":11}})"),
                "usage.output_tokens_details.reasoning_tokens");
  check_rejects(event_with(R"("usage":{"input_tokens":1.5,"output_tokens":1})"), "usage.input_tokens");
}

TEST_CASE("usage from Anthropic Messages: input_tokens excludes the cache, which is added back") {
  const usage_event e = accepted(event_with(R"("provider":"anthropic","usage":{"input_tokens":20,
    "cache_creation_input_tokens":300,"cache_read_input_tokens":1500,"output_tokens":80,
    "cache_creation":{"ephemeral_5m_input_tokens":300,"ephemeral_1h_input_tokens":0},
    "server_tool_use":null,"service_tier":"standard"})"));
  CHECK(e.tokens.input == 1820);
  CHECK(e.tokens.cache_write == 300);
  CHECK(e.tokens.cache_read == 1500);
  CHECK(e.tokens.output == 80);
  CHECK(e.tokens.total == 1900);
  CHECK(e.tokens.reasoning == 0);

  SUBCASE("the cache keys identify Anthropic whatever the provider says, even when null") {
    const usage_event n = accepted(event_with(R"("usage":{"input_tokens":20,"cache_creation_input_tokens":null,
      "cache_read_input_tokens":5,"output_tokens":1})"));
    CHECK(n.tokens.input == 25);
    CHECK(n.tokens.cache_read == 5);
    CHECK(n.tokens.cache_write == 0);
  }
  SUBCASE("errors name the Anthropic key") {
    check_rejects(event_with(R"("usage":{"input_tokens":1,"cache_read_input_tokens":-5})"),
                  "usage.cache_read_input_tokens");
    check_rejects(event_with(R"("usage":{"input_tokens":1,"cache_creation_input_tokens":"5"})"),
                  "usage.cache_creation_input_tokens");
    check_rejects(event_with(R"("usage":{"input_tokens":1,"cache_read_input_tokens":0,"output_tokens":[]})"),
                  "usage.output_tokens");
  }
}

TEST_CASE("input_tokens/output_tokens alone: provider anthropic reads Anthropic, anything else Responses") {
  // Both readings give the same input and output here; they differ in whether total_tokens is a usage key.
  const std::string usage = R"("usage":{"input_tokens":10,"output_tokens":5,"total_tokens":99})";
  CHECK(accepted(event_with(R"("provider":"openai",)" + usage)).tokens.total == 99);
  CHECK(accepted(event_with(usage)).tokens.total == 99);
  CHECK(accepted(event_with(R"("provider":"anthropic",)" + usage)).tokens.total == 15);
  CHECK(accepted(event_with(R"("provider":"Anthropic",)" + usage)).tokens.total == 15);
  SUBCASE("Responses' details keys identify Responses even for provider anthropic") {
    const usage_event e = accepted(event_with(R"("provider":"anthropic","usage":{"input_tokens":10,
      "input_tokens_details":{"cached_tokens":4},"output_tokens":5})"));
    CHECK(e.tokens.input == 10);
    CHECK(e.tokens.cache_read == 4);
  }
}

TEST_CASE("a usage object that is not one of the known shapes is a 400 on usage") {
  check_rejects(event_with(R"("usage":{})"), "usage");
  check_rejects(event_with(R"("usage":{"promptTokenCount":5,"candidatesTokenCount":2})"), "usage");
  check_rejects(event_with(R"("usage":[1,2])"), "usage");
  check_rejects(event_with(R"("usage":"10 tokens")"), "usage");
  check_rejects(event_with(R"("usage":7)"), "usage");
}

TEST_CASE("unknown keys inside usage are ignored") {
  const usage_event e = accepted(event_with(R"("usage":{"prompt_tokens":3,"completion_tokens":2,
    "brand_new_counter":{"deep":[1,2,3]},"another":"x"})"));
  CHECK(e.tokens.input == 3);
  CHECK(e.tokens.output == 2);
}

TEST_CASE("a count both flat and in usage: equal is fine, different is a 400 naming the flat field") {
  SUBCASE("equal") {
    const usage_event e = accepted(event_with(R"("prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
      "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15})"));
    CHECK(e.tokens.input == 10);
    CHECK(e.tokens.total == 15);
  }
  SUBCASE("flat and usage complement each other") {
    const usage_event e =
        accepted(event_with(R"("cache_write_tokens":4,"usage":{"prompt_tokens":10,"completion_tokens":5})"));
    CHECK(e.tokens.input == 10);
    CHECK(e.tokens.cache_write == 4);
  }
  SUBCASE("each class") {
    check_rejects(event_with(R"("prompt_tokens":9,"usage":{"prompt_tokens":10})"), "prompt_tokens");
    check_rejects(event_with(R"("promptTokens":9,"usage":{"prompt_tokens":10})"), "promptTokens");
    check_rejects(event_with(R"("completion_tokens":4,"usage":{"completion_tokens":5})"), "completion_tokens");
    check_rejects(event_with(R"("total_tokens":16,"usage":{"prompt_tokens":10,"completion_tokens":5,
      "total_tokens":15})"),
                  "total_tokens");
    check_rejects(event_with(R"("cache_read_tokens":3,"usage":{"prompt_tokens":10,
      "prompt_tokens_details":{"cached_tokens":4}})"),
                  "cache_read_tokens");
    check_rejects(event_with(R"("reasoning_tokens":3,"usage":{"output_tokens":10,
      "output_tokens_details":{"reasoning_tokens":4}})"),
                  "reasoning_tokens");
    check_rejects(event_with(R"("cache_write_tokens":3,"usage":{"input_tokens":1,
      "cache_creation_input_tokens":4})"),
                  "cache_write_tokens");
  }
  SUBCASE("Anthropic's values are compared after normalisation") {
    const std::string usage =
        R"("usage":{"input_tokens":20,"cache_creation_input_tokens":30,"cache_read_input_tokens":50,"output_tokens":1})";
    CHECK(accepted(event_with(R"("prompt_tokens":100,)" + usage)).tokens.input == 100);
    // The raw Anthropic input_tokens is not the whole input.
    check_rejects(event_with(R"("prompt_tokens":20,)" + usage), "prompt_tokens");
  }
}

// ---------------------------------------------------------------------------------------------- cost

TEST_CASE("cost_usd: a positive number is kept exactly as nano-USD") {
  CHECK(accepted(event_with(R"("cost_usd":0.0000045)")).client_cost_nusd == 4500);
  CHECK(accepted(event_with(R"("cost_usd":4.5e-06)")).client_cost_nusd == 4500);
  CHECK(accepted(event_with(R"("cost_usd":0.000002250)")).client_cost_nusd == 2250);
  CHECK(accepted(event_with(R"("cost_usd":0.1)")).client_cost_nusd == 100'000'000);
  CHECK(accepted(event_with(R"("cost_usd":123.456789012)")).client_cost_nusd == 123'456'789'012);
  CHECK(accepted(event_with(R"("cost_usd":2)")).client_cost_nusd == 2'000'000'000);
  CHECK(accepted(event_with(R"("costUsd":0.25)")).client_cost_nusd == 250'000'000);
  CHECK(accepted(event_with(R"("cost_usd":1e9)")).client_cost_nusd == 1'000'000'000'000'000'000);
  // Positive but below half a nano-USD: still the client's cost (zero), not a reason to price it ourselves.
  CHECK(accepted(event_with(R"("cost_usd":1e-12)")).client_cost_nusd == 0);
}

TEST_CASE("cost_usd: zero or absent means the server prices the event") {
  CHECK_FALSE(accepted(event_with(R"("cost_usd":0)")).client_cost_nusd);
  CHECK_FALSE(accepted(event_with(R"("cost_usd":0.0)")).client_cost_nusd);
  CHECK_FALSE(accepted(event_with(R"("cost_usd":-0.0)")).client_cost_nusd);
  CHECK_FALSE(accepted(event_with("")).client_cost_nusd);
}

TEST_CASE("cost_usd: wrong type, negative, too large, non-finite and alias conflicts are 400s") {
  check_rejects(event_with(R"("cost_usd":-0.01)"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":-1)"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":"0.01")"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":true)"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":{})"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":1e10)"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":18446744073709551615)"), "cost_usd");
  check_rejects(event_with(R"("costUsd":-1)"), "costUsd");
  check_rejects(event_with(R"("cost_usd":0.5,"costUsd":0.25)"), "cost_usd");
  check_rejects(event_with(R"("cost_usd":0,"costUsd":0.25)"), "cost_usd");
  CHECK(accepted(event_with(R"("cost_usd":0.5,"costUsd":0.5)")).client_cost_nusd == 500'000'000);
  SUBCASE("an exponent beyond a double's range reads as infinity") {
    check_rejects(event_with(R"("cost_usd":1e400)"), "cost_usd");
    check_rejects(event_with(R"("prompt_tokens":1e400)"), "prompt_tokens");
  }
  SUBCASE("NaN and infinity in an already parsed value") {
    for (double d : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
      const boost::json::value body = {{"tracking_token", "t"}, {"model", "m"}, {"cost_usd", d}};
      const parse_result result = parse_usage_event(body, {}, now_us);
      REQUIRE(std::holds_alternative<validation_error>(result));
      CHECK(std::get<validation_error>(result).field == "cost_usd");
    }
  }
}

// ---------------------------------------------------------------------------------------------- timestamps

TEST_CASE("timestamp in an event") {
  SUBCASE("absent: the server's receive time applies later") { CHECK_FALSE(accepted(event_with("")).timestamp_us); }
  SUBCASE("Z") {
    CHECK(accepted(event_with(R"("timestamp":"2024-01-15T10:30:00Z")")).timestamp_us == jan15_1030_us);
  }
  SUBCASE("a number is refused") {
    check_rejects(event_with(R"("timestamp":1705314600)"), "timestamp");
    check_rejects(event_with(R"("timestamp":1705314600.5)"), "timestamp");
  }
  SUBCASE("not a string") { check_rejects(event_with(R"("timestamp":{"s":1})"), "timestamp"); }
  SUBCASE("unparsable") {
    check_rejects(event_with(R"("timestamp":"yesterday")"), "timestamp");
    check_rejects(event_with(R"("timestamp":"2024-01-15T10:30:00")"), "timestamp");
    check_rejects(event_with(R"("timestamp":"2023-02-29")"), "timestamp");
  }
  SUBCASE("24 h ahead of the server clock is the limit") {
    const std::string at = format_timestamp(now_us + 24 * hour_us);
    const std::string past = format_timestamp(now_us + 24 * hour_us + 1);
    CHECK(accepted(event_with(R"("timestamp":)" + json_quoted(at))).timestamp_us == now_us + 24 * hour_us);
    check_rejects(event_with(R"("timestamp":)" + json_quoted(past)), "timestamp");
    check_rejects(event_with(R"("timestamp":"2030-01-01")"), "timestamp");
  }
  SUBCASE("the past has no limit") {
    CHECK(accepted(event_with(R"("timestamp":"1999-12-31T23:59:59Z")")).timestamp_us == 946'684'799'000'000);
  }
  SUBCASE("a shorter skew from the limits") {
    cg::ingest::event_limits limits;
    limits.future_skew_us = 1'000'000;
    const std::string body = event_with(R"("timestamp":)" + json_quoted(format_timestamp(now_us + 2'000'000)));
    const parse_result result = parse_usage_event_text(body, {}, now_us, limits);
    REQUIRE(std::holds_alternative<validation_error>(result));
    CHECK(std::get<validation_error>(result).field == "timestamp");
  }
}

TEST_CASE("parse_timestamp: the accepted forms") {
  CHECK(parse_timestamp("2024-01-15T10:30:00Z") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T10:30:00z") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15t10:30:00Z") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15 10:30:00Z") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T10:30:00+00:00") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T10:30:00-00:00") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T11:30:00+01:00") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T05:00:00-05:30") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15T16:00:00+0530") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-16T00:30:00+14:00") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-14T23:30:00-11:00") == jan15_1030_us);
  CHECK(parse_timestamp("2024-01-15") == jan15_1030_us - (10 * 60 + 30) * 60'000'000LL);
  CHECK(parse_timestamp("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_timestamp("1969-12-31T23:59:59Z") == -1'000'000);
  CHECK(parse_timestamp("9999-12-31T23:59:59.999999Z") == 253'402'300'799'999'999);
  CHECK(parse_timestamp("0001-01-01T00:00:00Z") == -62'135'596'800'000'000);
}

TEST_CASE("parse_timestamp: fractions of 1 to 9 digits, truncated to microseconds") {
  CHECK(parse_timestamp("2024-01-15T10:30:00.1Z") == jan15_1030_us + 100'000);
  CHECK(parse_timestamp("2024-01-15T10:30:00.123Z") == jan15_1030_us + 123'000);
  CHECK(parse_timestamp("2024-01-15T10:30:00.123456Z") == jan15_1030_us + 123'456);
  CHECK(parse_timestamp("2024-01-15T10:30:00.1234569Z") == jan15_1030_us + 123'456);
  CHECK(parse_timestamp("2024-01-15T10:30:00.999999999Z") == jan15_1030_us + 999'999);
  CHECK(parse_timestamp("2024-01-15T11:30:00.000001+01:00") == jan15_1030_us + 1);
  CHECK(parse_timestamp("1969-12-31T23:59:59.5Z") == -500'000);
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00.1234567890Z"));  // ten digits
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00.Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00,5Z"));
}

TEST_CASE("parse_timestamp: the calendar is checked") {
  CHECK(parse_timestamp("2024-02-29") == 1'709'164'800'000'000);  // 2024 is a leap year
  CHECK(parse_timestamp("2000-02-29"));                           // divisible by 400
  CHECK_FALSE(parse_timestamp("2023-02-29"));
  CHECK_FALSE(parse_timestamp("1900-02-29"));  // divisible by 100, not by 400
  CHECK_FALSE(parse_timestamp("2024-02-30"));
  CHECK_FALSE(parse_timestamp("2024-04-31"));
  CHECK(parse_timestamp("2024-12-31"));
  CHECK_FALSE(parse_timestamp("2024-13-01"));
  CHECK_FALSE(parse_timestamp("2024-00-10"));
  CHECK_FALSE(parse_timestamp("2024-01-00"));
  CHECK_FALSE(parse_timestamp("2024-01-32"));
  CHECK(parse_timestamp("2024-01-15T23:59:59Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T24:00:00Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:60:00Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:60Z"));  // leap seconds are refused
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00+24:00"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00+05:60"));
}

TEST_CASE("parse_timestamp: anything else is refused") {
  for (std::string_view text :
       {"", "2024", "2024-01", "2024-1-15", "24-01-15", "2024/01/15", "2024-01-15T", "2024-01-15T10:30Z",
        "2024-01-15T10:30:00", "2024-01-15T10:30:00.5", "2024-01-15T10:30:00ZZ", "2024-01-15T10:30:00+01",
        "2024-01-15T10:30:00+1:00", "2024-01-15T10:30:00+01:0", "2024-01-15T10:30:00 +01:00",
        "2024-01-15T10:30:00UTC", "2024-01-15X10:30:00Z", " 2024-01-15", "2024-01-15 ", "2024-01-15Z",
        "+2024-01-15", "2024-01-15T1:30:00Z", "１９７０-01-01", "1705314600", "Mon, 15 Jan 2024 10:30:00 GMT",
        "2024-01-15T10:30:00.+01:00", "2024-01-15T10:30:00-", "2024-01-15T10:30:00+01:00:00"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_timestamp(text));
  }
}

TEST_CASE("format_timestamp: UTC with Z, microseconds only when non-zero") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00Z");
  CHECK(format_timestamp(jan15_1030_us) == "2024-01-15T10:30:00Z");
  CHECK(format_timestamp(jan15_1030_us + 123'456) == "2024-01-15T10:30:00.123456Z");
  CHECK(format_timestamp(jan15_1030_us + 1) == "2024-01-15T10:30:00.000001Z");
  CHECK(format_timestamp(jan15_1030_us + 500'000) == "2024-01-15T10:30:00.500000Z");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_timestamp(-1'000'000) == "1969-12-31T23:59:59Z");
  CHECK(format_timestamp(1'709'164'800'000'000) == "2024-02-29T00:00:00Z");
  CHECK(format_timestamp(253'402'300'799'999'999) == "9999-12-31T23:59:59.999999Z");
  SUBCASE("outside years 0000-9999 the value is clamped") {
    CHECK(format_timestamp(std::numeric_limits<std::int64_t>::max()) == "9999-12-31T23:59:59.999999Z");
    CHECK(format_timestamp(std::numeric_limits<std::int64_t>::min()) == "0000-01-01T00:00:00Z");
  }
}

TEST_CASE("format_timestamp and parse_timestamp round-trip") {
  // A spread of instants over the four-digit years, each with an odd microsecond part.
  std::int64_t us = -62'167'219'200'000'000;  // 0000-01-01T00:00:00Z
  const std::int64_t step = 3'919'456'789'123;  // about 45 days and a bit
  std::size_t checked = 0;
  for (; us <= 253'402'300'799'999'999; us += step, ++checked) {
    const std::string text = format_timestamp(us);
    CAPTURE(text);
    REQUIRE(parse_timestamp(text) == us);
  }
  CHECK(checked > 80'000);
  for (std::string_view text : {"2024-02-29T12:00:00Z", "2024-12-31T23:59:59.999999Z", "2000-01-01T00:00:00Z",
                                "0000-01-01T00:00:00Z", "1600-02-29T00:00:00.000001Z"}) {
    const auto parsed = parse_timestamp(text);
    REQUIRE(parsed);
    CHECK(format_timestamp(*parsed) == text);
  }
}

// ---------------------------------------------------------------------------------------------- parse_usd

TEST_CASE("parse_usd: exact decimals") {
  CHECK(parse_usd("0") == 0);
  CHECK(parse_usd("0.0") == 0);
  CHECK(parse_usd("-0") == 0);
  CHECK(parse_usd("-0.000") == 0);
  CHECK(parse_usd("0e5") == 0);
  CHECK(parse_usd("1") == 1'000'000'000);
  CHECK(parse_usd("0.000000001") == 1);
  CHECK(parse_usd("0.000002250") == 2250);
  CHECK(parse_usd("0.0000045") == 4500);
  CHECK(parse_usd("4.5e-06") == 4500);
  CHECK(parse_usd("4.5E-6") == 4500);
  CHECK(parse_usd("45e-7") == 4500);
  CHECK(parse_usd("12.5e-1") == 1'250'000'000);
  CHECK(parse_usd("1e+2") == 100'000'000'000);
  CHECK(parse_usd("0.00100") == 1'000'000);
  CHECK(parse_usd("123456789.123456789") == 123'456'789'123'456'789);
}

TEST_CASE("parse_usd: beyond nine decimals rounds half to even, once") {
  CHECK(parse_usd("0.0000000004") == 0);
  CHECK(parse_usd("0.0000000005") == 0);  // tie, 0 is even
  CHECK(parse_usd("0.0000000006") == 1);
  CHECK(parse_usd("0.0000000015") == 2);  // tie, up to even
  CHECK(parse_usd("0.0000000025") == 2);  // tie, down to even
  CHECK(parse_usd("0.00000000250000000001") == 3);  // just above the tie
  CHECK(parse_usd("0.00000000249999999999") == 2);  // just below it
  CHECK(parse_usd("0.0000000035") == 4);
  CHECK(parse_usd("1.0000000005") == 1'000'000'000);
  CHECK(parse_usd("1.0000000015") == 1'000'000'002);
  CHECK(parse_usd("0.00000000005") == 0);  // a twentieth of a nano-USD
  CHECK(parse_usd("0.0000000009999") == 1);
  CHECK(parse_usd("5e-10") == 0);
  CHECK(parse_usd("15e-10") == 2);
  CHECK(parse_usd("1e-1000000000") == 0);
}

TEST_CASE("parse_usd: the limit is 10^9 USD") {
  CHECK(parse_usd("1000000000") == 1'000'000'000'000'000'000);
  CHECK(parse_usd("1e9") == 1'000'000'000'000'000'000);
  CHECK(parse_usd("1000000000.0000000004") == 1'000'000'000'000'000'000);  // rounds down onto the limit
  CHECK_FALSE(parse_usd("1000000000.0000000006"));                          // rounds up past it
  CHECK_FALSE(parse_usd("1000000000.000000001"));
  CHECK_FALSE(parse_usd("1e10"));
  CHECK_FALSE(parse_usd("99999999999999999999"));
  CHECK_FALSE(parse_usd("1e1000000000"));
  CHECK_FALSE(parse_usd("1e99999999999999999999999"));
}

TEST_CASE("parse_usd: negative values and garbage are refused") {
  for (std::string_view text : {"-1", "-0.000000001", "-4.5e-06", "", "-", "abc", "1.", ".5", "01", "00.1", "1e",
                                "1e+", "+1", " 1", "1 ", "1,5", "inf", "nan", "Infinity", "0x10", "1..2", "1e5.5",
                                "--1", "1-", "\"1\"", "1_000"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_usd(text));
  }
}

// ---------------------------------------------------------------------------------------------- meta

TEST_CASE("meta is stored as compact JSON text, any JSON value") {
  CHECK(accepted(event_with(R"("meta": { "a" : [1, 2, {"b": null}], "c": "d" })")).meta ==
        R"({"a":[1,2,{"b":null}],"c":"d"})");
  CHECK(accepted(event_with(R"("meta":"a string")")).meta == R"("a string")");
  CHECK(accepted(event_with(R"("meta":42)")).meta == "42");
  CHECK(accepted(event_with(R"("meta":[])")).meta == "[]");
  CHECK(accepted(event_with(R"("meta":{})")).meta == "{}");
  CHECK(accepted(event_with(R"("meta":false)")).meta == "false");
}

TEST_CASE("meta: at most 8 KiB as compact JSON") {
  // {"k":"…"} is 8 bytes around the string.
  const std::string at = R"({"k":")" + repeated("x", 8192 - 8) + R"("})";
  REQUIRE(at.size() == 8192);
  CHECK(accepted(event_with(R"("meta":)" + at)).meta->size() == 8192);
  const std::string over = R"({"k":")" + repeated("x", 8192 - 7) + R"("})";
  check_rejects(event_with(R"("meta":)" + over), "meta");
  SUBCASE("whitespace in the body does not count") {
    const std::string spaced = R"({  "k"  :  ")" + repeated("x", 8192 - 8) + R"("  })";
    CHECK(accepted(event_with(R"("meta":)" + spaced)).meta->size() == 8192);
  }
  SUBCASE("a meta far over the limit") {
    check_rejects(event_with(R"("meta":[)" + repeated("\"0123456789\",", 50'000) + "1]"), "meta");
  }
}

TEST_CASE("meta: nested at most 8 deep, meta itself being depth 1") {
  SUBCASE("objects") {
    // 8 objects: {"a":{"a":...{}...}}
    const std::string eight = repeated(R"({"a":)", 7) + "{}" + repeated("}", 7);
    CHECK(accepted(event_with(R"("meta":)" + eight)).meta == eight);
    const std::string nine = repeated(R"({"a":)", 8) + "{}" + repeated("}", 8);
    check_rejects(event_with(R"("meta":)" + nine), "meta");
  }
  SUBCASE("arrays") {
    accepted(event_with(R"("meta":)" + repeated("[", 8) + "1" + repeated("]", 8)));
    check_rejects(event_with(R"("meta":)" + repeated("[", 9) + "1" + repeated("]", 9)), "meta");
  }
  SUBCASE("scalars add no level") {
    accepted(event_with(R"("meta":)" + repeated(R"({"a":)", 8) + R"("leaf")" + repeated("}", 8)));
  }
  SUBCASE("a deep branch after shallow ones is found") {
    const std::string deep = R"({"x":1,"y":[1,2],"z":)" + repeated("[", 8) + repeated("]", 8) + "}";
    check_rejects(event_with(R"("meta":)" + deep), "meta");
  }
  SUBCASE("a configured limit") {
    cg::ingest::event_limits limits;
    limits.meta_max_depth = 2;
    const parse_result ok = parse_usage_event_text(event_with(R"("meta":{"a":[1]})"), {}, now_us, limits);
    CHECK(std::holds_alternative<usage_event>(ok));
    const parse_result deep = parse_usage_event_text(event_with(R"("meta":{"a":[[1]]})"), {}, now_us, limits);
    REQUIRE(std::holds_alternative<validation_error>(deep));
    CHECK(std::get<validation_error>(deep).field == "meta");
  }
}

TEST_CASE("the rules run in a fixed order: the first failing field is named") {
  check_rejects(R"({"model":"","tracking_token":"","prompt_tokens":-1})", "tracking_token");
  check_rejects(R"({"tracking_token":"t","model":"","prompt_tokens":-1})", "model");
  check_rejects(event_with(R"("prompt_tokens":-1,"cost_usd":-1,"meta":)" + repeated("[", 9) + repeated("]", 9)),
                "prompt_tokens");
}

}  // TEST_SUITE

TEST_SUITE("ingest.validation.ambiguous_top_level") {
  TEST_CASE("top-level input_tokens/output_tokens are refused, never silently zero") {
    using namespace cg::ingest;
    for (const char* key : {"input_tokens", "output_tokens", "inputTokens", "outputTokens"}) {
      const std::string body =
          std::string(R"({"tracking_token":"t","model":"m","prompt_tokens":1,")") + key + R"(":5})";
      const auto result = parse_usage_event_text(body, "", 1'700'000'000'000'000);
      REQUIRE(std::holds_alternative<validation_error>(result));
      CHECK(std::get<validation_error>(result).field == key);
      CHECK(std::get<validation_error>(result).reason == cg::ingest::refusal::invalid_field);
    }
  }

TEST_CASE("a model that is empty or only whitespace is a 400 naming model; spaces around a name are kept") {
  for (std::string_view model : {"", " ", "   ", "\\t\\n", " \\r\\n\\f\\u000b "}) {
    check_rejects(R"({"tracking_token":"tok","model":")" + std::string(model) + "\"}", "model");
  }
  CHECK(accepted(R"({"tracking_token":"tok","model":" m "})").model == " m ");
}

TEST_CASE("a client cost given as a double is read from the digits sent, not from the double") {
  // 21 significant digits: the double is 0.1000000005 (a tie, rounded to even: 100000000); the text is just over.
  CHECK(accepted(event_with(R"("cost_usd":0.10000000050000000001)")).client_cost_nusd == 100000001);
  CHECK(accepted(event_with(R"("costUsd":0.0000222)")).client_cost_nusd == 22200);
  CHECK(accepted(event_with(R"("cost_usd":1.5e-6)")).client_cost_nusd == 1500);
  CHECK_FALSE(accepted(event_with(R"("cost_usd":-0.0)")).client_cost_nusd);
  CHECK(rejected(event_with(R"("cost_usd":-1.5)")).field == "cost_usd");
  CHECK(rejected(event_with(R"("cost_usd":2e9)")).field == "cost_usd");
  // Numbers inside objects are not the top-level cost; a repeated key is refused before any cost is read.
  CHECK(accepted(event_with(R"("meta":{"cost_usd":9.5},"cost_usd":0.25)")).client_cost_nusd == 250000000);
  CHECK(rejected(event_with(R"("cost_usd":0.5,"cost_usd":0.25)")).field == "cost_usd");
}

TEST_CASE("the legacy /log body: no tracking token needed, estimatedCostUSD is the client's cost") {
  using cg::ingest::parse_legacy_log_event_text;
  const std::string_view old_client = R"({"timestamp":"2025-01-02T03:04:05Z","model":"gpt-4o-mini","promptTokens":12,)"
                                      R"("completionTokens":34,"totalTokens":46,"estimatedCostUSD":0.0000222})";
  const auto result = parse_legacy_log_event_text(old_client, {}, now_us + 400 * 24 * hour_us);
  REQUIRE(std::holds_alternative<usage_event>(result));
  const auto& e = std::get<usage_event>(result);
  CHECK(e.tracking_token.empty());
  CHECK(e.client_cost_nusd == 22200);
  CHECK(e.tokens.input == 12);
  CHECK(e.tokens.output == 34);
  CHECK(e.tokens.total == 46);
  // /ingest still requires a token and does not know the old name.
  CHECK(rejected(R"({"model":"m","estimatedCostUSD":1})").field == "tracking_token");
  CHECK_FALSE(accepted(event_with(R"("estimatedCostUSD":1)")).client_cost_nusd);
  // The spellings must agree; the first given is named.
  const auto differ = parse_legacy_log_event_text(R"({"model":"m","costUsd":1,"estimatedCostUSD":2})", {}, now_us);
  REQUIRE(std::holds_alternative<validation_error>(differ));
  CHECK(std::get<validation_error>(differ).field == "costUsd");
  const auto token = parse_legacy_log_event_text(R"({"model":"m"})", "hdr", now_us);
  REQUIRE(std::holds_alternative<usage_event>(token));
  CHECK(std::get<usage_event>(token).tracking_token == "hdr");
}
}
