#pragma once
/// The price table: which price applies to (provider, model, time) and what a usage costs, exactly.

#include "cg/pricing/money.hpp"
#include "cg/pricing/price_calculation.hpp"
#include "cg/pricing/token_counts.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cg::pricing {

/// One reported quantity in the unit registry's own terms (`input_tokens`, `cache_write_1h_tokens`,
/// `input_audio_tokens`, `web_searches`, ...; the 59 usage keys are listed in pricing/README.md).
struct unit_quantity {
  std::string_view usage_key;
  std::int64_t quantity = 0;
};

/// What a usage costs under one price, and which price that was.
struct price_quote {
  nano_usd cost = 0;          ///< rounded once, half-even, from the exact sum
  /// The units with direction input (input, cache reads and writes, audio/image input, ...) and those with
  /// direction output, each rounded once from its own exact sum. Request fees and web searches count in `cost`
  /// only, and rounding is separate, so `input_cost + output_cost` may differ from `cost` by a nano-USD or two.
  nano_usd input_cost = 0;
  nano_usd output_cost = 0;
  std::string provider_id;    ///< resolved provider id (`openai`, `aws`, ...)
  std::string model_id;       ///< the matched model entry's id
  /// `<provider>/<model>@<start date or "base">`: enough to explain the cost later. The provider is the one whose
  /// entry holds the price (`openai/gpt-4o-mini@base` also when `azure` resolved through its fallback); a
  /// time-of-day price is labelled with its window as written, `@00:30:00Z/16:30:00Z`.
  std::string price_ref;
};

/// Thrown when a price table cannot be loaded; the message says where and why.
class price_table_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Which kind of document a table was loaded from.
enum class table_format : std::uint8_t {
  cost_guardian,  ///< the project's format (pricing/data/prices.json, written by convert_genai_prices.py)
  genai_prices,   ///< a genai-prices v2 data.json, loaded directly (with the compiled-in unit registry)
};

/// An immutable, loaded price table.
/// Thread-safety: immutable after construction; share it through std::shared_ptr<const price_table>.
class price_table {
 public:
  /// Parses a table: the project's own format (a JSON object with header, units, providers) or a genai-prices
  /// v2 data.json (a JSON array of providers), told apart by shape. Everything is validated before anything is
  /// returned; a bad document throws price_table_error naming the JSON path, so a caller that reloads keeps its
  /// old table. `source_name` prefixes messages and becomes source().
  static std::shared_ptr<const price_table> from_json(std::string_view text, std::string source_name);
  /// Loads the table from a file (PRICING_FILE), either format. Throws price_table_error.
  static std::shared_ptr<const price_table> from_file(const std::filesystem::path& path);
  /// The default table compiled into the binary.
  static std::shared_ptr<const price_table> embedded();
  /// The table a PRICING_FILE setting names: that file, or the embedded table when the setting is empty.
  static std::shared_ptr<const price_table> configured(const std::filesystem::path& pricing_file);

  /// Prices `usage` for `model` at `timestamp_us` (unix microseconds, UTC). `provider` may be empty (the model id
  /// then picks the provider). nullopt when no price is known: the caller stores the event as unpriced (also,
  /// in theory, when the cost would not fit nano_usd). Negative counts count as 0; a part larger than its whole
  /// (cache reads above input) leaves the whole's own bucket at 0 instead of going negative: validate first.
  /// `usage.total` is not read: every priced token is in one of the other five classes.
  std::optional<price_quote> quote(std::string_view provider, std::string_view model, std::int64_t timestamp_us,
                                   const token_counts& usage) const;

  /// Like quote(), for usage reported in any unit of the registry, e.g. 1-hour cache writes or audio tokens.
  /// Unknown usage keys are ignored and repeated keys add up; a negative quantity counts as 0.
  std::optional<price_quote> quote_units(std::string_view provider, std::string_view model,
                                         std::int64_t timestamp_us, std::span<const unit_quantity> usage) const;

  /// The calculator behind `cost-guardian price`: usage in any registry unit (fractions allowed), the API base
  /// URL as a way to name the provider, exact amounts with the input/output split, and the usage checked for
  /// contradictions instead of clamped. See price_calculation.hpp.
  price_calculation calculate(const price_request& request) const;

  /// The provider an API base URL belongs to (reference README §4.2 rule 2): the first provider in file order
  /// whose `api_pattern` matches at the start of the URL, case-sensitive. nullopt when none does.
  std::optional<std::string> provider_for_api_url(std::string_view url) const;

  /// Whether `usage_key` is in the table's unit registry (`input_tokens`, `web_searches`, ...).
  bool is_usage_key(std::string_view usage_key) const;

  /// Where the table came from (`embedded:genai-prices@<commit>` or the file path or source name).
  const std::string& source() const noexcept;
  table_format format() const noexcept;
  /// The upstream commit named in the table's header; empty for a raw data.json, which does not say.
  const std::string& source_commit() const noexcept;
  /// FNV-1a 64 of the loaded bytes as 16 hex digits: tells two tables apart in /health and /metrics.
  std::string fingerprint() const;
  std::size_t provider_count() const noexcept;
  std::size_t model_count() const noexcept;
  /// What loading accepted but ignored, one message per item, each naming its JSON path: price keys and
  /// usage-extractor destinations that the compiled-in unit registry does not know (a data.json newer than this
  /// build; such a model may be under-priced). Always empty for the project's own format, which refuses them.
  /// The server should log every line.
  const std::vector<std::string>& warnings() const noexcept;

  ~price_table();
  price_table(const price_table&) = delete;
  price_table& operator=(const price_table&) = delete;

  struct impl;

 private:
  explicit price_table(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace cg::pricing
