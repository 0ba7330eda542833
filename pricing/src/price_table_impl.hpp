#pragma once
/// The loaded table behind price_table: providers, models, price sets, and the resolution rules of the data model
/// (internal to cg::pricing; shared by the loader, the quote path and the calculator).

#include "std_regex.hpp"  // first: see the note in it

#include "cg/pricing/price_table.hpp"

#include "calendar.hpp"
#include "match_logic.hpp"
#include "price_set.hpp"
#include "unit_registry.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::pricing::detail {

/// One element of a model's prices: the price set and when it applies.
struct conditional_price {
  enum class kind : std::uint8_t { always, from_date, time_window };
  kind when = kind::always;
  std::int64_t start_us = 0;      ///< from_date: 00:00 UTC of the start date
  std::int64_t window_start = 0;  ///< time_window: UTC microseconds of day
  std::int64_t window_end = 0;
  price_set prices;
  std::string price_ref;

  bool active(std::int64_t timestamp_us) const noexcept {
    switch (when) {
      case kind::always:
        return true;
      case kind::from_date:
        return timestamp_us >= start_us;
      case kind::time_window: {
        const std::int64_t t = utc_time_of_day(timestamp_us);
        if (window_start < window_end) return window_start <= t && t < window_end;
        if (window_end < window_start) return t >= window_start || t < window_end;  // wraps midnight
        return false;  // an empty window is never active
      }
    }
    return false;
  }
};

struct model_entry {
  std::string id;
  match_logic match;
  std::vector<conditional_price> prices;  ///< a plain price object is one element with kind::always

  /// Last active element wins (later elements carry the change); nothing active → the first element.
  const conditional_price& select(std::int64_t timestamp_us) const noexcept {
    for (auto i = prices.size(); i-- > 0;) {
      if (prices[i].active(timestamp_us)) return prices[i];
    }
    return prices.front();
  }
};

struct provider {
  std::string id;
  std::regex api_pattern;
  std::optional<match_logic> provider_match;
  std::optional<match_logic> model_match;
  std::vector<std::size_t> fallbacks;  ///< provider indices, in the file's order
  std::vector<model_entry> models;     ///< in matching order
  /// Lower-cased `equals` operands that alone make a model's clause true → the first such model. Models whose
  /// clause is only `equals` (1288 of 1466 in the shipped data) need no evaluation at all.
  string_map<std::uint32_t> exact_models;
  std::vector<std::uint32_t> scan;  ///< every other model, ascending: these must be evaluated in order

  /// First model in file order whose clause matches; the index keeps first-match semantics exactly because
  /// only models before the exact hit can still win, and of those only the ones in `scan` can match.
  const model_entry* find_model(std::string_view normalised_model) const {
    auto limit = static_cast<std::uint32_t>(models.size());
    if (const auto hit = exact_models.find(normalised_model); hit != exact_models.end()) limit = hit->second;
    for (const auto index : scan) {
      if (index >= limit) break;
      if (models[index].match.matches(normalised_model)) return &models[index];
    }
    return limit < models.size() ? &models[limit] : nullptr;
  }

  /// Adds a model at the end of the list, indexing its exact ids.
  void add_model(model_entry model) {
    const auto index = static_cast<std::uint32_t>(models.size());
    for (auto& value : model.match.sufficient_equals()) exact_models.emplace(std::move(value), index);
    if (!model.match.is_equals_only()) scan.push_back(index);
    models.push_back(std::move(model));
  }
};

}  // namespace cg::pricing::detail

namespace cg::pricing {

struct price_table::impl {
  /// What a (provider, API URL, model) request resolves to. `provider` is set when a provider resolved, `model`
  /// when that provider (or one of its fallbacks) has the model; the model entry may belong to a fallback.
  struct resolution {
    std::optional<std::size_t> provider;
    const detail::model_entry* model = nullptr;
  };

  std::string source;
  std::string source_name;    ///< header.source, e.g. genai-prices
  std::string source_commit;  ///< header.source_commit; empty for a raw data.json
  table_format format = table_format::cost_guardian;
  std::uint64_t fingerprint = 0;
  std::vector<std::string> warnings;
  detail::unit_registry units;
  std::vector<detail::provider> providers;  ///< in file order: provider_match and model_match depend on it
  detail::string_map<std::size_t> provider_by_id;
  std::size_t model_count = 0;
  /// Registry indices of the five priced counts of token_counts (total is not priced).
  std::size_t input_unit = 0, output_unit = 0, cache_read_unit = 0, cache_write_unit = 0, reasoning_unit = 0;

  /// Loads either format, told apart by shape (an object is the project's table, an array a genai-prices
  /// data.json). Throws price_table_error prefixed with `source_label`.
  static std::unique_ptr<impl> parse(std::string_view text, std::string source_label);

  /// §4.2 (a) then (b): exact id, else the first provider_match in file order. `name` is already normalised.
  std::optional<std::size_t> provider_by_name(std::string_view name) const;
  /// §4.2 rule 2: the first provider whose api_pattern matches at the start of the URL (case-sensitive), as
  /// upstream's Python package does.
  std::optional<std::size_t> provider_by_api_url(std::string_view url) const;
  /// §4.2 rule 3: the first provider whose model_match claims the (normalised) model id.
  std::optional<std::size_t> provider_by_model(std::string_view normalised_model) const;
  /// §4.2 and §4.3 together. Empty or whitespace-only `provider_arg` / `url_arg` mean not given.
  resolution resolve(std::string_view provider_arg, std::string_view url_arg, std::string_view model_arg) const;

  std::optional<price_quote> price(std::string_view provider_arg, std::string_view model_arg,
                                   std::int64_t timestamp_us, const detail::unit_quantities& quantities) const;
};

}  // namespace cg::pricing
