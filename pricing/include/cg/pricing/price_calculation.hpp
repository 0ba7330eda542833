#pragma once
/// The price calculator: any usage in the registry's own keys, fractions allowed, priced exactly and checked the way
/// the genai-prices data model checks it. What `cost-guardian price` answers with (see price_cli.hpp).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cg::pricing {

/// One reported quantity: a registry usage key (`input_tokens`, `cache_write_1h_tokens`, `input_audio_seconds`,
/// `web_searches`, ...) and a finite number ≥ 0. Fractions are allowed. The value is taken to be the decimal its
/// shortest round-trip text says (0.1 means one tenth, not the binary double nearest to it); integers are exact
/// up to 2^53.
struct usage_value {
  std::string_view usage_key;
  double quantity = 0;
};

/// What to price. `provider` and `provider_api_url` are optional: empty or whitespace-only means not given.
/// Resolution follows the data model (reference README §4.2): a given provider (id, alias or `litellm`) decides;
/// otherwise the API base URL (the first provider whose `api_pattern` matches at the start of the URL,
/// case-sensitive); otherwise the model id.
struct price_request {
  std::string_view provider;
  std::string_view provider_api_url;
  std::string_view model;
  std::int64_t timestamp_us = 0;  ///< the event's time, unix microseconds UTC: picks dated and time-of-day prices
  std::span<const usage_value> usage;  ///< unknown keys are ignored; a known key given twice is an error
};

/// An amount of USD computed from the price text and the usage without rounding.
struct usd_amount {
  /// The exact value as decimal text without trailing zeros ("0.00045", "1.200006", "0"). It terminates for every
  /// price in use today; only a price per hour of audio (a `_hours` key, per = 3600 seconds) can make it recur,
  /// and then it is cut after 40 significant digits, rounded half to even.
  std::string decimal;
  /// The double nearest to `decimal` (what the CLI prints, e.g. 0.00045).
  double value = 0;
};

/// The calculator's answer.
struct price_calculation {
  /// The resolved provider (`aws` for `bedrock`, `azure` also when the price comes from its openai fallback);
  /// nullopt when no provider resolved.
  std::optional<std::string> provider_id;
  /// The matched model entry's id; nullopt when the provider has no such model (or no provider resolved).
  std::optional<std::string> model_id;
  /// `<provider holding the price>/<model entry>@<label>`, as price_quote::price_ref; empty without a price.
  std::string price_ref;
  /// All three are set together, or none: nullopt means no price is known for this provider and model (not 0:
  /// a free model costs "0"), or that `error` is set. `input` sums the units with direction input, `output`
  /// those with direction output; `total` also has the direction-less ones (request fees, web searches, ...).
  std::optional<usd_amount> total;
  std::optional<usd_amount> input;
  std::optional<usd_amount> output;
  /// Non-empty when the usage itself cannot be priced: a negative or non-finite quantity (or a known key given
  /// twice), parts that exceed their
  /// whole (cache reads above input tokens, with both priced), a priced key missing while a part of it was
  /// reported, or two reported keys overlapping in a priced key that is missing (reference README §7, §8).
  std::string error;
};

}  // namespace cg::pricing
