// price_table::calculate(): exact amounts with the input/output split, usage checked instead of clamped, and the
// provider named by an API base URL. Also the input/output split of the ordinary quote.
#include "cg/pricing/price_table.hpp"

#include "pricing_test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using cg::pricing::price_calculation;
using cg::pricing::price_request;
using cg::pricing::price_table;
using cg::pricing::usage_value;
using cg::pricing::test::single_model_table;
using cg::pricing::test::utc_us;

const std::int64_t mid_2025 = utc_us(2025, 7, 1, 12);

price_calculation calc(const price_table& table, std::string_view provider, std::string_view model,
                       std::vector<usage_value> usage, std::int64_t at = mid_2025, std::string_view url = {}) {
  price_request request;
  request.provider = provider;
  request.provider_api_url = url;
  request.model = model;
  request.timestamp_us = at;
  request.usage = usage;
  return table.calculate(request);
}

price_calculation calc(std::string_view provider, std::string_view model, std::vector<usage_value> usage,
                       std::int64_t at = mid_2025, std::string_view url = {}) {
  return calc(*price_table::embedded(), provider, model, std::move(usage), at, url);
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("pricing.calculator") {

TEST_CASE("exact amounts, split by direction, with the resolved ids and the price used") {
  // gpt-4o-mini: (1000−400)×0.15 + 400×0.075 = 120 µUSD input; 500×0.6 = 300 µUSD output.
  const auto r = calc("openai", "gpt-4o-mini-2024-07-18",
                      {{"input_tokens", 1000}, {"cache_read_tokens", 400}, {"output_tokens", 500}});
  CHECK(r.error.empty());
  CHECK(r.provider_id == "openai");
  CHECK(r.model_id == "gpt-4o-mini");
  CHECK(r.price_ref == "openai/gpt-4o-mini@base");
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0.00042");
  CHECK(r.input->decimal == "0.00012");
  CHECK(r.output->decimal == "0.0003");
  CHECK(r.total->value == 0.00042);
  CHECK(r.input->value == 0.00012);
}

TEST_CASE("direction-less units count in the total only") {
  // sonar-deep-research: input 2, output 8, reasoning 3, citations 2 USD/Mtok, 5 USD per 1000 web searches.
  // input 1000×2 = 2000 µUSD; output 1300×8 + 500×3 + 200×2 = 12,300 µUSD; 3 searches = 15,000 µUSD.
  const auto r = calc("perplexity", "sonar-deep-research",
                      {{"input_tokens", 1000}, {"output_tokens", 2000}, {"output_reasoning_tokens", 500},
                       {"output_citation_tokens", 200}, {"web_searches", 3}});
  REQUIRE(r.total);
  CHECK(r.input->decimal == "0.002");
  CHECK(r.output->decimal == "0.0123");
  CHECK(r.total->decimal == "0.0293");
  SUBCASE("a request fee is one request, whatever `requests` says") {
    const auto fee = calc("perplexity", "sonar", {{"requests", 7.5}});
    REQUIRE(fee.total);
    CHECK(fee.total->decimal == "0.012");
    CHECK(fee.input->decimal == "0");
    CHECK(fee.output->decimal == "0");
  }
}

TEST_CASE("free is 0, unknown is no price") {
  auto r = calc("google", "gemma-3-27b-it", {{"input_tokens", 1000}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0");
  CHECK(r.total->value == 0.0);
  r = calc("openai", "gpt-unknown", {{"input_tokens", 1000}});
  CHECK_FALSE(r.total);
  CHECK(r.error.empty());
  CHECK(r.provider_id == "openai");
  CHECK_FALSE(r.model_id);
  CHECK(r.price_ref.empty());
  r = calc("no-such-provider", "gpt-4o-mini", {{"input_tokens", 1000}});
  CHECK_FALSE(r.total);
  CHECK_FALSE(r.provider_id);
}

TEST_CASE("fractions are priced as the decimals they are written as") {
  // 0.1 token × 0.15 USD/Mtok = 0.000000015 USD exactly (not the binary double nearest to 0.1 times the rate).
  auto r = calc("openai", "gpt-4o-mini", {{"input_tokens", 0.1}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0.000000015");
  // 1234.5678 output tokens × 0.6 USD/Mtok = 0.00074074068 USD.
  r = calc("openai", "gpt-4o-mini", {{"output_tokens", 1234.5678}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0.00074074068");
  SUBCASE("the tier threshold compares the fractional total") {
    // claude-sonnet-4-5: 200000.5 > 200000, so 6 USD/Mtok: 1.200003 USD.
    r = calc("anthropic", "claude-sonnet-4-5", {{"input_tokens", 200000.5}});
    REQUIRE(r.total);
    CHECK(r.total->decimal == "1.200003");
  }
}

TEST_CASE("quantities far beyond 128 bits stay exact (arbitrary precision takes over)") {
  // 1e30 input tokens × 0.15 USD/Mtok = 1.5e23 USD.
  auto r = calc("openai", "gpt-4o-mini", {{"input_tokens", 1e30}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "150000000000000000000000");
  CHECK(r.total->value == 1.5e23);
  // 1e-300 tokens: 1.5e-307 USD, written out in full.
  r = calc("openai", "gpt-4o-mini", {{"input_tokens", 1e-300}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0." + std::string(306, '0') + "15");
  CHECK(r.total->value == 1.5e-307);
  // Seventeen significant digits on a 17-digit price: 0.12345678901234568 × 0.18000000000000002 × 1e-6.
  r = calc("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct", {{"input_tokens", 0.12345678901234568}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0.0000000222222220222222248691357802469136");
}

TEST_CASE("a price per hour of audio gives a recurring decimal, cut at 40 significant digits") {
  // 1 USD per 3600 s: 1 s = 1/3600 USD = 0.000277…, rounded half to even at the 40th significant digit.
  const auto table = single_model_table(R"({"input_audio_hours": "1"})");
  const auto r = calc(*table, "p", "m", {{"input_audio_seconds", 1}});
  REQUIRE(r.total);
  CHECK(r.total->decimal == "0.000" + std::string("2") + std::string(38, '7') + "8");
  CHECK(r.total->value == 1.0 / 3600.0);
  CHECK(r.input->decimal == r.total->decimal);
  // 36 s = 0.01 USD exactly: the division terminates.
  const auto even = calc(*table, "p", "m", {{"input_audio_seconds", 36}});
  REQUIRE(even.total);
  CHECK(even.total->decimal == "0.01");
}

TEST_CASE("usage that cannot be priced is an error, not a clamp") {
  SUBCASE("a part larger than its whole, both priced") {
    const auto r = calc("openai", "gpt-4o-mini", {{"input_tokens", 100}, {"cache_read_tokens", 300}});
    CHECK_FALSE(r.total);
    CHECK(contains(r.error, "contradictory"));
    CHECK(contains(r.error, "cache_read_tokens"));
    CHECK(contains(r.error, "input_tokens"));
    CHECK(r.model_id == "gpt-4o-mini");  // the ids are still reported
  }
  SUBCASE("parts that together exceed the whole") {
    const auto r = calc("anthropic", "claude-3-5-haiku-latest",
                        {{"input_tokens", 1000}, {"cache_read_tokens", 600}, {"cache_write_tokens", 500}});
    CHECK(contains(r.error, "cache_read_tokens + cache_write_tokens is more than input_tokens"));
  }
  SUBCASE("a priced whole missing while a part was reported") {
    const auto r = calc("anthropic", "claude-sonnet-4-5", {{"input_tokens", 1000}, {"cache_write_1h_tokens", 10}});
    CHECK(contains(r.error, "incomplete"));
    CHECK(contains(r.error, "cache_write_1h_tokens was reported but cache_write_tokens"));
  }
  SUBCASE("two parts overlapping in a priced key that is missing") {
    const auto r = calc("google", "gemini-2.0-flash",
                        {{"input_tokens", 1000}, {"cache_read_tokens", 300}, {"input_audio_tokens", 200}});
    CHECK(contains(r.error, "cache_read_tokens and input_audio_tokens overlap in cache_audio_read_tokens"));
  }
  SUBCASE("negative, infinite, NaN, or given twice") {
    CHECK(contains(calc("openai", "gpt-4o-mini", {{"input_tokens", -1}}).error, "usage.input_tokens: must be"));
    CHECK(contains(calc("openai", "gpt-4o-mini", {{"output_tokens", std::numeric_limits<double>::infinity()}}).error,
                   "usage.output_tokens"));
    CHECK(contains(calc("openai", "gpt-4o-mini", {{"output_tokens", std::nan("")}}).error, "usage.output_tokens"));
    CHECK(contains(calc("openai", "gpt-4o-mini", {{"input_tokens", 1}, {"input_tokens", 2}}).error, "given twice"));
    // Bad numbers are wrong in any table, so they are reported even without a price.
    CHECK_FALSE(calc("", "unknown-model", {{"input_tokens", -1}}).error.empty());
  }
  SUBCASE("what is not an error") {
    // Unknown keys are ignored, whatever they hold.
    auto r = calc("openai", "gpt-4o-mini", {{"input_tokens", 10}, {"no_such_key", -5}});
    CHECK(r.error.empty());
    // A part of a key the model does not price stays inside its priced ancestor: no whole to exceed.
    r = calc("openrouter", "openai/gpt-4o", {{"input_tokens", 100}, {"cache_read_tokens", 300}});
    CHECK(r.error.empty());
    REQUIRE(r.total);
    CHECK(r.total->decimal == "0.00025");
    // Zero parts need no whole; -0 is zero.
    r = calc("anthropic", "claude-sonnet-4-5", {{"output_tokens", 10}, {"cache_write_1h_tokens", -0.0}});
    CHECK(r.error.empty());
    // Parts computed in floating point that overshoot by rounding noise only (as upstream's JavaScript allows):
    // 0.30000000000000004 cached of 0.3 input leaves −4e-17, taken as 0.
    r = calc("openai", "gpt-4o-mini", {{"input_tokens", 0.3}, {"cache_read_tokens", 0.30000000000000004}});
    CHECK(r.error.empty());
    REQUIRE(r.total);
    CHECK(r.total->decimal == "0.000000022500000000000003");
    CHECK_FALSE(calc("openai", "gpt-4o-mini", {{"input_tokens", 0.3}, {"cache_read_tokens", 0.31}}).error.empty());
  }
}

TEST_CASE("resolution: aliases, litellm, and the API base URL") {
  const std::vector<usage_value> usage{{"input_tokens", 1000}, {"output_tokens", 1000}};
  struct alias {
    const char* provider;
    const char* model;
    const char* provider_id;
    const char* model_id;
  };
  for (const auto& a : {alias{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws",
                              "regional.anthropic.claude-sonnet-4-5-20250929-v1:0"},
                        alias{" Google-Vertex ", "gemini-2.5-flash", "google", "gemini-2.5-flash"},
                        alias{"XAI", "grok-3", "x-ai", "grok-3"},
                        alias{"litellm", "openai/gpt-4.1", "openai", "gpt-4.1"},
                        alias{"  LiteLLM", "Anthropic/Claude-Sonnet-4-5", "anthropic", "claude-sonnet-4-5"}}) {
    CAPTURE(a.provider);
    const auto r = calc(a.provider, a.model, usage);
    CHECK(r.provider_id == a.provider_id);
    CHECK(r.model_id == a.model_id);
    CHECK(r.total);
  }
  SUBCASE("the URL is used only when no provider is given") {
    auto r = calc("", "gpt-4o-mini", usage, mid_2025, "https://myres.openai.azure.com/openai/deployments/d");
    CHECK(r.provider_id == "azure");
    r = calc("openai", "gpt-4o-mini", usage, mid_2025, "https://myres.openai.azure.com/openai/deployments/d");
    CHECK(r.provider_id == "openai");
    // Recognised by nothing: no price, and the model id is not used to guess instead.
    r = calc("", "gpt-4o-mini", usage, mid_2025, "https://example.com/v1");
    CHECK_FALSE(r.provider_id);
    CHECK_FALSE(r.total);
    // litellm without a usable prefix carries on with the URL.
    r = calc("litellm", "gpt-4o-mini", usage, mid_2025, "https://openrouter.ai/api/v1");
    CHECK(r.provider_id == "openrouter");
    CHECK_FALSE(r.model_id);  // OpenRouter lists it as openai/gpt-4o-mini
  }
  SUBCASE("provider_for_api_url") {
    const auto table = price_table::embedded();
    CHECK(table->provider_for_api_url("https://api.openai.com/v1/chat/completions") == "openai");
    CHECK(table->provider_for_api_url("https://bedrock-runtime.eu-west-1.amazonaws.com/") == "aws");
    CHECK(table->provider_for_api_url("https://router.huggingface.co/together/v1") == "huggingface_together");
    CHECK(table->provider_for_api_url("https://api.moonshot.ai/v1") == "moonshotai");
    CHECK_FALSE(table->provider_for_api_url("https://API.OPENAI.COM/v1"));            // case-sensitive
    CHECK_FALSE(table->provider_for_api_url("http://proxy/https://api.openai.com"));  // anchored at the start
    CHECK_FALSE(table->provider_for_api_url(""));
  }
}

TEST_CASE("quote(): input_cost and output_cost, each rounded once") {
  SUBCASE("shipped table") {
    // input 120,000 nano-USD, output 300,000 nano-USD, total 420,000.
    cg::pricing::token_counts usage;
    usage.input = 1000;
    usage.cache_read = 400;
    usage.output = 500;
    const auto q = price_table::embedded()->quote("openai", "gpt-4o-mini", mid_2025, usage);
    REQUIRE(q);
    CHECK(q->cost == 420'000);
    CHECK(q->input_cost == 120'000);
    CHECK(q->output_cost == 300'000);
  }
  SUBCASE("separate rounding: the parts need not add up to the total") {
    // 0.5 nano-USD of input and 0.5 of output: each rounds to 0 (half to even), their exact sum 1 stays 1.
    const auto table = single_model_table(R"({"input_mtok": "0.0005", "output_mtok": "0.0005"})");
    cg::pricing::token_counts usage;
    usage.input = 1;
    usage.output = 1;
    const auto q = table->quote("p", "m", 0, usage);
    REQUIRE(q);
    CHECK(q->cost == 1);
    CHECK(q->input_cost == 0);
    CHECK(q->output_cost == 0);
  }
  SUBCASE("web searches and request fees are in cost only") {
    const std::array<cg::pricing::unit_quantity, 3> usage{
        {{"input_tokens", 1000}, {"output_tokens", 100}, {"web_searches", 2}}};
    // claude-haiku-4-5: input 1 USD/Mtok → 1,000,000; output 5 → 500,000; 2 × 10 USD/1000 → 20,000,000.
    const auto q = price_table::embedded()->quote_units("anthropic", "claude-haiku-4-5", mid_2025, usage);
    REQUIRE(q);
    CHECK(q->input_cost == 1'000'000);
    CHECK(q->output_cost == 500'000);
    CHECK(q->cost == 21'500'000);
  }
}

TEST_CASE("what the table says about itself") {
  const auto table = price_table::embedded();
  CHECK(table->format() == cg::pricing::table_format::cost_guardian);
  CHECK(table->provider_count() == 36);
  CHECK(table->model_count() == 1466);
  CHECK(table->source_commit() == "47df840a5ab10bbcffb8e5ac01b9899032245d1b");
  CHECK(table->fingerprint().size() == 16);
  CHECK(table->fingerprint() == price_table::from_file(CG_TEST_PRICES_JSON)->fingerprint());
  CHECK(table->warnings().empty());
  CHECK(table->is_usage_key("cache_write_1h_tokens"));
  CHECK_FALSE(table->is_usage_key("prompt_tokens"));
}

}  // TEST_SUITE
