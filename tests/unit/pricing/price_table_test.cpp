// Every public header of cg::pricing first, so each compiles on its own.
#include "cg/pricing/money.hpp"
#include "cg/pricing/price_calculation.hpp"
#include "cg/pricing/price_cli.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/pricing/token_counts.hpp"

#include "pricing_test_support.hpp"

#include <doctest/doctest.h>

#include <array>
#include <optional>
#include <string>

// Expected costs below are computed by hand from shared/reference/genai-prices/data.json (upstream commit 47df840).
// A rate of R USD per million tokens is R × 1000 nano-USD per token; 1 USD = 1,000,000,000 nano-USD.

namespace {

using cg::pricing::price_quote;
using cg::pricing::price_table;
using cg::pricing::token_counts;
using cg::pricing::unit_quantity;
using cg::pricing::test::utc_us;

const std::int64_t mid_2025 = utc_us(2025, 7, 1, 12);  // after every dated price change that is already past

std::optional<price_quote> quote(std::string_view provider, std::string_view model, const token_counts& usage,
                                 std::int64_t at = mid_2025) {
  return price_table::embedded()->quote(provider, model, at, usage);
}

token_counts tokens(std::int64_t input, std::int64_t output, std::int64_t cache_read = 0, std::int64_t cache_write = 0,
                   std::int64_t reasoning = 0) {
  token_counts usage;
  usage.input = input;
  usage.output = output;
  usage.cache_read = cache_read;
  usage.cache_write = cache_write;
  usage.reasoning = reasoning;
  return usage;
}

}  // namespace

TEST_SUITE("pricing.price_table") {

TEST_CASE("the embedded table loads once and matches the reference counts") {
  const auto table = price_table::embedded();
  REQUIRE(table != nullptr);
  CHECK(table->model_count() == 1466);  // reference README §2: 36 providers, 1466 models
  CHECK(table->source() == "embedded:genai-prices@47df840");
  CHECK(price_table::embedded() == table);  // cached, not parsed again
}

TEST_CASE("from_file loads the shipped file and names it as the source") {
  const auto table = price_table::from_file(CG_TEST_PRICES_JSON);
  CHECK(table->model_count() == 1466);
  CHECK(table->source() == std::string{CG_TEST_PRICES_JSON});
  const auto q = table->quote("openai", "gpt-4o-mini", mid_2025, tokens(1000, 500));
  REQUIRE(q);
  CHECK(q->cost == 450'000);
}

TEST_CASE("plain price: openai gpt-4o-mini and its dated id") {
  // gpt-4o-mini: input 0.15, cache_read 0.075, output 0.6 USD/Mtok.
  // 1000 input × 150 + 500 output × 600 = 150,000 + 300,000 = 450,000 nano-USD.
  for (const auto* model : {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "  GPT-4o-Mini  "}) {
    CAPTURE(model);
    const auto q = quote("openai", model, tokens(1000, 500));
    REQUIRE(q);
    CHECK(q->cost == 450'000);
    CHECK(q->provider_id == "openai");
    CHECK(q->model_id == "gpt-4o-mini");
    CHECK(q->price_ref == "openai/gpt-4o-mini@base");
  }
  SUBCASE("cache reads leave the input bucket") {
    // input 1000 of which 400 cached: 600 × 150 + 400 × 75 + 500 × 600 = 90,000 + 30,000 + 300,000 = 420,000.
    const auto q = quote("openai", "gpt-4o-mini", tokens(1000, 500, 400));
    REQUIRE(q);
    CHECK(q->cost == 420'000);
  }
  SUBCASE("reasoning tokens stay inside output when the model does not price them") {
    // output 1000 (400 of them reasoning): 1000 × 600 = 600,000.
    const auto q = quote("openai", "gpt-4o-mini", tokens(0, 1000, 0, 0, 400));
    REQUIRE(q);
    CHECK(q->cost == 600'000);
  }
  SUBCASE("provider given in another case and with spaces") {
    const auto q = quote(" OpenAI ", "gpt-4o-mini", tokens(1000, 500));
    REQUIRE(q);
    CHECK(q->provider_id == "openai");
  }
}

TEST_CASE("anthropic with cache reads and writes, matched by prefix") {
  // claude-3-5-haiku-20241022 → claude-3-5-haiku-latest (starts_with claude-3-5-haiku):
  // input 0.8, cache_write 1, cache_read 0.08, output 4 USD/Mtok.
  // input 10000 = 6000 cache read + 2000 cache write + 2000 uncached:
  // 2000 × 800 + 2000 × 1000 + 6000 × 80 + 1000 × 4000 = 1,600,000 + 2,000,000 + 480,000 + 4,000,000 = 8,080,000.
  const auto q = quote("anthropic", "claude-3-5-haiku-20241022", tokens(10'000, 1000, 6000, 2000));
  REQUIRE(q);
  CHECK(q->cost == 8'080'000);
  CHECK(q->model_id == "claude-3-5-haiku-latest");
  CHECK(cg::pricing::format_usd(q->cost) == "0.008080000");
}

TEST_CASE("the worked example of the reference README §8") {
  // claude-sonnet-4-20250514 → claude-sonnet-4-0: input 3, cache_write 3.75, cache_write_1h 6, cache_read 0.3,
  // output 15. input 400, cache_write 300 (5m 200, 1h 100), output 50 → leaves 1h 100, cache_write 200, input 100:
  // (100·3 + 200·3.75 + 100·6)/1e6 + 50·15/1e6 = 0.00165 + 0.00075 = 0.0024 USD.
  const std::array<unit_quantity, 5> usage{{{"input_tokens", 400},
                                            {"cache_write_tokens", 300},
                                            {"cache_write_5m_tokens", 200},
                                            {"cache_write_1h_tokens", 100},
                                            {"output_tokens", 50}}};
  for (const auto* provider : {"anthropic", ""}) {
    CAPTURE(provider);
    const auto q = price_table::embedded()->quote_units(provider, "claude-sonnet-4-20250514", mid_2025, usage);
    REQUIRE(q);
    CHECK(q->cost == 2'400'000);
    CHECK(q->provider_id == "anthropic");
    CHECK(q->model_id == "claude-sonnet-4-0");
  }
  SUBCASE("token_counts has no TTL split: every write is priced at cache_write_mtok") {
    // (100·3 + 300·3.75 + 50·15)/1e6 = (300 + 1125 + 750)/1e6 = 0.002175 USD.
    const auto q = quote("anthropic", "claude-sonnet-4-20250514", tokens(400, 50, 0, 300));
    REQUIRE(q);
    CHECK(q->cost == 2'175'000);
  }
}

TEST_CASE("audio and cached audio split the input bucket (google gemini-2.0-flash)") {
  // input 0.1, cache_read 0.025, output 0.4, input_audio 0.7, cache_audio_read 0.175 USD/Mtok.
  // input 1000, cache_read 300, input_audio 200, cache_audio_read 50, output 10 → leaves:
  // cache_audio_read 50; cache_read 300−50 = 250; input_audio 200−50 = 150; input 1000−50−250−150 = 550.
  // 550×100 + 250×25 + 150×700 + 50×175 + 10×400 = 55,000 + 6,250 + 105,000 + 8,750 + 4,000 = 179,000.
  const std::array<unit_quantity, 5> usage{{{"input_tokens", 1000},
                                            {"cache_read_tokens", 300},
                                            {"input_audio_tokens", 200},
                                            {"cache_audio_read_tokens", 50},
                                            {"output_tokens", 10}}};
  const auto q = price_table::embedded()->quote_units("google", "gemini-2.0-flash", mid_2025, usage);
  REQUIRE(q);
  CHECK(q->cost == 179'000);
}

TEST_CASE("request fees, reasoning, citations and web searches (perplexity)") {
  SUBCASE("requests_kcount is one request, whatever the usage") {
    // sonar: input 1, output 1 USD/Mtok, 12 USD per 1000 requests = 12,000,000 nano per request.
    // 1000 × 1000 + 1000 × 1000 + 12,000,000 = 14,000,000.
    auto q = quote("perplexity", "sonar", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->cost == 14'000'000);
    q = quote("perplexity", "sonar", tokens(0, 0));
    REQUIRE(q);
    CHECK(q->cost == 12'000'000);
    const std::array<unit_quantity, 1> many_requests{{{"requests", 50}}};
    q = price_table::embedded()->quote_units("perplexity", "sonar", mid_2025, many_requests);
    REQUIRE(q);
    CHECK(q->cost == 12'000'000);
  }
  SUBCASE("output_reasoning_mtok takes reasoning out of the output bucket") {
    // sonar-deep-research: input 2, output 8, reasoning 3, citation 2 USD/Mtok, web searches 5 USD/1000.
    // output 2000 of which 500 reasoning: 1500 × 8000 + 500 × 3000 + 1000 × 2000 = 12,000,000 + 1,500,000
    // + 2,000,000 = 15,500,000.
    auto q = quote("perplexity", "sonar-deep-research", tokens(1000, 2000, 0, 0, 500));
    REQUIRE(q);
    CHECK(q->cost == 15'500'000);
    // Adding 200 citation tokens and 3 web searches: output leaf 2000−500−200 = 1300 × 8000 = 10,400,000;
    // reasoning 1,500,000; citations 200 × 2000 = 400,000; input 2,000,000; 3 × 5,000,000 = 15,000,000.
    // Total 29,300,000.
    const std::array<unit_quantity, 5> usage{{{"input_tokens", 1000},
                                              {"output_tokens", 2000},
                                              {"output_reasoning_tokens", 500},
                                              {"output_citation_tokens", 200},
                                              {"web_searches", 3}}};
    q = price_table::embedded()->quote_units("perplexity", "sonar-deep-research", mid_2025, usage);
    REQUIRE(q);
    CHECK(q->cost == 29'300'000);
  }
}

TEST_CASE("dated prices: before and after the start date") {
  SUBCASE("openai o3 price cut on 2025-06-10") {
    // before: input 10, output 40 → 1000 × 10,000 + 1000 × 40,000 = 50,000,000.
    // from 2025-06-10 00:00 UTC: input 2, output 8 → 1000 × 2000 + 1000 × 8000 = 10,000,000.
    auto q = quote("openai", "o3", tokens(1000, 1000), utc_us(2025, 6, 9, 23, 59, 59, 999'999));
    REQUIRE(q);
    CHECK(q->cost == 50'000'000);
    CHECK(q->price_ref == "openai/o3@base");
    q = quote("openai", "o3-2025-04-16", tokens(1000, 1000), utc_us(2025, 6, 10));
    REQUIRE(q);
    CHECK(q->cost == 10'000'000);
    CHECK(q->price_ref == "openai/o3@2025-06-10");
  }
  SUBCASE("anthropic claude-sonnet-5 introductory price ends 2026-09-01") {
    // before: input 2, output 10 → 1,000,000 × 2000 + 100,000 × 10,000 = 2 + 1 USD = 3,000,000,000.
    // after: input 3, output 15 → 3 + 1.5 USD = 4,500,000,000.
    auto q = quote("anthropic", "claude-sonnet-5", tokens(1'000'000, 100'000), utc_us(2026, 8, 31, 23, 59, 59));
    REQUIRE(q);
    CHECK(q->cost == 3'000'000'000);
    CHECK(q->price_ref == "anthropic/claude-sonnet-5@base");
    q = quote("anthropic", "claude-sonnet-5", tokens(1'000'000, 100'000), utc_us(2026, 9, 1));
    REQUIRE(q);
    CHECK(q->cost == 4'500'000'000);
    CHECK(q->price_ref == "anthropic/claude-sonnet-5@2026-09-01");
  }
}

TEST_CASE("tiered price: anthropic claude-sonnet-4-5, 200k threshold on total input") {
  // input 3 → 6, output 15 → 22.5, cache_read 0.3 → 0.6 USD/Mtok above 200,000 input tokens (strictly).
  SUBCASE("exactly at the threshold is the base rate") {
    // 200,000 × 3000 + 1000 × 15,000 = 600,000,000 + 15,000,000 = 615,000,000.
    const auto q = quote("anthropic", "claude-sonnet-4-5", tokens(200'000, 1000));
    REQUIRE(q);
    CHECK(q->cost == 615'000'000);
  }
  SUBCASE("one token above: every token of every tiered key at the tier rate") {
    // 200,001 × 6000 + 1000 × 22,500 = 1,200,006,000 + 22,500,000 = 1,222,506,000.
    const auto q = quote("anthropic", "claude-sonnet-4-5-20250929", tokens(200'001, 1000));
    REQUIRE(q);
    CHECK(q->cost == 1'222'506'000);
  }
  SUBCASE("the threshold counts cached input too") {
    // input 300,000 with 100,000 cache reads: 200,000 × 6000 + 100,000 × 600 = 1,200,000,000 + 60,000,000.
    const auto q = quote("anthropic", "claude-sonnet-4-5", tokens(300'000, 0, 100'000));
    REQUIRE(q);
    CHECK(q->cost == 1'260'000'000);
  }
}

TEST_CASE("the same model id costs what its provider charges") {
  // AWS regional Sonnet 4.5 (us. profile): 3.3 / 16.5; global: 3 / 15; Anthropic direct: 3 / 15 (below the tier).
  // 1000 × 3300 + 1000 × 16,500 = 19,800,000; 1000 × 3000 + 1000 × 15,000 = 18,000,000.
  auto q = quote("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", tokens(1000, 1000));
  REQUIRE(q);
  CHECK(q->cost == 19'800'000);
  CHECK(q->provider_id == "aws");
  CHECK(q->price_ref == "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0@base");
  q = quote("aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", tokens(1000, 1000));
  REQUIRE(q);
  CHECK(q->cost == 18'000'000);
  CHECK(q->model_id == "global.anthropic.claude-sonnet-4-5-20250929-v1:0");
  q = quote("anthropic", "claude-sonnet-4-5-20250929", tokens(1000, 1000));
  REQUIRE(q);
  CHECK(q->cost == 18'000'000);
  CHECK(q->price_ref == "anthropic/claude-sonnet-4-5@base");
}

TEST_CASE("provider aliases resolve through provider_match") {
  SUBCASE("xai → x-ai") {
    // grok-3: input 3, output 15 → 3,000,000 + 15,000,000.
    const auto q = quote("xai", "grok-3", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->provider_id == "x-ai");
    CHECK(q->cost == 18'000'000);
  }
  SUBCASE("google-vertex → google") {
    // gemini-2.5-flash: input 0.3, output 2.5 → 300,000 + 2,500,000.
    const auto q = quote("google-vertex", "gemini-2.5-flash", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->provider_id == "google");
    CHECK(q->cost == 2'800'000);
  }
  SUBCASE("google's broad claude-4-sonnet rule shadows Sonnet 4.5: flat 3/15, no tier") {
    // 300,000 × 3000 + 1000 × 15,000 = 900,000,000 + 15,000,000 = 915,000,000.
    const auto q = quote("vertex_ai", "claude-sonnet-4-5@20250929", tokens(300'000, 1000));
    REQUIRE(q);
    CHECK(q->model_id == "claude-4-sonnet");
    CHECK(q->cost == 915'000'000);
  }
  SUBCASE("azure-openai is openai (azure has no provider_match)") {
    const auto q = quote("azure-openai", "gpt-4o-mini", tokens(1000, 500));
    REQUIRE(q);
    CHECK(q->provider_id == "openai");
  }
  SUBCASE("huggingface routers") {
    const auto q = quote("huggingface/together", "Qwen/Qwen3-VL-8B-Instruct", tokens(0, 1000));
    REQUIRE(q);
    CHECK(q->provider_id == "huggingface_together");
  }
}

TEST_CASE("fallback providers keep the resolved provider") {
  SUBCASE("azure + gpt-4o-mini prices with openai's entry") {
    const auto q = quote("azure", "gpt-4o-mini", tokens(1000, 500));
    REQUIRE(q);
    CHECK(q->cost == 450'000);
    CHECK(q->provider_id == "azure");
    CHECK(q->model_id == "gpt-4o-mini");
    CHECK(q->price_ref == "openai/gpt-4o-mini@base");  // names the entry that holds the price
  }
  SUBCASE("azure's own list comes first: its o3 entry has no dated change") {
    // azure o3-2025-04-16: input 2, output 8 also before 2025-06-10 → 10,000,000.
    const auto q = quote("azure", "o3", tokens(1000, 1000), utc_us(2025, 5, 1));
    REQUIRE(q);
    CHECK(q->cost == 10'000'000);
    CHECK(q->price_ref == "azure/o3-2025-04-16@base");
  }
  SUBCASE("second fallback: azure + claude → anthropic") {
    const auto q = quote("azure", "claude-3-5-haiku-20241022", tokens(10'000, 1000, 6000, 2000));
    REQUIRE(q);
    CHECK(q->cost == 8'080'000);
    CHECK(q->provider_id == "azure");
    CHECK(q->price_ref == "anthropic/claude-3-5-haiku-latest@base");
  }
}

TEST_CASE("no provider: model_match in file order, including regexes") {
  SUBCASE("openai's ^o[134] regex claims o4-mini") {
    // o4-mini: input 1.1, output 4.4 → 1,100,000 + 4,400,000.
    const auto q = quote("", "o4-mini", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->provider_id == "openai");
    CHECK(q->cost == 5'500'000);
  }
  SUBCASE("mistral's (?:mi|code|dev|magi|mini)stral regex claims codestral") {
    // codestral-2508: input 0.3, output 0.9 → 300,000 + 900,000.
    const auto q = quote("", "codestral-2508", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->provider_id == "mistral");
    CHECK(q->cost == 1'200'000);
  }
  SUBCASE("a whitespace-only provider counts as none") {
    const auto q = quote("  ", "claude-3-5-haiku-20241022", tokens(1, 0));
    REQUIRE(q);
    CHECK(q->provider_id == "anthropic");
  }
  SUBCASE("a provider found by model_match is final: glm-5.3 goes to zhipuai, which lacks it") {
    CHECK_FALSE(quote("", "glm-5.3", tokens(1, 1)));
  }
}

TEST_CASE("model regexes: grok-4.3 dated ids") {
  // ^grok-4\.3-\d{8}$ → grok-4.3: input 1.25, output 2.5 → 1,250,000 + 2,500,000 = 3,750,000.
  const auto q = quote("xai", "grok-4.3-20260115", tokens(1000, 1000));
  REQUIRE(q);
  CHECK(q->model_id == "grok-4.3");
  CHECK(q->cost == 3'750'000);
  CHECK_FALSE(quote("xai", "grok-4.3-2026011", tokens(1000, 1000)));  // seven digits: the regex is anchored
}

TEST_CASE("litellm routes by the provider prefix of the model id") {
  auto q = quote("litellm", "openai/gpt-4o-mini", tokens(1000, 500));
  REQUIRE(q);
  CHECK(q->provider_id == "openai");
  CHECK(q->cost == 450'000);
  // No known prefix: resolved as if no provider had been given, with the whole id (claude → anthropic).
  q = quote("LiteLLM", "claude-3-5-haiku-20241022", tokens(1, 0));
  REQUIRE(q);
  CHECK(q->provider_id == "anthropic");
}

TEST_CASE("free models cost 0; unknown models and providers have no price") {
  SUBCASE("an empty price object is a quote of 0") {
    auto q = quote("google", "gemma-3-27b-it", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->cost == 0);
    CHECK(q->price_ref == "google/gemma-3@base");
    q = quote("azure", "phi-4-reasoning:free", tokens(1000, 1000));
    REQUIRE(q);
    CHECK(q->cost == 0);
  }
  SUBCASE("unknown") {
    CHECK_FALSE(quote("openai", "gpt-unknown", tokens(1, 1)));
    CHECK_FALSE(quote("", "totally-unknown-model", tokens(1, 1)));
    CHECK_FALSE(quote("no-such-provider", "gpt-4o-mini", tokens(1, 1)));  // a named provider is never guessed
    CHECK_FALSE(quote("", "", tokens(1, 1)));
  }
}

TEST_CASE("time of day: DeepSeek standard window 00:30–16:30 UTC") {
  // deepseek-chat off-peak (element 0): input 0.135, output 0.55 → 135,000 + 550,000 = 685,000.
  // standard (element 1): input 0.27, output 1.1 → 270,000 + 1,100,000 = 1,370,000.
  const auto at = [](int h, int m, int s, int us = 0) {
    return quote("deepseek", "deepseek-chat", tokens(1000, 1000), utc_us(2025, 3, 1, h, m, s, us));
  };
  auto q = at(12, 0, 0);
  REQUIRE(q);
  CHECK(q->cost == 1'370'000);
  CHECK(q->price_ref == "deepseek/deepseek-chat@00:30:00Z/16:30:00Z");
  q = at(0, 30, 0);  // start is inclusive
  REQUIRE(q);
  CHECK(q->cost == 1'370'000);
  q = at(0, 29, 59, 999'999);
  REQUIRE(q);
  CHECK(q->cost == 685'000);
  q = at(16, 30, 0);  // end is exclusive
  REQUIRE(q);
  CHECK(q->cost == 685'000);
  CHECK(q->price_ref == "deepseek/deepseek-chat@base");
}

TEST_CASE("half-even rounding of the exact sum (deepseek-v4-pro cache reads at 0.003625 USD/Mtok)") {
  // 0.003625 USD/Mtok = 3.625 nano-USD per token; input fully cached, so only the cache-read bucket costs.
  // 4 tokens: 14.5 → 14 (even); 12 tokens: 43.5 → 44 (even); 2 tokens: 7.25 → 7.
  auto q = quote("deepseek", "deepseek-v4-pro", tokens(4, 0, 4));
  REQUIRE(q);
  CHECK(q->cost == 14);
  q = quote("deepseek", "deepseek-v4-pro", tokens(12, 0, 12));
  REQUIRE(q);
  CHECK(q->cost == 44);
  q = quote("deepseek", "deepseek-v4-pro", tokens(2, 0, 2));
  REQUIRE(q);
  CHECK(q->cost == 7);
}

TEST_CASE("17-decimal prices stay exact") {
  SUBCASE("huggingface_together Qwen3-VL-8B input at 0.18000000000000002 USD/Mtok") {
    // 1,000,000 tokens: 0.18000000000000002 USD = 180,000,000.00000002 nano → 180,000,000.
    auto q = quote("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct", tokens(1'000'000, 0));
    REQUIRE(q);
    CHECK(q->cost == 180'000'000);
    // 25e12 tokens: 25e6 × 0.18000000000000002 = 4,500,000.0000000005 USD = 4,500,000,000,000,000.5 nano → even.
    q = quote("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct", tokens(25'000'000'000'000, 0));
    REQUIRE(q);
    CHECK(q->cost == 4'500'000'000'000'000);
    // 75e12 tokens: 13,500,000.0000000015 USD = 13,500,000,000,000,001.5 nano → 13,500,000,000,000,002 (even).
    q = quote("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct", tokens(75'000'000'000'000, 0));
    REQUIRE(q);
    CHECK(q->cost == 13'500'000'000'000'002);
  }
  SUBCASE("openrouter gemini-2.5-flash-lite cache writes at 0.08333333333333334 USD/Mtok") {
    // 3 tokens, all cache writes: 3 × 83.33333333333334 = 250.00000000000002 nano → 250.
    auto q = quote("openrouter", "google/gemini-2.5-flash-lite", tokens(3, 0, 0, 3));
    REQUIRE(q);
    CHECK(q->cost == 250);
    // 12,000,000 tokens: 12 × 0.08333333333333334 = 1.00000000000000008 USD → 1,000,000,000 nano.
    q = quote("openrouter", "google/gemini-2.5-flash-lite", tokens(12'000'000, 0, 0, 12'000'000));
    REQUIRE(q);
    CHECK(q->cost == 1'000'000'000);
  }
}

TEST_CASE("contradictory usage is clamped, never negative") {
  // cache reads (300) above input (100): the uncached-input bucket is clamped to 0, cache reads still cost
  // 300 × 75 = 22,500. Ingest validation rejects such events; this only pins the documented behaviour.
  auto q = quote("openai", "gpt-4o-mini", tokens(100, 0, 300));
  REQUIRE(q);
  CHECK(q->cost == 22'500);
  q = quote("openai", "gpt-4o-mini", tokens(-5, -5));
  REQUIRE(q);
  CHECK(q->cost == 0);
}

}  // TEST_SUITE
