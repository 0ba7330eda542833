// Pricing rules on small hand-written tables, where the arithmetic can be chosen to expose rounding and ordering.
#include "cg/pricing/price_table.hpp"

#include "pricing_test_support.hpp"

#include <doctest/doctest.h>

#include <array>
#include <limits>

namespace {

using cg::pricing::price_table;
using cg::pricing::token_counts;
using cg::pricing::unit_quantity;
using cg::pricing::test::make_table;
using cg::pricing::test::single_model_table;
using cg::pricing::test::utc_us;

token_counts tokens(std::int64_t input, std::int64_t output, std::int64_t cache_read = 0,
                   std::int64_t cache_write = 0) {
  token_counts usage;
  usage.input = input;
  usage.output = output;
  usage.cache_read = cache_read;
  usage.cache_write = cache_write;
  return usage;
}

cg::pricing::nano_usd cost_of(const price_table& table, const token_counts& usage, std::int64_t at = 0) {
  const auto q = table.quote("p", "m", at, usage);
  REQUIRE(q);
  return q->cost;
}

}  // namespace

TEST_SUITE("pricing.exact_cost") {

TEST_CASE("the exact sum is rounded once, half to even") {
  // 0.0005 USD/Mtok = 0.5 nano-USD per token on both input and output.
  const auto table = single_model_table(R"({"input_mtok": "0.0005", "output_mtok": "0.0005"})");
  CHECK(cost_of(*table, tokens(1, 0)) == 0);  // 0.5 → 0 (even)
  CHECK(cost_of(*table, tokens(3, 0)) == 2);  // 1.5 → 2
  CHECK(cost_of(*table, tokens(5, 0)) == 2);  // 2.5 → 2
  CHECK(cost_of(*table, tokens(7, 0)) == 4);  // 3.5 → 4
  // 0.5 + 0.5 = 1: rounding each unit first would give 0.
  CHECK(cost_of(*table, tokens(1, 1)) == 1);
}

TEST_CASE("price text forms: trailing zeros, exponents, integers") {
  // "1.50" = "1.5" = "15e-1" = 1.5 USD/Mtok = 1500 nano per token; "2" = 2000; "2.5E+0" = 2500.
  const auto a = single_model_table(R"({"input_mtok": "1.50", "output_mtok": "2"})");
  const auto b = single_model_table(R"({"input_mtok": "15e-1", "output_mtok": "2.5E+0"})");
  CHECK(cost_of(*a, tokens(10, 10)) == 15'000 + 20'000);
  CHECK(cost_of(*b, tokens(10, 10)) == 15'000 + 25'000);
  // 1e-7 USD/Mtok = 0.0001 nano per token: 5000 tokens = 0.5 → 0, 15000 = 1.5 → 2.
  const auto tiny = single_model_table(R"({"input_mtok": "1e-7"})");
  CHECK(cost_of(*tiny, tokens(5000, 0)) == 0);
  CHECK(cost_of(*tiny, tokens(15'000, 0)) == 2);
}

TEST_CASE("units with other `per` values: hours priced per 3600 seconds, searches per 1000") {
  // 0.36 USD per audio hour = 0.0001 USD per second = 100,000 nano per second; 7 s → 700,000.
  // 10 USD per 1000 web searches = 10,000,000 nano each; 3 → 30,000,000.
  const auto table = single_model_table(R"({"input_audio_hours": "0.36", "web_searches_kcount": "10"})");
  const std::array<unit_quantity, 2> usage{{{"input_audio_seconds", 7}, {"web_searches", 3}}};
  const auto q = table->quote_units("p", "m", 0, usage);
  REQUIRE(q);
  CHECK(q->cost == 30'700'000);
  // 1 USD per hour: 1 s = 1e9 / 3600 = 277,777.7… nano → 277,778; 2 s = 555,555.5… → 555,556.
  const auto hourly = single_model_table(R"({"input_audio_hours": "1"})");
  const std::array<unit_quantity, 1> one{{{"input_audio_seconds", 1}}};
  const std::array<unit_quantity, 1> two{{{"input_audio_seconds", 2}}};
  CHECK(hourly->quote_units("p", "m", 0, one)->cost == 277'778);
  CHECK(hourly->quote_units("p", "m", 0, two)->cost == 555'556);
}

TEST_CASE("quote_units: unknown keys are ignored, repeated keys add up, negatives count as 0") {
  const auto table = single_model_table(R"({"input_mtok": "1", "output_mtok": "2"})");
  const std::array<unit_quantity, 5> usage{{{"input_tokens", 100},
                                            {"input_tokens", 50},
                                            {"no_such_unit", 1'000'000},
                                            {"output_tokens", -40},
                                            {"output_tokens", 10}}};
  // input 150 × 1000 + output 10 × 2000 = 150,000 + 20,000.
  const auto q = table->quote_units("p", "m", 0, usage);
  REQUIRE(q);
  CHECK(q->cost == 170'000);
}

TEST_CASE("cache write TTL bucket and a missing cache price") {
  // input 1, cache_write 1.25, cache_write_1h 2; no cache_read price: cache reads pay the input rate.
  const auto table =
      single_model_table(R"({"input_mtok": "1", "cache_write_mtok": "1.25", "cache_write_1h_mtok": "2"})");
  // input 1000 = 300 reads + 400 writes (100 of them 1h) + 300 uncached:
  // leaves: 1h 100 × 2000 = 200,000; writes 300 × 1250 = 375,000; input (incl. reads) 600 × 1000 = 600,000.
  const std::array<unit_quantity, 4> usage{{{"input_tokens", 1000},
                                            {"cache_read_tokens", 300},
                                            {"cache_write_tokens", 400},
                                            {"cache_write_1h_tokens", 100}}};
  const auto q = table->quote_units("p", "m", 0, usage);
  REQUIRE(q);
  CHECK(q->cost == 1'175'000);
}

TEST_CASE("tiers: strictly above the start, highest exceeded tier wins, order in the file does not matter") {
  const auto table = single_model_table(R"({
    "input_mtok": {"base": "1", "tiers": [{"start": 2000, "price": "3"}, {"start": 1000, "price": "2"}]},
    "output_mtok": {"base": "10", "tiers": [{"start": 1000, "price": "20"}]}})");
  CHECK(cost_of(*table, tokens(1000, 1)) == 1000 * 1000 + 10'000);
  CHECK(cost_of(*table, tokens(1001, 1)) == 1001 * 2000 + 20'000);
  CHECK(cost_of(*table, tokens(2000, 1)) == 2000 * 2000 + 20'000);
  CHECK(cost_of(*table, tokens(2001, 1)) == 2001 * 3000 + 20'000);
}

TEST_CASE("conditional prices: last active element wins, nothing active falls back to the first") {
  SUBCASE("start dates at 00:00 UTC") {
    const auto table = single_model_table(R"([
      {"prices": {"input_mtok": "1"}},
      {"constraint": {"start_date": "2025-01-01"}, "prices": {"input_mtok": "2"}},
      {"constraint": {"start_date": "2026-01-01"}, "prices": {"input_mtok": "3"}}])");
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2024, 12, 31, 23, 59, 59, 999'999)) == 1000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 1)) == 2000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2026, 6, 1)) == 3000);
    CHECK(table->quote("p", "m", utc_us(2026, 6, 1), tokens(1, 0))->price_ref == "p/m@2026-01-01");
  }
  SUBCASE("no unconstrained element and nothing active: the first element") {
    const auto table = single_model_table(R"([
      {"constraint": {"start_date": "2030-01-01"}, "prices": {"input_mtok": "7"}},
      {"constraint": {"start_date": "2031-01-01"}, "prices": {"input_mtok": "8"}}])");
    const auto q = table->quote("p", "m", utc_us(2025, 1, 1), tokens(1, 0));
    REQUIRE(q);
    CHECK(q->cost == 7000);
    CHECK(q->price_ref == "p/m@2030-01-01");
  }
  SUBCASE("a window that wraps midnight, written with an offset") {
    // 23:00+02:00 = 21:00Z to 03:00+02:00 = 01:00Z.
    const auto table = single_model_table(R"([
      {"prices": {"input_mtok": "1"}},
      {"constraint": {"start_time": "23:00:00+02:00", "end_time": "03:00:00+02:00"}, "prices": {"input_mtok": "5"}}])");
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 1, 20, 59, 59)) == 1000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 1, 21, 0, 0)) == 5000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 2, 0, 59, 59)) == 5000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 2, 1, 0, 0)) == 1000);
    CHECK(cost_of(*table, tokens(1, 0), utc_us(1969, 12, 31, 23, 0, 0)) == 5000);  // before the epoch too
    CHECK(table->quote("p", "m", utc_us(2025, 1, 1, 22), tokens(1, 0))->price_ref ==
          "p/m@23:00:00+02:00/03:00:00+02:00");
  }
  SUBCASE("an empty window is never active") {
    const auto table = single_model_table(R"([
      {"prices": {"input_mtok": "1"}},
      {"constraint": {"start_time": "10:00:00Z", "end_time": "10:00:00Z"}, "prices": {"input_mtok": "5"}}])");
    CHECK(cost_of(*table, tokens(1, 0), utc_us(2025, 1, 1, 10)) == 1000);
  }
}

TEST_CASE("an empty price object prices to 0; so does an empty usage") {
  const auto table = single_model_table("{}");
  const auto q = table->quote("p", "m", 0, tokens(1'000'000, 1'000'000));
  REQUIRE(q);
  CHECK(q->cost == 0);
  const auto priced = single_model_table(R"({"input_mtok": "1"})");
  CHECK(cost_of(*priced, tokens(0, 0)) == 0);
}

TEST_CASE("fallback providers are followed one level only") {
  const auto table = make_table(R"([
    {"id": "a", "api_pattern": "https://a", "fallback_model_providers": ["b"], "models": []},
    {"id": "b", "api_pattern": "https://b", "fallback_model_providers": ["c"],
     "models": [{"id": "in-b", "match": {"equals": "in-b"}, "prices": {"input_mtok": "1"}}]},
    {"id": "c", "api_pattern": "https://c",
     "models": [{"id": "in-c", "match": {"equals": "in-c"}, "prices": {"input_mtok": "2"}}]}])");
  const auto via_b = table->quote("a", "in-b", 0, tokens(1, 0));
  REQUIRE(via_b);
  CHECK(via_b->provider_id == "a");
  CHECK(via_b->price_ref == "b/in-b@base");
  CHECK(table->quote("b", "in-c", 0, tokens(1, 0)));
  CHECK_FALSE(table->quote("a", "in-c", 0, tokens(1, 0)));
}

TEST_CASE("first match in file order, also when an exact id appears later") {
  // The index of exact ids must not let a later `equals` beat an earlier broad rule.
  const auto table = make_table(R"([{"id": "p", "api_pattern": "https://p", "models": [
    {"id": "broad", "match": {"starts_with": "model-"}, "prices": {"input_mtok": "1"}},
    {"id": "exact", "match": {"equals": "model-x"}, "prices": {"input_mtok": "2"}},
    {"id": "exact-first", "match": {"or": [{"equals": "other"}, {"contains": "zzz"}]}, "prices": {"input_mtok": "3"}},
    {"id": "later", "match": {"and": [{"contains": "oth"}, {"ends_with": "er"}]}, "prices": {"input_mtok": "4"}},
    {"id": "never", "match": {"or": []}, "prices": {"input_mtok": "5"}},
    {"id": "always", "match": {"and": []}, "prices": {"input_mtok": "6"}}]}])");
  const auto model_of = [&](std::string_view model) {
    const auto q = table->quote("p", model, 0, tokens(1, 0));
    REQUIRE(q);
    return q->model_id;
  };
  CHECK(model_of("model-x") == "broad");
  CHECK(model_of("MODEL-X") == "broad");
  CHECK(model_of("other") == "exact-first");
  CHECK(model_of("zzz") == "exact-first");
  CHECK(model_of("another") == "later");
  CHECK(model_of("anything") == "always");
}

TEST_CASE("regexes search case-sensitively in the lower-cased id") {
  const auto table = make_table(R"([{"id": "p", "api_pattern": "https://p", "models": [
    {"id": "upper", "match": {"regex": "Big"}, "prices": {"input_mtok": "1"}},
    {"id": "digits", "match": {"regex": "-\\d{4}$"}, "prices": {"input_mtok": "2"}}]}])");
  CHECK_FALSE(table->quote("p", "Big", 0, tokens(1, 0)));  // the id is lower-cased first, the pattern is not
  const auto q = table->quote("p", "x-big-2025", 0, tokens(1, 0));
  REQUIRE(q);
  CHECK(q->model_id == "digits");
  CHECK_FALSE(table->quote("p", "x-2025-", 0, tokens(1, 0)));
}

TEST_CASE("a cost beyond nano_usd has no quote instead of a wrapped number") {
  // 1,000,000 USD/Mtok × 9.2e18 tokens is far above the 9.2e9 USD that nano_usd can hold.
  const auto table = single_model_table(R"({"input_mtok": "1000000"})");
  CHECK_FALSE(table->quote("p", "m", 0, tokens(std::numeric_limits<std::int64_t>::max(), 0)));
}

}  // TEST_SUITE
