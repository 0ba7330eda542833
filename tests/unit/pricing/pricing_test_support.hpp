#pragma once
// Helpers shared by the cg::pricing unit tests: UTC timestamps and small hand-written price tables.

#include "cg/pricing/price_table.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cg::pricing::test {

/// Unix microseconds of a UTC wall-clock time.
inline std::int64_t utc_us(int year, unsigned month, unsigned day, int hour = 0, int minute = 0, int second = 0,
                           int micros = 0) {
  using namespace std::chrono;
  const sys_days date{std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day}};
  const auto at = date + hours{hour} + minutes{minute} + seconds{second} + microseconds{micros};
  return duration_cast<microseconds>(at.time_since_epoch()).count();
}

/// "YYYY-MM-DDTHH:MM:SS[.fff]Z" → unix microseconds (test inputs only; nullopt for anything else).
inline std::optional<std::int64_t> parse_utc(std::string_view text) {
  const auto number = [&](std::size_t pos, std::size_t count) {
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  if (text.size() < 20 || text[4] != '-' || text[10] != 'T' || text.back() != 'Z') return std::nullopt;
  int micros = 0;
  if (text[19] == '.') {
    std::size_t digits = 0;
    for (std::size_t i = 20; i + 1 < text.size(); ++i, ++digits) micros = micros * 10 + (text[i] - '0');
    for (; digits < 6; ++digits) micros *= 10;
  }
  return utc_us(number(0, 4), static_cast<unsigned>(number(5, 2)), static_cast<unsigned>(number(8, 2)),
                number(11, 2), number(14, 2), number(17, 2), micros);
}

/// A unit registry with the units the synthetic tables use, copied from genai-prices' units.json.
inline constexpr std::string_view test_units = R"({
  "input_tokens": {"price_key": "input_mtok", "per": 1000000, "dimensions": {"direction": "input", "family": "tokens"}},
  "output_tokens": {"price_key": "output_mtok", "per": 1000000,
    "dimensions": {"direction": "output", "family": "tokens"}},
  "cache_read_tokens": {"price_key": "cache_read_mtok", "per": 1000000,
    "dimensions": {"direction": "input", "family": "tokens", "token_type": "cache_read"}},
  "cache_write_tokens": {"price_key": "cache_write_mtok", "per": 1000000,
    "dimensions": {"direction": "input", "family": "tokens", "token_type": "cache_write"}},
  "cache_write_1h_tokens": {"price_key": "cache_write_1h_mtok", "per": 1000000,
    "dimensions": {"cache_ttl": "1h", "direction": "input", "family": "tokens", "token_type": "cache_write"}},
  "output_reasoning_tokens": {"price_key": "output_reasoning_mtok", "per": 1000000,
    "dimensions": {"direction": "output", "family": "tokens", "token_type": "reasoning"}},
  "input_audio_seconds": {"price_key": "input_audio_hours", "per": 3600,
    "dimensions": {"direction": "input", "family": "durations", "modality": "audio"}},
  "requests": {"price_key": "requests_kcount", "per": 1000, "dimensions": {"family": "requests"}},
  "web_searches": {"price_key": "web_searches_kcount", "per": 1000,
    "dimensions": {"family": "tool_calls", "tool_type": "web_search"}}
})";

/// A complete table in the project's format around `providers` (the JSON text of the providers array).
inline std::string make_table_json(std::string_view providers) {
  std::string text = R"({"header": {"format": "cost-guardian-prices", "format_version": 1, "source": "test",
                         "source_commit": "0000000000000000000000000000000000000000"}, "units": )";
  text.append(test_units).append(R"(, "providers": )").append(providers).append("}");
  return text;
}

inline std::shared_ptr<const price_table> make_table(std::string_view providers) {
  return price_table::from_json(make_table_json(providers), "test-table");
}

/// One provider `p` with one model `m` (matched by equals "m") priced by `prices` (a JSON object or array).
inline std::shared_ptr<const price_table> single_model_table(std::string_view prices) {
  std::string providers = R"([{"id": "p", "api_pattern": "https://p\\.example", "models": [
    {"id": "m", "match": {"equals": "m"}, "prices": )";
  providers.append(prices).append("}]}]");
  return make_table(providers);
}

}  // namespace cg::pricing::test
