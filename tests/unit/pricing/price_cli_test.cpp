// `cost-guardian price` through run_price_cli() with string streams: one answer line per input line, in order.
#include "cg/pricing/price_cli.hpp"
#include "cg/pricing/price_table.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

// The 100,000-line timing is a loose sanity bound for optimised builds; sanitizers and unoptimised builds only
// check the answers.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(NDEBUG)
#define CG_PRICE_CLI_TIMED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CG_PRICE_CLI_TIMED 0
#else
#define CG_PRICE_CLI_TIMED 1
#endif
#else
#define CG_PRICE_CLI_TIMED 1
#endif

namespace {

namespace json = boost::json;
using cg::pricing::price_table;

struct cli_result {
  int status = 0;
  std::vector<std::string> lines;
  std::string err;
};

cli_result run(const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  cli_result result;
  result.status = cg::pricing::run_price_cli(in, out, err, *price_table::embedded());
  std::istringstream answers(out.str());
  for (std::string line; std::getline(answers, line);) result.lines.push_back(line);
  result.err = err.str();
  const bool ends_with_newline = out.str().empty() || out.str().back() == '\n';
  CHECK(ends_with_newline);
  return result;
}

json::object answer(const std::string& line) {
  const auto value = json::parse(line);  // every answer is valid JSON
  REQUIRE(value.is_object());
  return value.as_object();
}

const char* const gpt_line =
    R"({"id": "a", "provider": "openai", "model": "gpt-4o-mini", "timestamp": "2025-07-01T12:00:00Z",
        "usage": {"input_tokens": 1000, "cache_read_tokens": 400, "output_tokens": 500}})";

/// One input line: `fields` is the JSON text of the fields between id and usage (provider, model, ...).
std::string request(std::string_view id, std::string_view fields, std::string_view usage) {
  std::string line = R"({"id": )";
  line.append(id).append(", ").append(fields);
  line.append(R"(, "timestamp": "2025-07-01T00:00:00Z", "usage": )").append(usage).append("}\n");
  return line;
}

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

TEST_SUITE("pricing.price_cli") {

TEST_CASE("one answer per line, in order, with the exact contract's fields") {
  const auto r = run(one_line(gpt_line) + "\n" +
                     R"({"id": "b", "provider": null, "model": "claude-sonnet-4-20250514", )"
                     R"("timestamp": "2025-07-01T12:00:00.250Z", "usage": {"input_tokens": 400, )"
                     R"("cache_write_tokens": 300, "cache_write_1h_tokens": 100, "output_tokens": 50}})"
                     "\n");
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  REQUIRE(r.lines.size() == 2);
  // Fixed field order, no spaces, numbers printed as the shortest text of the nearest double.
  CHECK(r.lines[0] ==
        R"({"id":"a","total_usd":0.00042,"input_usd":0.00012,"output_usd":3e-04,"provider_id":"openai",)"
        R"("model_id":"gpt-4o-mini"})");
  // Reference README §8 worked example: 0.00165 + 0.00075 = 0.0024.
  CHECK(r.lines[1] ==
        R"({"id":"b","total_usd":0.0024,"input_usd":0.00165,"output_usd":0.00075,"provider_id":"anthropic",)"
        R"("model_id":"claude-sonnet-4-0"})");
}

TEST_CASE("no price is null without an error; contradictory usage has an error") {
  const auto r = run(
      request(R"("unknown")", R"("provider": "openai", "model": "gpt-unknown")", R"({"input_tokens": 1})") +
      request(R"("nobody")", R"("provider": "nobody", "model": "gpt-4o-mini")", "{}") +
      request(R"("bad")", R"("provider": "openai", "model": "gpt-4o-mini")",
              R"({"input_tokens": 100, "cache_read_tokens": 300})") +
      request(R"("free")", R"("provider": "google", "model": "gemma-3-27b-it")", R"({"input_tokens": 100})"));
  REQUIRE(r.lines.size() == 4);
  auto a = answer(r.lines[0]);
  CHECK(a.at("total_usd").is_null());
  CHECK(a.at("provider_id") == "openai");
  CHECK(a.at("model_id").is_null());
  CHECK_FALSE(a.contains("error"));
  a = answer(r.lines[1]);
  CHECK(a.at("provider_id").is_null());
  CHECK_FALSE(a.contains("error"));
  a = answer(r.lines[2]);
  CHECK(a.at("total_usd").is_null());
  CHECK(a.at("input_usd").is_null());
  CHECK(a.at("model_id") == "gpt-4o-mini");
  CHECK(a.at("error").as_string().starts_with("usage is contradictory"));
  a = answer(r.lines[3]);
  CHECK(a.at("total_usd") == 0);
  CHECK_FALSE(a.contains("error"));
}

TEST_CASE("malformed lines still get exactly one answer each, echoing the id when it can be read") {
  const std::vector<std::string> inputs{
      "not json",
      "",
      "[1, 2]",
      R"({"id": "m1", "provider": "openai", "timestamp": "2025-07-01T00:00:00Z", "usage": {}})",
      R"({"id": "m2", "model": "gpt-4o-mini", "timestamp": "2025-07-01 00:00:00", "usage": {}})",
      R"({"id": "m3", "model": "gpt-4o-mini", "timestamp": "2025-02-30T00:00:00Z", "usage": {}})",
      R"({"id": "m4", "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", "usage": [1]})",
      R"({"id": "m5", "provider": 3, "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", "usage": {}})",
      R"({"id": "m6", "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", "usage": {"input_tokens": "10"}})",
      R"({"id": "m7", "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", "usage": {"input_tokens": -1}})",
      R"({"id": 7, "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z"})",
      R"({"id": "m8", "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", "usage": {"input_tokens": 1e999}})",
  };
  std::string input;
  for (const auto& line : inputs) input.append(line).append("\n");
  const auto r = run(input);
  CHECK(r.status == 0);
  REQUIRE(r.lines.size() == inputs.size());
  const std::vector<json::value> ids{nullptr, nullptr, nullptr, "m1", "m2", "m3", "m4", "m5", "m6", "m7", 7, nullptr};
  const std::vector<std::string> reasons{"not valid JSON", "not valid JSON", "a line must be a JSON object",
                                         "model:", "timestamp:", "timestamp:", "usage:", "provider:",
                                         "usage.input_tokens: must be a number", "usage.input_tokens: must be a finite",
                                         "usage:", "not valid JSON"};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(r.lines[i]);
    const auto a = answer(r.lines[i]);
    CHECK(a.at("id") == ids[i]);
    CHECK(a.at("total_usd").is_null());
    CHECK(a.at("input_usd").is_null());
    CHECK(a.at("output_usd").is_null());
    REQUIRE(a.contains("error"));
    CHECK(a.at("error").as_string().starts_with(reasons[i]));
  }
}

TEST_CASE("providers: null, provider_id, aliases, litellm, and the URL") {
  const std::string usage = R"({"input_tokens": 1000})";
  const auto r = run(
      request("1", R"("provider": null, "model": "o4-mini")", usage) +
      request("2", R"("provider_id": "  BEDROCK ", "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0")", usage) +
      request("3", R"("provider": "litellm", "model": "openai/gpt-4.1")", usage) +
      request("4", R"("provider": null, "provider_api_url": "https://api.x.ai/v1", "model": "grok-3")", usage) +
      request("5", R"("provider": "xai", "provider_api_url": "https://api.openai.com/v1", "model": "grok-3")", usage) +
      request("6", R"("provider": "google-vertex", "model": "gemini-2.5-flash")",
              R"({"input_tokens": 1000, "prompt_tokens": "ignored", "requests": null})"));
  REQUIRE(r.lines.size() == 6);
  const std::vector<std::pair<const char*, double>> expected{
      {"openai", 0.0011},    // 1000 × 1.1 USD/Mtok
      {"aws", 0.0033},       // regional Sonnet 4.5: 3.3
      {"openai", 0.002},     // gpt-4.1: 2
      {"x-ai", 0.003},       // grok-3: 3
      {"x-ai", 0.003},       // the provider wins over the URL
      {"google", 0.0003}};   // gemini-2.5-flash: 0.3; unknown usage keys ignored, null reads as absent
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(r.lines[i]);
    const auto a = answer(r.lines[i]);
    CHECK(a.at("id") == static_cast<std::int64_t>(i + 1));
    CHECK(a.at("provider_id") == expected[i].first);
    CHECK(a.at("total_usd").to_number<double>() == doctest::Approx(expected[i].second).epsilon(1e-12));
    CHECK_FALSE(a.contains("error"));
  }
}

TEST_CASE("line ends: CRLF, a last line without newline, no input at all, and lines longer than a read block") {
  auto r = run(one_line(gpt_line) + "\r\n" + one_line(gpt_line));
  REQUIRE(r.lines.size() == 2);
  CHECK(answer(r.lines[0]).at("total_usd") == answer(r.lines[1]).at("total_usd"));
  CHECK_FALSE(answer(r.lines[0]).contains("error"));
  CHECK(run("").lines.empty());
  // A 3 MB id spans several 1 MB read blocks and comes back whole, escaped like any other string.
  const std::string long_id = std::string(3'000'000, 'x') + "\"\\\x01";
  std::string escaped_id = std::string(3'000'000, 'x') + "\\\"\\\\\\u0001";
  r = run(R"({"id": ")" + escaped_id + R"(", "model": "gpt-4o-mini", "timestamp": "2025-07-01T00:00:00Z", )"
          R"("usage": {"input_tokens": 1}})" "\n" + one_line(gpt_line) + "\n");
  REQUIRE(r.lines.size() == 2);
  CHECK(answer(r.lines[0]).at("id") == long_id.c_str());
  CHECK(answer(r.lines[1]).at("id") == "a");
}

TEST_CASE("a failing output stream is reported and gives status 1") {
  std::istringstream in(one_line(gpt_line) + "\n");
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  std::ostringstream err;
  CHECK(cg::pricing::run_price_cli(in, out, err, *price_table::embedded()) == 1);
  CHECK(err.str().find("cannot write") != std::string::npos);
}

TEST_CASE("100,000 lines: every answer present and in order, in well under a second") {
  constexpr int count = 100'000;
  const char* const models[] = {
      R"("provider": "openai", "model": "gpt-4o-mini")",
      R"("provider": "bedrock", "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0")",
      R"("provider": null, "model": "claude-sonnet-4-5-20250929")",
      R"("provider": "google-vertex", "model": "gemini-2.5-pro")",
      R"("provider": "litellm", "model": "openai/gpt-4.1")",
      R"("provider": "deepseek", "model": "deepseek-chat")",
      R"("provider": "azure", "model": "gpt-4o-mini")",
      R"("provider": "openrouter", "model": "anthropic/claude-sonnet-4.5")",
  };
  std::string input;
  input.reserve(static_cast<std::size_t>(count) * 230);
  for (int i = 0; i < count; ++i) {
    input += R"({"id": "r)" + std::to_string(i) + R"(", )" + models[i % 8] +
             R"(, "timestamp": "2025-07-01T)" + std::to_string(10 + i % 10) +
             R"(:00:00Z", "usage": {"input_tokens": )" + std::to_string(1000 + i * 3) +
             R"(, "cache_read_tokens": )" + std::to_string(i % 1000) + R"(, "output_tokens": )" +
             std::to_string(i % 5000) + "}}\n";
  }
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  const auto start = std::chrono::steady_clock::now();
  const int status = cg::pricing::run_price_cli(in, out, err, *price_table::embedded());
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(status == 0);
  const std::string text = out.str();
  std::size_t lines = 0;
  std::size_t errors = 0;
  std::size_t position = 0;
  for (std::size_t end; (end = text.find('\n', position)) != std::string::npos; position = end + 1, ++lines) {
    const std::string_view line{text.data() + position, end - position};
    // Spot-check the order through the echoed ids.
    if (lines % 9973 == 0) CHECK(line.starts_with("{\"id\":\"r" + std::to_string(lines) + "\""));
    if (line.find("\"error\"") != std::string_view::npos) ++errors;
  }
  CHECK(lines == static_cast<std::size_t>(count));
  CHECK(errors == 0);
  MESSAGE("100,000 lines priced in " << elapsed << " s");
#if CG_PRICE_CLI_TIMED
  CHECK(elapsed < 1.5);  // about 0.2 s on the 2-core build machine; the bound only catches gross regressions
#endif
}

}  // TEST_SUITE
