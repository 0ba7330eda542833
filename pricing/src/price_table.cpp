#include "cg/pricing/price_table.hpp"

#include "calendar.hpp"
#include "match_logic.hpp"
#include "price_set.hpp"
#include "unit_registry.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

// The embedded copy of pricing/data/prices.json, placed in .rodata by src/embedded_prices.S (.incbin).
extern "C" {
extern const char cg_pricing_embedded_prices[];
extern const std::uint64_t cg_pricing_embedded_prices_size;
}

namespace cg::pricing {
namespace detail {
namespace {

constexpr std::string_view format_name = "cost-guardian-prices";
constexpr std::int64_t format_version = 1;

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
};

std::string describe_errno() { return std::generic_category().message(errno); }

// --- JSON reading with paths in every message ---------------------------------------------------------------

const boost::json::object& require_object(const boost::json::value& value, const std::string& path) {
  const auto* object = value.if_object();
  if (object == nullptr) throw price_table_error(fmt::format("{}: must be an object", path));
  return *object;
}

const boost::json::array& require_array(const boost::json::value& value, const std::string& path) {
  const auto* array = value.if_array();
  if (array == nullptr) throw price_table_error(fmt::format("{}: must be an array", path));
  return *array;
}

std::string require_string(const boost::json::object& object, std::string_view key, const std::string& path) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    throw price_table_error(fmt::format("{}.{}: must be a string", path, key));
  }
  return std::string{std::string_view{value->get_string()}};
}

void allow_only(const boost::json::object& object, std::initializer_list<std::string_view> allowed,
                const std::string& path) {
  for (const auto& field : object) {
    const std::string_view name{field.key()};
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw price_table_error(fmt::format("{}: unknown field '{}'", path, name));
    }
  }
}

std::string require_id(const boost::json::object& object, const std::string& path) {
  std::string id = require_string(object, "id", path);
  if (id.empty() || std::any_of(id.begin(), id.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); })) {
    throw price_table_error(fmt::format("{}.id: must be non-empty and without whitespace", path));
  }
  return id;
}

conditional_price read_conditional(const boost::json::value& value, const unit_registry& units,
                                   const std::string& ref_prefix, const std::string& path) {
  const auto& object = require_object(value, path);
  allow_only(object, {"constraint", "prices"}, path);
  const auto* prices = object.if_contains("prices");
  if (prices == nullptr) throw price_table_error(fmt::format("{}: missing 'prices'", path));
  conditional_price element;
  element.prices = price_set::from_json(*prices, units, path + ".prices");
  std::string label = "base";
  if (const auto* constraint_value = object.if_contains("constraint")) {
    const std::string constraint_path = path + ".constraint";
    const auto& constraint = require_object(*constraint_value, constraint_path);
    // The wire format has no type tag: the key set says which constraint it is, and anything else is invalid.
    if (constraint.size() == 1 && constraint.contains("start_date")) {
      label = require_string(constraint, "start_date", constraint_path);
      const auto start = parse_start_date(label);
      if (!start) {
        throw price_table_error(
            fmt::format("{}.start_date: '{}' is not a valid YYYY-MM-DD date", constraint_path, label));
      }
      element.when = conditional_price::kind::from_date;
      element.start_us = *start;
    } else if (constraint.size() == 2 && constraint.contains("start_time") && constraint.contains("end_time")) {
      const std::string start_text = require_string(constraint, "start_time", constraint_path);
      const std::string end_text = require_string(constraint, "end_time", constraint_path);
      const auto start = parse_time_of_day(start_text);
      const auto end = parse_time_of_day(end_text);
      if (!start || !end) {
        throw price_table_error(fmt::format("{}: '{}' is not a time of day HH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)",
                                            constraint_path, !start ? start_text : end_text));
      }
      element.when = conditional_price::kind::time_window;
      element.window_start = *start;
      element.window_end = *end;
      label = start_text + "/" + end_text;  // ISO 8601 interval notation; offsets may contain '-'
    } else {
      throw price_table_error(fmt::format(
          "{}: unknown constraint (expected start_date, or start_time with end_time)", constraint_path));
    }
  }
  element.price_ref = ref_prefix + label;
  return element;
}

model_entry read_model(const boost::json::value& value, const std::string& provider_id, const unit_registry& units,
                       const std::string& path) {
  const auto& object = require_object(value, path);
  allow_only(object, {"id", "match", "prices"}, path);
  model_entry model;
  model.id = require_id(object, path);
  const auto* match = object.if_contains("match");
  if (match == nullptr) throw price_table_error(fmt::format("{}: missing 'match'", path));
  model.match = match_logic::compile(*match, path + ".match");
  const auto* prices = object.if_contains("prices");
  if (prices == nullptr) throw price_table_error(fmt::format("{}: missing 'prices'", path));
  const std::string ref_prefix = provider_id + "/" + model.id + "@";
  if (const auto* list = prices->if_array()) {
    if (list->empty()) throw price_table_error(fmt::format("{}.prices: a conditional list must not be empty", path));
    for (std::size_t i = 0; i < list->size(); ++i) {
      model.prices.push_back(read_conditional((*list)[i], units, ref_prefix, fmt::format("{}.prices[{}]", path, i)));
    }
  } else {
    conditional_price element;
    element.prices = price_set::from_json(*prices, units, path + ".prices");
    element.price_ref = ref_prefix + "base";
    model.prices.push_back(std::move(element));
  }
  return model;
}

}  // namespace
}  // namespace detail

struct price_table::impl {
  /// The provider's index and the model entry that prices the request (possibly a fallback provider's).
  struct resolution {
    std::size_t provider = 0;
    const detail::model_entry* model = nullptr;
  };

  std::string source;
  std::string source_name;    ///< header.source, e.g. genai-prices
  std::string source_commit;  ///< header.source_commit
  detail::unit_registry units;
  std::vector<detail::provider> providers;  ///< in file order: provider_match and model_match depend on it
  detail::string_map<std::size_t> provider_by_id;
  std::size_t model_count = 0;
  /// Registry indices of the five counts token_usage carries.
  std::size_t input_unit = 0, output_unit = 0, cache_read_unit = 0, cache_write_unit = 0, reasoning_unit = 0;

  static std::unique_ptr<impl> parse(std::string_view text, std::string source_label);

  /// §4.2 (a) then (b): exact id, else the first provider_match in file order. `name` is already normalised.
  std::optional<std::size_t> provider_by_name(std::string_view name) const {
    if (const auto found = provider_by_id.find(name); found != provider_by_id.end()) return found->second;
    for (std::size_t i = 0; i < providers.size(); ++i) {
      if (providers[i].provider_match && providers[i].provider_match->matches(name)) return i;
    }
    return std::nullopt;
  }

  /// §4.2 rule 3: no provider given, so the first provider whose model_match claims the model id.
  std::optional<std::size_t> provider_by_model(std::string_view normalised_model) const {
    for (std::size_t i = 0; i < providers.size(); ++i) {
      if (providers[i].model_match && providers[i].model_match->matches(normalised_model)) return i;
    }
    return std::nullopt;
  }

  /// §4.2 rule 2, for callers that know the API base URL: the first provider whose api_pattern matches at the
  /// start of the URL (case-sensitive), as upstream's Python package does. Not wired to quote() yet.
  std::optional<std::size_t> provider_by_api_url(std::string_view url) const {
    for (std::size_t i = 0; i < providers.size(); ++i) {
      if (std::regex_search(url.begin(), url.end(), providers[i].api_pattern, std::regex_constants::match_continuous)) {
        return i;
      }
    }
    return std::nullopt;
  }

  std::optional<resolution> resolve(std::string_view provider_arg, std::string_view model_arg) const {
    const std::string provider_name = detail::normalise(provider_arg);
    std::string model_name = detail::normalise(model_arg);
    std::optional<std::size_t> provider;
    if (!provider_name.empty()) {
      provider = provider_by_name(provider_name);
      if (!provider) {
        // A named provider that nothing recognises is final (null), except LiteLLM, which routes by a
        // "<provider>/<model>" prefix; without a usable prefix it falls through to model-based resolution.
        if (provider_name != "litellm") return std::nullopt;
        if (const auto slash = model_name.find('/'); slash != std::string::npos) {
          const std::string_view whole{model_name};
          if (const auto prefixed = provider_by_name(detail::normalise(whole.substr(0, slash)))) {
            provider = prefixed;
            model_name = detail::normalise(whole.substr(slash + 1));
          }
        }
      }
    }
    if (!provider) provider = provider_by_model(model_name);
    if (!provider) return std::nullopt;

    const detail::provider& chosen = providers[*provider];
    if (const auto* model = chosen.find_model(model_name)) return resolution{*provider, model};
    // Fallbacks are one level deep and report the provider that was asked for (azure + gpt-4o-mini → azure).
    for (const auto fallback : chosen.fallbacks) {
      if (const auto* model = providers[fallback].find_model(model_name)) return resolution{*provider, model};
    }
    return std::nullopt;
  }

  std::optional<price_quote> price(std::string_view provider_arg, std::string_view model_arg,
                                   std::int64_t timestamp_us, const detail::unit_quantities& quantities) const {
    const auto resolved = resolve(provider_arg, model_arg);
    if (!resolved) return std::nullopt;
    const detail::conditional_price& element = resolved->model->select(timestamp_us);
    const auto cost = element.prices.cost(quantities);
    if (!cost) return std::nullopt;
    return price_quote{*cost, providers[resolved->provider].id, resolved->model->id, element.price_ref};
  }
};

std::unique_ptr<price_table::impl> price_table::impl::parse(std::string_view text, std::string source_label) {
  const auto fail = [&](const std::string& message) -> price_table_error {
    return price_table_error(fmt::format("{}: {}", source_label, message));
  };
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec);
  if (ec) throw fail(fmt::format("not valid JSON: {}", ec.message()));

  auto state = std::make_unique<impl>();
  state->source = std::move(source_label);
  try {
    const auto& top = detail::require_object(root, "(root)");
    detail::allow_only(top, {"header", "units", "providers"}, "(root)");
    const auto* header_value = top.if_contains("header");
    if (header_value == nullptr) throw price_table_error("header: missing");
    const auto& header = detail::require_object(*header_value, "header");
    if (detail::require_string(header, "format", "header") != detail::format_name) {
      throw price_table_error(fmt::format("header.format: not a Cost Guardian price table (expected '{}')",
                                          detail::format_name));
    }
    const auto* version = header.if_contains("format_version");
    if (version == nullptr || !version->is_int64() || version->get_int64() != detail::format_version) {
      throw price_table_error(
          fmt::format("header.format_version: this build reads version {} only (regenerate the table with "
                      "pricing/convert_genai_prices.py)",
                      detail::format_version));
    }
    state->source_name = detail::require_string(header, "source", "header");
    state->source_commit = detail::require_string(header, "source_commit", "header");

    const auto* units_value = top.if_contains("units");
    if (units_value == nullptr) throw price_table_error("units: missing");
    state->units = detail::unit_registry::from_json(*units_value, "units");
    const auto unit_of = [&](std::string_view usage_key) {
      const auto index = state->units.find_usage_key(usage_key);
      if (!index) throw price_table_error(fmt::format("units: '{}' is required", usage_key));
      return *index;
    };
    state->input_unit = unit_of("input_tokens");
    state->output_unit = unit_of("output_tokens");
    state->cache_read_unit = unit_of("cache_read_tokens");
    state->cache_write_unit = unit_of("cache_write_tokens");
    state->reasoning_unit = unit_of("output_reasoning_tokens");

    const auto* providers_value = top.if_contains("providers");
    if (providers_value == nullptr) throw price_table_error("providers: missing");
    const auto& provider_list = detail::require_array(*providers_value, "providers");
    std::vector<std::vector<std::string>> fallback_ids(provider_list.size());
    for (std::size_t p = 0; p < provider_list.size(); ++p) {
      const std::string path = fmt::format("providers[{}]", p);
      const auto& object = detail::require_object(provider_list[p], path);
      detail::allow_only(object, {"id", "api_pattern", "provider_match", "model_match", "fallback_model_providers",
                                  "models"},
                         path);
      detail::provider provider;
      provider.id = detail::require_id(object, path);
      const std::string provider_path = fmt::format("providers[{}:{}]", p, provider.id);
      const std::string pattern = detail::require_string(object, "api_pattern", provider_path);
      try {
        provider.api_pattern = std::regex(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& error) {
        throw price_table_error(
            fmt::format("{}.api_pattern: invalid regular expression '{}': {}", provider_path, pattern, error.what()));
      }
      if (const auto* match = object.if_contains("provider_match")) {
        provider.provider_match = detail::match_logic::compile(*match, provider_path + ".provider_match");
      }
      if (const auto* match = object.if_contains("model_match")) {
        provider.model_match = detail::match_logic::compile(*match, provider_path + ".model_match");
      }
      if (const auto* fallbacks = object.if_contains("fallback_model_providers")) {
        const auto& ids = detail::require_array(*fallbacks, provider_path + ".fallback_model_providers");
        for (const auto& id : ids) {
          if (!id.is_string()) {
            throw price_table_error(fmt::format("{}.fallback_model_providers: must hold provider ids", provider_path));
          }
          fallback_ids[p].emplace_back(std::string_view{id.get_string()});
        }
      }
      const auto* models_value = object.if_contains("models");
      if (models_value == nullptr) throw price_table_error(fmt::format("{}: missing 'models'", provider_path));
      const auto& models = detail::require_array(*models_value, provider_path + ".models");
      detail::string_map<std::size_t> seen_ids;
      for (std::size_t m = 0; m < models.size(); ++m) {
        const std::string model_path = fmt::format("{}.models[{}]", provider_path, m);
        provider.models.push_back(detail::read_model(models[m], provider.id, state->units, model_path));
        // price_ref names an entry by provider and model id, so the id must be unambiguous.
        if (!seen_ids.emplace(provider.models.back().id, m).second) {
          throw price_table_error(fmt::format("{}.id: '{}' appears twice", model_path, provider.models.back().id));
        }
        const auto index = static_cast<std::uint32_t>(m);
        const auto& clause = provider.models.back().match;
        for (auto& value : clause.sufficient_equals()) provider.exact_models.emplace(std::move(value), index);
        if (!clause.is_equals_only()) provider.scan.push_back(index);
      }
      state->model_count += provider.models.size();
      if (!state->provider_by_id.emplace(provider.id, p).second) {
        throw price_table_error(fmt::format("{}.id: '{}' appears twice", provider_path, provider.id));
      }
      state->providers.push_back(std::move(provider));
    }
    for (std::size_t p = 0; p < state->providers.size(); ++p) {
      for (const auto& id : fallback_ids[p]) {
        const auto found = state->provider_by_id.find(id);
        if (found == state->provider_by_id.end()) {
          throw price_table_error(fmt::format("providers[{}:{}].fallback_model_providers: unknown provider '{}'", p,
                                              state->providers[p].id, id));
        }
        state->providers[p].fallbacks.push_back(found->second);
      }
    }
    // The converter writes the counts; a mismatch means the file was truncated or edited by hand.
    if (const auto* count = header.if_contains("model_count");
        count != nullptr && !(count->is_int64() && std::cmp_equal(count->get_int64(), state->model_count))) {
      throw price_table_error(
          fmt::format("header.model_count: does not match the {} models present", state->model_count));
    }
    if (const auto* count = header.if_contains("provider_count");
        count != nullptr && !(count->is_int64() && std::cmp_equal(count->get_int64(), state->providers.size()))) {
      throw price_table_error(
          fmt::format("header.provider_count: does not match the {} providers present", state->providers.size()));
    }
  } catch (const price_table_error& error) {
    throw fail(error.what());
  }
  return state;
}

price_table::price_table(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

price_table::~price_table() = default;

std::shared_ptr<const price_table> price_table::from_json(std::string_view text, std::string source_name) {
  return std::shared_ptr<const price_table>(new price_table(impl::parse(text, std::move(source_name))));
}

std::shared_ptr<const price_table> price_table::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw price_table_error(fmt::format("{}: cannot open: {}", path.string(), detail::describe_errno()));
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw price_table_error(fmt::format("{}: cannot read: {}", path.string(), detail::describe_errno()));
  return from_json(text, path.string());
}

std::shared_ptr<const price_table> price_table::embedded() {
  // Parsed on first use (C++ guarantees one thread does it); a throw leaves it unset so the next call retries.
  static const std::shared_ptr<const price_table> table = [] {
    const std::string_view text{cg_pricing_embedded_prices, static_cast<std::size_t>(cg_pricing_embedded_prices_size)};
    auto state = impl::parse(text, "embedded pricing/data/prices.json");
    state->source = fmt::format("embedded:{}@{}", state->source_name, state->source_commit.substr(0, 7));
    return std::shared_ptr<const price_table>(new price_table(std::move(state)));
  }();
  return table;
}

std::optional<price_quote> price_table::quote(std::string_view provider, std::string_view model,
                                              std::int64_t timestamp_us, const token_usage& usage) const {
  detail::unit_quantities quantities{};
  quantities[impl_->input_unit] = usage.input_tokens;
  quantities[impl_->output_unit] = usage.output_tokens;
  quantities[impl_->cache_read_unit] = usage.cache_read_tokens;
  quantities[impl_->cache_write_unit] = usage.cache_write_tokens;
  quantities[impl_->reasoning_unit] = usage.reasoning_tokens;
  return impl_->price(provider, model, timestamp_us, quantities);
}

std::optional<price_quote> price_table::quote_units(std::string_view provider, std::string_view model,
                                                    std::int64_t timestamp_us,
                                                    std::span<const unit_quantity> usage) const {
  detail::unit_quantities quantities{};
  for (const auto& [usage_key, quantity] : usage) {
    const auto index = impl_->units.find_usage_key(usage_key);
    if (!index || quantity <= 0) continue;
    std::int64_t& slot = quantities[*index];
    if (__builtin_add_overflow(slot, quantity, &slot)) return std::nullopt;
  }
  return impl_->price(provider, model, timestamp_us, quantities);
}

const std::string& price_table::source() const noexcept { return impl_->source; }

std::size_t price_table::model_count() const noexcept { return impl_->model_count; }

}  // namespace cg::pricing
