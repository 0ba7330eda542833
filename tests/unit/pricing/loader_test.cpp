// Loading validates everything up front: a bad table is refused with a message that says where and why.
#include "cg/pricing/price_table.hpp"

#include "pricing_test_support.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using cg::pricing::price_table;
using cg::pricing::price_table_error;
using cg::pricing::test::make_table;
using cg::pricing::test::make_table_json;
using cg::pricing::test::single_model_table;

/// The message of the price_table_error that loading `text` throws ("" when it loads).
std::string load_error(const std::string& text) {
  try {
    price_table::from_json(text, "bad-table");
  } catch (const price_table_error& error) {
    return error.what();
  }
  return {};
}

std::string prices_error(std::string_view prices) {
  std::string providers = R"([{"id": "p", "api_pattern": "x", "models": [{"id": "m", "match": {"equals": "m"},
                               "prices": )";
  providers.append(prices).append("}]}]");
  return load_error(make_table_json(providers));
}

std::string match_error(std::string_view match) {
  std::string providers = R"([{"id": "p", "api_pattern": "x", "models": [{"id": "m", "match": )";
  providers.append(match).append(R"(, "prices": {}}]}])");
  return load_error(make_table_json(providers));
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("pricing.loader") {

TEST_CASE("a minimal table loads") {
  CHECK(load_error(make_table_json("[]")).empty());
  const auto table = single_model_table(R"({"input_mtok": "1"})");
  CHECK(table->model_count() == 1);
  CHECK(table->source() == "test-table");
}

TEST_CASE("broken documents") {
  CHECK(contains(load_error("{"), "bad-table: not valid JSON"));
  CHECK(contains(load_error("3"), "(root): must be a Cost Guardian price table"));  // "[]" is an empty data.json
  CHECK(contains(load_error(R"({"header": {"format": "other", "format_version": 1, "source": "s",
                                "source_commit": "c"}, "units": {}, "providers": []})"),
                 "header.format"));
  std::string newer = make_table_json("[]");
  newer.replace(newer.find("\"format_version\": 1"), 19, "\"format_version\": 2");
  CHECK(contains(load_error(newer), "header.format_version"));
  std::string extra = make_table_json("[]");
  extra.insert(extra.size() - 1, R"(, "surprise": 1)");
  CHECK(contains(load_error(extra), "unknown field 'surprise'"));
}

TEST_CASE("match clauses") {
  // The message starts with the source name, also for errors found after the JSON parsed.
  CHECK(contains(match_error(R"({"like": "m"})"),
                 "bad-table: providers[0:p].models[0].match: unknown match operator 'like'"));
  CHECK(contains(match_error(R"({"equals": "m", "contains": "m"})"), "exactly one operator"));
  CHECK(contains(match_error(R"({"equals": 3})"), "match.equals: operand must be a string"));
  CHECK(contains(match_error(R"({"or": {"equals": "m"}})"), "match.or: operand must be an array"));
  CHECK(contains(match_error(R"({"or": [{"equals": "m"}, {"nope": "x"}]})"), "match.or[1]: unknown match operator"));
  CHECK(contains(match_error(R"({"regex": "(unclosed"})"), "match.regex: invalid regular expression"));
}

TEST_CASE("prices") {
  CHECK(contains(prices_error(R"({"input_mtok": 0.15})"), "prices.input_mtok: a price must be a decimal string"));
  CHECK(contains(prices_error(R"({"input_mtok": "abc"})"), "price 'abc' is not a decimal number"));
  CHECK(contains(prices_error(R"({"input_mtok": "-1"})"), "price '-1' is negative"));
  CHECK(contains(prices_error(R"({"input_mtok": "1."})"), "no digits after the decimal point"));
  CHECK(contains(prices_error(R"({"input_mtok": "01"})"), "leading zero"));
  CHECK(contains(prices_error(R"({"input_mtok": " 1"})"), "not a decimal number"));
  CHECK(contains(prices_error(R"({"input_mtok": "1234567890123456789"})"), "more than 18 significant digits"));
  CHECK(contains(prices_error(R"({"input_mtok": "1e-31"})"), "more than 30 decimals"));
  CHECK(contains(prices_error(R"({"foo_mtok": "1"})"), "unknown price key 'foo_mtok'"));
  CHECK(contains(prices_error(R"({"input_mtok": {"base": "1"}})"), "needs 'base' and a 'tiers' array"));
  CHECK(contains(prices_error(R"({"input_mtok": {"base": "1", "tiers": [{"start": -1, "price": "2"}]}})"),
                 "tiers[0].start: must be a non-negative integer"));
  CHECK(contains(prices_error(R"({"input_mtok": {"base": "1", "tiers": [], "cap": 1}})"), "unknown field 'cap'"));
  CHECK(contains(prices_error("[]"), "a conditional list must not be empty"));
  CHECK(contains(prices_error("3"), "a price set must be an object"));
}

TEST_CASE("constraints") {
  CHECK(contains(prices_error(R"([{"prices": {}}, {"constraint": {"start_date": "2025-02-30"}, "prices": {}}])"),
                 "prices[1].constraint.start_date: '2025-02-30' is not a valid YYYY-MM-DD date"));
  CHECK(contains(prices_error(R"([{"constraint": {"start_date": "0000-01-01"}, "prices": {}}])"), "not a valid"));
  CHECK(contains(prices_error(R"([{"constraint": {"start_date": "2025-1-01"}, "prices": {}}])"), "not a valid"));
  CHECK(contains(prices_error(R"([{"constraint": {"start_time": "24:00:00Z", "end_time": "01:00:00Z"},
                                   "prices": {}}])"),
                 "'24:00:00Z' is not a time of day"));
  CHECK(contains(prices_error(R"([{"constraint": {"start_time": "10:00:00", "end_time": "11:00:00Z"},
                                   "prices": {}}])"),
                 "'10:00:00' is not a time of day"));  // no zone
  CHECK(contains(prices_error(R"([{"constraint": {"start_date": "2025-01-01", "start_time": "10:00:00Z"},
                                   "prices": {}}])"),
                 "unknown constraint"));
  CHECK(contains(prices_error(R"([{"constraint": {}, "prices": {}}])"), "unknown constraint"));
  CHECK(contains(prices_error(R"([{"prices": {}, "when": 1}])"), "unknown field 'when'"));
}

TEST_CASE("providers and models") {
  CHECK(contains(load_error(make_table_json(R"([{"id": "a", "api_pattern": "(", "models": []}])")),
                 "providers[0:a].api_pattern: invalid regular expression"));
  CHECK(contains(load_error(make_table_json(
                     R"([{"id": "a", "api_pattern": "x", "fallback_model_providers": ["zz"], "models": []}])")),
                 "unknown provider 'zz'"));
  CHECK(contains(load_error(make_table_json(R"([{"id": "a", "api_pattern": "x", "models": []},
                                                {"id": "a", "api_pattern": "y", "models": []}])")),
                 "'a' appears twice"));
  CHECK(contains(load_error(make_table_json(R"([{"id": "a", "api_pattern": "x", "models": [
                   {"id": "m", "match": {"equals": "m"}, "prices": {}},
                   {"id": "m", "match": {"equals": "n"}, "prices": {}}]}])")),
                 "models[1].id: 'm' appears twice"));
  CHECK(contains(load_error(make_table_json(R"([{"id": "has space", "api_pattern": "x", "models": []}])")),
                 "providers[0].id: must be non-empty and without whitespace"));
  CHECK(contains(load_error(make_table_json(R"([{"id": "a", "api_pattern": "x", "models": [], "name": "A"}])")),
                 "unknown field 'name'"));
}

TEST_CASE("the header counts guard against a truncated table") {
  std::string text = make_table_json("[]");
  text.insert(text.find("\"source\""), R"("model_count": 5, )");
  CHECK(contains(load_error(text), "header.model_count: does not match the 0 models present"));
}

TEST_CASE("from_file names the path it could not open") {
  try {
    price_table::from_file("/nonexistent/prices.json");
    FAIL("expected price_table_error");
  } catch (const price_table_error& error) {
    CHECK(contains(error.what(), "/nonexistent/prices.json: cannot open"));
  }
}

}  // TEST_SUITE
