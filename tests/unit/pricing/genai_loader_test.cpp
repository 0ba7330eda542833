// A genai-prices v2 data.json loaded directly (PRICING_FILE may point at one): validated as upstream validates it,
// priced from the exact text of its numbers, and pricing exactly like the shipped table made from it.
#include "cg/pricing/price_table.hpp"

#include "pricing_test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using cg::pricing::price_calculation;
using cg::pricing::price_request;
using cg::pricing::price_table;
using cg::pricing::price_table_error;
using cg::pricing::usage_value;
using cg::pricing::test::utc_us;

/// A data.json with one provider `p` (name "P") and one model `m` priced by `prices` (JSON text).
std::string feed(std::string_view prices, std::string_view model_extra = "", std::string_view provider_extra = "") {
  std::string text = R"([{"id": "p", "name": "P", "api_pattern": "https://p\\.example")";
  text.append(provider_extra).append(R"(, "models": [{"id": "m", "match": {"equals": "m"}, "prices": )");
  text.append(prices).append(model_extra).append("}]}]");
  return text;
}

std::string load_error(const std::string& text) {
  try {
    price_table::from_json(text, "data.json");
  } catch (const price_table_error& error) {
    return error.what();
  }
  return {};
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

price_calculation calc(const price_table& table, std::string_view provider, std::string_view model,
                       std::vector<usage_value> usage, std::int64_t at) {
  price_request request;
  request.provider = provider;
  request.model = model;
  request.timestamp_us = at;
  request.usage = usage;
  return table.calculate(request);
}

std::string total_of(const price_table& table, std::vector<usage_value> usage) {
  const auto r = calc(table, "p", "m", std::move(usage), 0);
  REQUIRE_MESSAGE(r.total.has_value(), r.error);
  return r.total->decimal;
}

}  // namespace

TEST_SUITE("pricing.genai_loader") {

TEST_CASE("a data.json is recognised by its shape and uses the compiled-in unit registry") {
  const auto table = price_table::from_json(feed(R"({"input_mtok": 0.15, "output_mtok": 0.6})"), "feed.json");
  CHECK(table->format() == cg::pricing::table_format::genai_prices);
  CHECK(table->source() == "feed.json");
  CHECK(table->source_commit().empty());
  CHECK(table->provider_count() == 1);
  CHECK(table->model_count() == 1);
  CHECK(table->warnings().empty());
  CHECK(table->is_usage_key("cache_audio_read_tokens"));  // the registry has all 59 units
  // 1000 × 0.15 + 500 × 0.6 USD/Mtok = 0.00045 USD.
  CHECK(total_of(*table, {{"input_tokens", 1000}, {"output_tokens", 500}}) == "0.00045");
  CHECK(price_table::from_json("[]", "empty.json")->provider_count() == 0);
}

TEST_CASE("prices are the numbers' source text, also where a fast double parser is off by one unit") {
  // Boost.JSON's own parser reads 57.431000000000004 as 57.430999999999997 and 100.82490000000001 as 100.8249;
  // one million tokens must cost exactly the written price.
  for (const auto* price : {"57.431000000000004", "100.82490000000001", "0.18000000000000002", "0.08333333333333334",
                            "0.003625", "3", "1.5e-7", "2.5E+1"}) {
    CAPTURE(price);
    const auto table = price_table::from_json(feed(std::string{R"({"input_mtok": )"} + price + "}"), "feed.json");
    const std::string expected = std::string_view{price} == "1.5e-7" ? "0.00000015"
                                 : std::string_view{price} == "2.5E+1" ? "25"
                                                                       : price;
    CHECK(total_of(*table, {{"input_tokens", 1'000'000}}) == expected);
  }
}

TEST_CASE("what upstream's schema allows is accepted and dropped") {
  const auto table = price_table::from_json(
      feed(R"({"input_mtok": 1})", R"(, "name": "M", "description": "d", "price_comments": "c",
             "context_window": 128000, "deprecated": true)",
           R"(, "pricing_urls": ["https://p.example/pricing"], "description": "x", "price_comments": "y",
             "provider_match": {"contains": "pp"}, "model_match": {"starts_with": "m"},
             "extractors": [{"api_flavor": "chat", "root": "usage", "model_path": ["model"],
               "mappings": [{"path": "prompt_tokens", "dest": "input_tokens", "required": true},
                            {"path": ["details", {"type": "array-match", "field": "kind",
                                      "match": {"equals": "cached"}}, "n"], "dest": "cache_read_tokens"}]}])"),
      "feed.json");
  CHECK(table->warnings().empty());
  CHECK(total_of(*table, {{"input_tokens", 1'000'000}}) == "1");
  // provider_match and model_match work as in the project's format.
  const auto r = calc(*table, "ppp", "m", {{"input_tokens", 1}}, 0);
  CHECK(r.provider_id == "p");
}

TEST_CASE("unknown price keys and extractor destinations are ignored and reported") {
  const auto table = price_table::from_json(
      feed(R"({"input_mtok": 1, "output_hologram_mtok": 7, "input_smell_mtok": {"base": 1, "tiers": []}})", "",
           R"(, "extractors": [{"root": "usage", "mappings": [{"path": "x", "dest": "hologram_tokens"}]}])"),
      "feed.json");
  REQUIRE(table->warnings().size() == 3);
  CHECK(contains(table->warnings()[0], "[0:p].extractors[0].mappings[0].dest: unknown usage key 'hologram_tokens'"));
  CHECK(contains(table->warnings()[1], "[0:p].models[0].prices: unknown price key 'output_hologram_mtok' ignored"));
  CHECK(contains(table->warnings()[2], "unknown price key 'input_smell_mtok'"));
  CHECK(total_of(*table, {{"input_tokens", 1'000'000}, {"output_hologram_tokens", 5}}) == "1");
}

TEST_CASE("a bad feed is refused whole, with the JSON path") {
  SUBCASE("constraints") {
    CHECK(contains(load_error(feed(R"([{"prices": {}}, {"constraint": {"start_date": "2025-02-30"}, "prices": {}}])")),
                   "data.json: (root)[0:p].models[0].prices[1].constraint.start_date: '2025-02-30' is not a valid"));
    CHECK(contains(load_error(feed(R"([{"prices": {}}, {"constraint": {"start_date": "0000-01-01"}, "prices": {}}])")),
                   "start_date"));
    CHECK(contains(load_error(feed(R"([{"constraint": {"start_time": "10:00:00", "end_time": "11:00:00Z"},
                                        "prices": {}}])")),
                   "prices[0].constraint: '10:00:00' is not a time of day"));
    CHECK(contains(load_error(feed(R"([{"constraint": {"start_time": "25:00:00Z", "end_time": "11:00:00Z"},
                                        "prices": {}}])")),
                   "'25:00:00Z' is not a time of day"));
    CHECK(contains(load_error(feed(R"([{"constraint": {"start_date": "2025-01-01", "end_time": "11:00:00Z"},
                                        "prices": {}}])")),
                   "unknown constraint"));
  }
  SUBCASE("match clauses") {
    CHECK(contains(load_error(R"([{"id": "p", "name": "P", "api_pattern": "x", "models": [
                                   {"id": "m", "match": {"like": "m"}, "prices": {}}]}])"),
                   "(root)[0:p].models[0].match: unknown match operator 'like'"));
    CHECK(contains(load_error(R"([{"id": "p", "name": "P", "api_pattern": "x", "provider_match": {"regex": "("},
                                   "models": []}])"),
                   "(root)[0:p].provider_match.regex: invalid regular expression"));
  }
  SUBCASE("prices") {
    CHECK(contains(load_error(feed(R"({"input_mtok": "0.15"})")),
                   "(root)[0:p].models[0].prices.input_mtok: a price must be a JSON number"));
    CHECK(contains(load_error(feed(R"({"input_mtok": -1})")), "price '-1' is negative"));
    CHECK(contains(load_error(feed(R"({"input_mtok": 1e-40})")), "more than 30 decimals"));
    CHECK(contains(load_error(feed(R"({"requests_kcount": {"base": 1, "tiers": []}})")), "cannot be tiered"));
    CHECK(contains(load_error(feed(R"({"input_mtok": {"base": 1, "tiers": [{"start": 1.5, "price": 2}]}})")),
                   "tiers[0].start: must be a non-negative integer"));
    CHECK(contains(load_error(feed(R"({"input_mtok": 1e999})")), "not valid JSON"));
    CHECK(contains(load_error(feed(R"({"hologram_mtok": "x"})")), "must be a JSON number or a tiered price"));
  }
  SUBCASE("fields and their types") {
    CHECK(contains(load_error(feed("{}", R"(, "colour": "red")")), "(root)[0:p].models[0]: unknown field 'colour'"));
    CHECK(contains(load_error(feed("{}", "", R"(, "colour": "red")")), "(root)[0]: unknown field 'colour'"));
    CHECK(contains(load_error(R"([{"id": "p", "api_pattern": "x", "models": []}])"), "(root)[0:p]: missing 'name'"));
    CHECK(contains(load_error(feed("{}", R"(, "context_window": "big")")), "context_window: must be an integer"));
    CHECK(contains(load_error(feed("{}", R"(, "deprecated": 1)")), "deprecated: must be true or false"));
    CHECK(contains(load_error(feed("{}", ", \"name\": \"" + std::string(101, 'n') + "\"")),
                   "models[0].name: longer than 100 characters"));
    CHECK(contains(load_error(feed("{}", "", R"(, "pricing_urls": [""])")), "pricing_urls[0]"));
    CHECK(contains(load_error(feed("{}", "", R"(, "fallback_model_providers": ["nobody"])")),
                   "unknown provider 'nobody'"));
  }
  SUBCASE("extractors") {
    CHECK(contains(load_error(feed("{}", "", R"(, "extractors": [{"mappings": []}])")),
                   "(root)[0:p].extractors[0]: missing 'root'"));
    CHECK(contains(load_error(feed("{}", "", R"(, "extractors": [{"root": "u", "mappings": []},
                                                                  {"root": "v", "mappings": []}])")),
                   "extractors[1].api_flavor: 'default' appears twice"));
    CHECK(contains(load_error(feed("{}", "", R"(, "extractors": [{"root": ["u", {"type": "first", "field": "f",
                                                                   "match": {"equals": "x"}}], "mappings": []}])")),
                   "extractors[0].root[1].type: must be 'array-match'"));
    CHECK(contains(load_error(feed("{}", "", R"(, "extractors": [{"root": "u", "mappings": [
                                                                   {"path": "a", "dest": "input_tokens",
                                                                    "required": "yes"}]}])")),
                   "mappings[0].required: must be true or false"));
  }
  SUBCASE("the document itself") {
    CHECK(contains(load_error("3"), "(root): must be a Cost Guardian price table"));
    CHECK(contains(load_error("[3]"), "(root)[0]: must be an object"));
    CHECK(contains(load_error("[{"), "data.json: not valid JSON"));
  }
}

TEST_CASE("the reference data.json, loaded directly, prices exactly like the shipped table") {
  const std::filesystem::path path{CG_TEST_GENAI_DATA_JSON};
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: " << path << " not found");
    return;
  }
  const auto raw = price_table::from_file(path);
  const auto shipped = price_table::embedded();
  CHECK(raw->format() == cg::pricing::table_format::genai_prices);
  CHECK(raw->provider_count() == shipped->provider_count());
  CHECK(raw->model_count() == shipped->model_count());
  CHECK(raw->warnings().empty());

  // Every model entry of every provider, priced by its own id under its own provider, with cache, tier-crossing
  // and audio usage, before and after the dated changes: 1466 models × 2 usages × 3 times.
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const auto providers = json::parse(text).as_array();
  const std::vector<std::vector<usage_value>> usages{
      {{"input_tokens", 12'345}, {"cache_read_tokens", 2'345}, {"cache_write_tokens", 1'000},
       {"output_tokens", 678}, {"web_searches", 2}},
      {{"input_tokens", 600'001}, {"cache_read_tokens", 100'000}, {"input_audio_tokens", 10'000},
       {"cache_audio_read_tokens", 1'000}, {"output_tokens", 5'000.5}, {"output_reasoning_tokens", 1'000}}};
  const std::vector<std::int64_t> times{utc_us(2025, 3, 1, 8), utc_us(2026, 7, 30, 20), utc_us(2027, 2, 1, 0)};
  std::size_t compared = 0;
  std::size_t priced = 0;
  for (const auto& provider : providers) {
    const std::string provider_id{provider.at("id").as_string()};
    for (const auto& model : provider.at("models").as_array()) {
      const std::string model_id{model.at("id").as_string()};
      for (const auto& usage : usages) {
        for (const auto at : times) {
          const auto a = calc(*raw, provider_id, model_id, usage, at);
          const auto b = calc(*shipped, provider_id, model_id, usage, at);
          CAPTURE(provider_id);
          CAPTURE(model_id);
          CHECK(a.provider_id == b.provider_id);
          CHECK(a.model_id == b.model_id);
          CHECK(a.price_ref == b.price_ref);
          CHECK(a.error == b.error);
          REQUIRE(a.total.has_value() == b.total.has_value());
          if (a.total) {
            CHECK(a.total->decimal == b.total->decimal);
            CHECK(a.input->decimal == b.input->decimal);
            CHECK(a.output->decimal == b.output->decimal);
            ++priced;
          }
          ++compared;
        }
      }
    }
  }
  CHECK(compared >= 1000);
  CHECK(priced >= 1000);
  MESSAGE(compared << " model/usage/time combinations compared, " << priced << " priced");
}

}  // TEST_SUITE
