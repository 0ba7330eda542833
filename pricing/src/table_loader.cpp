// Loading a price table: the project's own format and a genai-prices v2 data.json, both validated completely
// before a table exists, so that a reload either swaps in a whole good table or changes nothing.
#include "price_table_impl.hpp"

#include "exact_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <utility>

namespace cg::pricing {
namespace detail {
namespace {

constexpr std::string_view format_name = "cost-guardian-prices";
constexpr std::int64_t format_version = 1;

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

/// Characters (code points) in UTF-8 text, as the schema's maxLength counts them.
std::size_t code_points(std::string_view text) noexcept {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

/// An optional informational string (name, description, ...): checked like upstream's schema, then dropped.
void check_text(const boost::json::object& object, std::string_view key, std::size_t max_length, bool required,
                const std::string& path) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) {
    if (required) throw price_table_error(fmt::format("{}: missing '{}'", path, key));
    return;
  }
  if (!value->is_string()) throw price_table_error(fmt::format("{}.{}: must be a string", path, key));
  if (code_points(value->get_string()) > max_length) {
    throw price_table_error(fmt::format("{}.{}: longer than {} characters", path, key, max_length));
  }
}

std::string require_id(const boost::json::object& object, const std::string& path) {
  std::string id = require_string(object, "id", path);
  if (id.empty() || std::any_of(id.begin(), id.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); })) {
    throw price_table_error(fmt::format("{}.id: must be non-empty and without whitespace", path));
  }
  return id;
}

// --- parts shared by both formats ----------------------------------------------------------------------------

conditional_price read_conditional(const boost::json::value& value, const price_reading& reading,
                                   const std::string& ref_prefix, const std::string& path) {
  const auto& object = require_object(value, path);
  allow_only(object, {"constraint", "prices"}, path);
  const auto* prices = object.if_contains("prices");
  if (prices == nullptr) throw price_table_error(fmt::format("{}: missing 'prices'", path));
  conditional_price element;
  element.prices = price_set::from_json(*prices, reading, path + ".prices");
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

/// The fields of a model that matter for pricing; the caller has checked which fields may appear.
model_entry read_model(const boost::json::object& object, const std::string& provider_id,
                       const price_reading& reading, const std::string& path) {
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
      model.prices.push_back(
          read_conditional((*list)[i], reading, ref_prefix, fmt::format("{}.prices[{}]", path, i)));
    }
  } else {
    conditional_price element;
    element.prices = price_set::from_json(*prices, reading, path + ".prices");
    element.price_ref = ref_prefix + "base";
    model.prices.push_back(std::move(element));
  }
  return model;
}

/// The provider fields both formats share. Fallback ids are returned, to be resolved once every id is known.
provider read_provider_head(const boost::json::object& object, const std::string& index_path,
                            std::string& provider_path, std::vector<std::string>& fallback_ids) {
  provider result;
  result.id = require_id(object, index_path);
  provider_path = fmt::format("{}:{}]", index_path.substr(0, index_path.size() - 1), result.id);
  const std::string pattern = require_string(object, "api_pattern", provider_path);
  try {
    result.api_pattern = std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& error) {
    throw price_table_error(
        fmt::format("{}.api_pattern: invalid regular expression '{}': {}", provider_path, pattern, error.what()));
  }
  if (const auto* match = object.if_contains("provider_match")) {
    result.provider_match = match_logic::compile(*match, provider_path + ".provider_match");
  }
  if (const auto* match = object.if_contains("model_match")) {
    result.model_match = match_logic::compile(*match, provider_path + ".model_match");
  }
  if (const auto* fallbacks = object.if_contains("fallback_model_providers")) {
    const auto& ids = require_array(*fallbacks, provider_path + ".fallback_model_providers");
    for (const auto& id : ids) {
      if (!id.is_string()) {
        throw price_table_error(fmt::format("{}.fallback_model_providers: must hold provider ids", provider_path));
      }
      fallback_ids.emplace_back(std::string_view{id.get_string()});
    }
  }
  return result;
}

// --- genai-prices data.json: the informational parts, checked as upstream's schema checks them -----------------

/// A usage-extractor path: a key, or an array of keys and array-match steps.
void check_extractor_path(const boost::json::value& value, const std::string& path) {
  if (value.is_string()) return;
  const auto* steps = value.if_array();
  if (steps == nullptr) throw price_table_error(fmt::format("{}: must be a string or an array of steps", path));
  for (std::size_t i = 0; i < steps->size(); ++i) {
    const auto& step = (*steps)[i];
    if (step.is_string()) continue;
    const std::string step_path = fmt::format("{}[{}]", path, i);
    const auto& object = require_object(step, step_path);
    allow_only(object, {"type", "field", "match"}, step_path);
    if (require_string(object, "type", step_path) != "array-match") {
      throw price_table_error(fmt::format("{}.type: must be 'array-match'", step_path));
    }
    require_string(object, "field", step_path);
    const auto* match = object.if_contains("match");
    if (match == nullptr) throw price_table_error(fmt::format("{}: missing 'match'", step_path));
    match_logic::compile(*match, step_path + ".match");
  }
}

void check_extractors(const boost::json::value& value, const unit_registry& units, const std::string& path,
                      std::vector<std::string>& warnings) {
  const auto& extractors = require_array(value, path);
  std::vector<std::string> flavors;
  for (std::size_t e = 0; e < extractors.size(); ++e) {
    const std::string extractor_path = fmt::format("{}[{}]", path, e);
    const auto& extractor = require_object(extractors[e], extractor_path);
    allow_only(extractor, {"api_flavor", "root", "model_path", "mappings"}, extractor_path);
    std::string flavor = "default";
    if (extractor.contains("api_flavor")) flavor = require_string(extractor, "api_flavor", extractor_path);
    if (std::find(flavors.begin(), flavors.end(), flavor) != flavors.end()) {
      throw price_table_error(fmt::format("{}.api_flavor: '{}' appears twice", extractor_path, flavor));
    }
    flavors.push_back(std::move(flavor));
    const auto* root = extractor.if_contains("root");
    if (root == nullptr) throw price_table_error(fmt::format("{}: missing 'root'", extractor_path));
    check_extractor_path(*root, extractor_path + ".root");
    if (const auto* model_path = extractor.if_contains("model_path")) {
      check_extractor_path(*model_path, extractor_path + ".model_path");
    }
    const auto* mappings_value = extractor.if_contains("mappings");
    if (mappings_value == nullptr) throw price_table_error(fmt::format("{}: missing 'mappings'", extractor_path));
    const auto& mappings = require_array(*mappings_value, extractor_path + ".mappings");
    for (std::size_t m = 0; m < mappings.size(); ++m) {
      const std::string mapping_path = fmt::format("{}.mappings[{}]", extractor_path, m);
      const auto& mapping = require_object(mappings[m], mapping_path);
      allow_only(mapping, {"path", "dest", "required"}, mapping_path);
      const auto* mapping_source = mapping.if_contains("path");
      if (mapping_source == nullptr) throw price_table_error(fmt::format("{}: missing 'path'", mapping_path));
      check_extractor_path(*mapping_source, mapping_path + ".path");
      const std::string dest = require_string(mapping, "dest", mapping_path);
      if (!units.find_usage_key(dest)) {
        warnings.push_back(fmt::format("{}.dest: unknown usage key '{}' ignored (not in the unit registry)",
                                       mapping_path, dest));
      }
      if (const auto* required = mapping.if_contains("required"); required != nullptr && !required->is_bool()) {
        throw price_table_error(fmt::format("{}.required: must be true or false", mapping_path));
      }
    }
  }
}

void check_genai_provider_info(const boost::json::object& object, const unit_registry& units,
                               const std::string& path, std::vector<std::string>& warnings) {
  check_text(object, "name", 100, true, path);
  check_text(object, "description", 1000, false, path);
  check_text(object, "price_comments", 1000, false, path);
  if (const auto* urls = object.if_contains("pricing_urls")) {
    const auto& list = require_array(*urls, path + ".pricing_urls");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto* url = list[i].if_string();
      if (url == nullptr || url->empty() || code_points(*url) > 2083) {
        throw price_table_error(fmt::format("{}.pricing_urls[{}]: must be a URL of 1 to 2083 characters", path, i));
      }
    }
  }
  if (const auto* extractors = object.if_contains("extractors")) {
    check_extractors(*extractors, units, path + ".extractors", warnings);
  }
}

void check_genai_model_info(const boost::json::object& object, const std::string& path) {
  check_text(object, "name", 100, false, path);
  check_text(object, "description", 1000, false, path);
  check_text(object, "price_comments", 1000, false, path);
  if (const auto* window = object.if_contains("context_window"); window != nullptr && !window->is_int64()) {
    throw price_table_error(fmt::format("{}.context_window: must be an integer", path));
  }
  if (const auto* deprecated = object.if_contains("deprecated"); deprecated != nullptr && !deprecated->is_bool()) {
    throw price_table_error(fmt::format("{}.deprecated: must be true or false", path));
  }
}

/// The provider list, the same in both formats apart from the informational fields data.json carries.
void read_providers(const boost::json::array& list, const std::string& path_prefix, price_table::impl& state,
                    const price_reading& reading) {
  const bool genai = reading.syntax == price_syntax::json_numbers;
  std::vector<std::vector<std::string>> fallback_ids(list.size());
  for (std::size_t p = 0; p < list.size(); ++p) {
    const std::string index_path = fmt::format("{}[{}]", path_prefix, p);
    const auto& object = require_object(list[p], index_path);
    if (genai) {
      allow_only(object, {"id", "name", "api_pattern", "pricing_urls", "description", "price_comments",
                          "model_match", "provider_match", "fallback_model_providers", "extractors", "models"},
                 index_path);
    } else {
      allow_only(object, {"id", "api_pattern", "provider_match", "model_match", "fallback_model_providers",
                          "models"},
                 index_path);
    }
    std::string provider_path;
    provider entry = read_provider_head(object, index_path, provider_path, fallback_ids[p]);
    if (genai) {
      if (code_points(entry.id) > 100) {
        throw price_table_error(fmt::format("{}.id: longer than 100 characters", provider_path));
      }
      check_genai_provider_info(object, state.units, provider_path, state.warnings);
    }
    const auto* models_value = object.if_contains("models");
    if (models_value == nullptr) throw price_table_error(fmt::format("{}: missing 'models'", provider_path));
    const auto& models = require_array(*models_value, provider_path + ".models");
    string_map<std::size_t> seen_ids;
    for (std::size_t m = 0; m < models.size(); ++m) {
      const std::string model_path = fmt::format("{}.models[{}]", provider_path, m);
      const auto& model_object = require_object(models[m], model_path);
      if (genai) {
        allow_only(model_object, {"id", "name", "description", "match", "context_window", "price_comments",
                                  "prices", "deprecated"},
                   model_path);
        check_genai_model_info(model_object, model_path);
      } else {
        allow_only(model_object, {"id", "match", "prices"}, model_path);
      }
      model_entry model = read_model(model_object, entry.id, reading, model_path);
      if (genai && code_points(model.id) > 100) {
        throw price_table_error(fmt::format("{}.id: longer than 100 characters", model_path));
      }
      // price_ref names an entry by provider and model id, so the id must be unambiguous.
      if (!seen_ids.emplace(model.id, m).second) {
        throw price_table_error(fmt::format("{}.id: '{}' appears twice", model_path, model.id));
      }
      entry.add_model(std::move(model));
    }
    state.model_count += entry.models.size();
    if (!state.provider_by_id.emplace(entry.id, p).second) {
      throw price_table_error(fmt::format("{}.id: '{}' appears twice", provider_path, entry.id));
    }
    state.providers.push_back(std::move(entry));
  }
  for (std::size_t p = 0; p < state.providers.size(); ++p) {
    for (const auto& id : fallback_ids[p]) {
      const auto found = state.provider_by_id.find(id);
      if (found == state.provider_by_id.end()) {
        throw price_table_error(fmt::format("{}[{}:{}].fallback_model_providers: unknown provider '{}'", path_prefix,
                                            p, state.providers[p].id, id));
      }
      state.providers[p].fallbacks.push_back(found->second);
    }
  }
}

void find_token_units(price_table::impl& state) {
  const auto unit_of = [&](std::string_view usage_key) {
    const auto index = state.units.find_usage_key(usage_key);
    if (!index) throw price_table_error(fmt::format("units: '{}' is required", usage_key));
    return *index;
  };
  state.input_unit = unit_of("input_tokens");
  state.output_unit = unit_of("output_tokens");
  state.cache_read_unit = unit_of("cache_read_tokens");
  state.cache_write_unit = unit_of("cache_write_tokens");
  state.reasoning_unit = unit_of("output_reasoning_tokens");
}

void read_cost_guardian_table(const boost::json::value& root, price_table::impl& state) {
  const auto& top = require_object(root, "(root)");
  allow_only(top, {"header", "units", "providers"}, "(root)");
  const auto* header_value = top.if_contains("header");
  if (header_value == nullptr) throw price_table_error("header: missing");
  const auto& header = require_object(*header_value, "header");
  if (require_string(header, "format", "header") != format_name) {
    throw price_table_error(
        fmt::format("header.format: not a Cost Guardian price table (expected '{}')", format_name));
  }
  const auto* version = header.if_contains("format_version");
  if (version == nullptr || !version->is_int64() || version->get_int64() != format_version) {
    throw price_table_error(
        fmt::format("header.format_version: this build reads version {} only (regenerate the table with "
                    "pricing/convert_genai_prices.py)",
                    format_version));
  }
  state.source_name = require_string(header, "source", "header");
  state.source_commit = require_string(header, "source_commit", "header");

  const auto* units_value = top.if_contains("units");
  if (units_value == nullptr) throw price_table_error("units: missing");
  state.units = unit_registry::from_json(*units_value, "units");
  find_token_units(state);

  const auto* providers_value = top.if_contains("providers");
  if (providers_value == nullptr) throw price_table_error("providers: missing");
  read_providers(require_array(*providers_value, "providers"), "providers", state,
                 price_reading{state.units, price_syntax::decimal_strings, nullptr});

  // The converter writes the counts; a mismatch means the file was truncated or edited by hand.
  if (const auto* count = header.if_contains("model_count");
      count != nullptr && !(count->is_int64() && std::cmp_equal(count->get_int64(), state.model_count))) {
    throw price_table_error(fmt::format("header.model_count: does not match the {} models present", state.model_count));
  }
  if (const auto* count = header.if_contains("provider_count");
      count != nullptr && !(count->is_int64() && std::cmp_equal(count->get_int64(), state.providers.size()))) {
    throw price_table_error(
        fmt::format("header.provider_count: does not match the {} providers present", state.providers.size()));
  }
}

void read_genai_prices(const boost::json::array& providers, const unit_registry& units, price_table::impl& state) {
  state.format = table_format::genai_prices;
  state.source_name = "genai-prices";
  // A data.json does not carry the unit registry (upstream keeps it in units.yml); the one compiled into this
  // build is the registry the v2 contract promises.
  state.units = units;
  find_token_units(state);
  read_providers(providers, "(root)", state, price_reading{state.units, price_syntax::json_numbers, &state.warnings});
}

std::uint64_t fnv1a(std::string_view text) noexcept {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace
}  // namespace detail

std::unique_ptr<price_table::impl> price_table::impl::parse(std::string_view text, std::string source_label) {
  const auto fail = [&](const std::string& message) -> price_table_error {
    return price_table_error(fmt::format("{}: {}", source_label, message));
  };
  std::error_code ec;
  const boost::json::value root = detail::parse_json_exact(text, ec);
  if (ec) throw fail(fmt::format("not valid JSON: {}", ec.message()));

  auto state = std::make_unique<impl>();
  state->source = source_label;  // a copy: fail() still names the source
  state->fingerprint = detail::fnv1a(text);
  try {
    if (const auto* providers = root.if_array()) {
      // The registry of the embedded table, which is in the project's format and so never comes back here.
      detail::read_genai_prices(*providers, price_table::embedded()->impl_->units, *state);
    } else if (root.is_object()) {
      detail::read_cost_guardian_table(root, *state);
    } else {
      throw price_table_error(
          "(root): must be a Cost Guardian price table (an object with header, units and providers) or a "
          "genai-prices v2 data.json (an array of providers)");
    }
  } catch (const price_table_error& error) {
    throw fail(error.what());
  }
  return state;
}

}  // namespace cg::pricing
