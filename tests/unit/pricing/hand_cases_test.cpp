// The hand-worked table: data/hand_cases.jsonl, one case per line, each worked out by hand from
// shared/reference/genai-prices/data.json (upstream commit 47df840).
//
// Every line is a `cost-guardian price` input line ({"id", "provider" or "provider_id", "provider_api_url", "model",
// "timestamp", "usage"}) plus two fields the CLI ignores:
//   "expect": {"provider_id", "model_id", "total_usd", "input_usd", "output_usd"} with the amounts as exact
//             decimal strings (null: no price), or {"provider_id", "model_id", "error": true};
//   "arith":  the arithmetic behind the amounts, in USD: "input: … | output: … | total-only: …", where M = 10^6
//             (prices are per million tokens) and K = 10^3 (request fees and web searches are per thousand), e.g.
//             "input: (1000-400)*0.15/M + 400*0.075/M | output: 500*0.6/M". Subtractions are the exclusive buckets
//             (cache reads leave the input bucket, 1-hour writes leave cache writes, ...); a tier rate appears
//             when the total input tokens are strictly above the threshold.
// The expected amounts are those expressions evaluated exactly; the file is data, so adding a case needs no code.
#include "cg/pricing/price_cli.hpp"
#include "cg/pricing/price_table.hpp"

#include "pricing_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using cg::pricing::price_calculation;
using cg::pricing::price_request;
using cg::pricing::price_table;
using cg::pricing::usage_value;

std::vector<std::string> read_lines(const char* path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string text_or_empty(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string{value->get_string()} : std::string{};
}

std::optional<std::string> optional_text(const json::value& value) {
  if (value.is_null()) return std::nullopt;
  return std::string{value.as_string()};
}

double nearest_double(std::string_view decimal) {
  double value = 0;
  std::from_chars(decimal.data(), decimal.data() + decimal.size(), value);
  return value;
}

/// The number printed after `"key":` in an answer line, read from its text (not through a JSON parser, which
/// could round it differently).
double printed_number(const std::string& answer, std::string_view key) {
  const std::string marker = "\"" + std::string{key} + "\":";
  const auto at = answer.find(marker);
  REQUIRE(at != std::string::npos);
  double value = 0;
  const char* first = answer.data() + at + marker.size();
  const auto result = std::from_chars(first, answer.data() + answer.size(), value);
  REQUIRE(result.ec == std::errc{});
  return value;
}

/// Prices one case through the calculator API.
price_calculation calculate(const price_table& table, const json::object& c) {
  std::vector<usage_value> usage;
  for (const auto& [key, value] : c.at("usage").as_object()) {
    usage.push_back(usage_value{std::string_view{key}, value.to_number<double>()});
  }
  std::string provider = text_or_empty(c, "provider");
  if (provider.empty()) provider = text_or_empty(c, "provider_id");
  const std::string url = text_or_empty(c, "provider_api_url");
  const std::string timestamp{c.at("timestamp").as_string()};
  const auto ts = cg::pricing::test::parse_utc(timestamp);
  REQUIRE_MESSAGE(ts.has_value(), "bad timestamp " << timestamp);
  price_request request;
  request.provider = provider;
  request.provider_api_url = url;
  request.model = std::string_view{c.at("model").as_string()};
  request.timestamp_us = *ts;
  request.usage = usage;
  return table.calculate(request);
}

}  // namespace

TEST_SUITE("pricing.hand_cases") {

TEST_CASE("the table has at least 200 cases covering every kind of price") {
  const auto lines = read_lines(CG_TEST_HAND_CASES);
  CHECK(lines.size() >= 200);
  std::map<std::string, int> kinds;
  std::map<std::string, int> providers;
  for (const auto& line : lines) {
    const auto c = json::parse(line).as_object();
    const std::string id{c.at("id").as_string()};
    kinds[id.substr(0, id.find('-'))]++;
    const auto& expect = c.at("expect").as_object();
    if (expect.at("provider_id").is_string()) providers[std::string{expect.at("provider_id").as_string()}]++;
    CHECK_MESSAGE(c.contains("arith"), id);
  }
  CHECK(kinds["dated"] >= 30);    // every conditional model, before and after its change
  CHECK(kinds["tier"] >= 30);     // both sides of 128k, 200k, 272k and 512k
  CHECK(kinds["tod"] >= 8);       // DeepSeek's two windows and their edges
  CHECK(kinds["error"] >= 10);
  CHECK(kinds["unknown"] >= 8);
  CHECK(kinds["url"] >= 10);
  CHECK(kinds["litellm"] >= 6);
  CHECK(providers.size() >= 25);
}

TEST_CASE("every case prices exactly as worked out by hand (calculator API)") {
  const auto table = price_table::embedded();
  for (const auto& line : read_lines(CG_TEST_HAND_CASES)) {
    const auto c = json::parse(line).as_object();
    const std::string id{c.at("id").as_string()};
    CAPTURE(id);
    CAPTURE(std::string{c.at("arith").as_string()});
    const auto& expect = c.at("expect").as_object();
    const price_calculation result = calculate(*table, c);
    CHECK(result.provider_id == optional_text(expect.at("provider_id")));
    CHECK(result.model_id == optional_text(expect.at("model_id")));
    if (expect.contains("error")) {
      CHECK_FALSE(result.error.empty());
      CHECK_FALSE(result.total.has_value());
      continue;
    }
    CHECK(result.error.empty());
    if (expect.at("total_usd").is_null()) {
      CHECK_FALSE(result.total.has_value());
      CHECK(result.price_ref.empty());
      continue;
    }
    REQUIRE(result.total.has_value());
    REQUIRE(result.input.has_value());
    REQUIRE(result.output.has_value());
    // Exact: the decimal text is the same number as the hand-worked value, digit for digit.
    CHECK(result.total->decimal == std::string_view{expect.at("total_usd").as_string()});
    CHECK(result.input->decimal == std::string_view{expect.at("input_usd").as_string()});
    CHECK(result.output->decimal == std::string_view{expect.at("output_usd").as_string()});
    CHECK(result.total->value == nearest_double(expect.at("total_usd").as_string()));
    CHECK_FALSE(result.price_ref.empty());
  }
}

TEST_CASE("the whole table through `cost-guardian price` gives the same answers, one line each, in order") {
  const auto lines = read_lines(CG_TEST_HAND_CASES);
  std::string input;
  for (const auto& line : lines) input.append(line).append("\n");
  std::istringstream in(input);
  std::ostringstream out;
  std::ostringstream err;
  REQUIRE(cg::pricing::run_price_cli(in, out, err, *price_table::embedded()) == 0);
  CHECK(err.str().empty());
  std::istringstream answers(out.str());
  std::size_t index = 0;
  for (std::string answer; std::getline(answers, answer); ++index) {
    REQUIRE(index < lines.size());
    const auto c = json::parse(lines[index]).as_object();
    const auto& expect = c.at("expect").as_object();
    const auto a = json::parse(answer).as_object();
    CAPTURE(answer);
    CHECK(a.at("id") == c.at("id"));
    CHECK(a.at("provider_id") == expect.at("provider_id"));
    CHECK(a.at("model_id") == expect.at("model_id"));
    if (expect.contains("error")) {
      CHECK(a.at("total_usd").is_null());
      CHECK(a.at("error").is_string());
      continue;
    }
    CHECK_FALSE(a.contains("error"));
    for (const auto* key : {"total_usd", "input_usd", "output_usd"}) {
      CAPTURE(key);
      if (expect.at(key).is_null()) {
        CHECK(a.at(key).is_null());
      } else {
        // The printed number reads back as the double nearest to the exact amount (relative error < 1.2e-16).
        const double expected = nearest_double(expect.at(key).as_string());
        CHECK(printed_number(answer, key) == expected);
      }
    }
  }
  CHECK(index == lines.size());
}

}  // TEST_SUITE
