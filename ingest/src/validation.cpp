// parse_usage_event and parse_usage_event_text of cg/ingest/validation.hpp. The token classes are read in
// token_counts.cpp, timestamps in timestamp.cpp, money in usd.cpp; this file orders the rules and reads the rest.
// The rules and every choice API.md leaves open are written down in docs/event-model.md.

#include "cg/ingest/validation.hpp"

#include "cg/ingest/strict_json.hpp"

#include "field_readers.hpp"
#include "number_text.hpp"
#include "token_counts.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace cg::ingest {

namespace json = boost::json;
using detail::bad_field;
using detail::find_member;
using detail::kind_name;
using detail::maybe_error;
using detail::read_aliased_string;
using detail::string_field;

namespace {

/// Deep enough for any real event (meta's eight levels sit at body depth nine, a batch adds two), shallow enough
/// that a hostile body cannot make the parser's stack large.
constexpr std::size_t max_body_depth = 64;

/// What differs between the routes that read one event; the defaults are POST /ingest's.
struct reading_rules {
  bool tracking_token_required = true;
  bool legacy_cost_name = false;  ///< the old app's `estimatedCostUSD` is a spelling of the cost
  /// The decimal text of top-level numbers as sent (when the body was text): money is read from it, not the double.
  const std::vector<std::pair<std::string, std::string>>* number_texts = nullptr;
};

/// The spellings of the client's cost. Checked in this order; the first is the one named when they differ.
constexpr std::string_view cost_names[] = {"cost_usd", "costUsd", "estimatedCostUSD"};

bool is_blank(std::string_view text) noexcept {
  return text.find_first_not_of(" \t\n\r\v\f") == std::string_view::npos;
}

maybe_error read_tracking_token(const json::object& body, std::string_view header, const event_limits& limits,
                                bool required, usage_event& event) {
  string_field token;
  if (auto e = read_aliased_string(body, "tracking_token", "trackingToken", limits.tracking_token_max, token)) {
    return e;
  }
  if (header.size() > limits.tracking_token_max) {
    return bad_field("tracking_token", fmt::format("the X-Tracking-Token header is longer than {} bytes",
                                                   limits.tracking_token_max));
  }
  if (token.value) {
    if (token.value->empty()) return bad_field(token.field, fmt::format("{} must not be empty", token.field));
    if (!header.empty() && *token.value != header) {
      return bad_field(token.field, fmt::format("{} differs from the X-Tracking-Token header", token.field));
    }
    event.tracking_token.assign(*token.value);
    return std::nullopt;
  }
  if (header.empty()) {
    if (!required) return std::nullopt;
    return bad_field("tracking_token", "tracking_token is required (in the body or the X-Tracking-Token header)");
  }
  event.tracking_token.assign(header);
  return std::nullopt;
}

maybe_error read_model(const json::object& body, const event_limits& limits, usage_event& event) {
  string_field model;
  if (auto e = read_aliased_string(body, "model", {}, limits.model_max, model)) return e;
  if (!model.value) return bad_field("model", "model is required");
  // Whitespace alone names no model, and would group as one more "model" nobody can read in a report.
  if (is_blank(*model.value)) return bad_field("model", "model must not be empty or only whitespace");
  event.model.assign(*model.value);
  return std::nullopt;
}

maybe_error read_event_id(const json::object& body, const event_limits& limits, usage_event& event) {
  string_field id;
  if (auto e = read_aliased_string(body, "event_id", "eventId", limits.event_id_max, id)) return e;
  if (!id.value) return std::nullopt;
  // An empty id would make every id-less retry of this client a duplicate of the first: refuse it instead.
  if (id.value->empty()) return bad_field(id.field, fmt::format("{} must not be empty", id.field));
  event.event_id.emplace(*id.value);
  return std::nullopt;
}

maybe_error read_provider(const json::object& body, const event_limits& limits, usage_event& event) {
  string_field provider;
  // No limit of its own in API.md; a provider name is an identifier like a model id.
  if (auto e = read_aliased_string(body, "provider", {}, limits.model_max, provider)) return e;
  if (provider.value) event.provider.assign(*provider.value);
  return std::nullopt;
}

bool is_operation_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

/// OpenTelemetry's `gen_ai.operation.name` (`chat`, `embeddings`, ...) or a provider's own (`responses`). An
/// identifier, not free text: reports group by it, and anything else is more likely a mistake than a new kind.
maybe_error read_operation(const json::object& body, usage_event& event) {
  constexpr std::size_t operation_max = 64;
  const json::value* value = find_member(body, "operation");
  if (value == nullptr) return std::nullopt;
  const json::string* text = value->if_string();
  if (text == nullptr) {
    return bad_field("operation", fmt::format("operation must be a string, not {}", kind_name(*value)));
  }
  const std::string_view name(text->data(), text->size());
  if (name.empty() || name.size() > operation_max || !std::ranges::all_of(name, is_operation_char)) {
    return bad_field("operation", fmt::format("operation must be 1 to {} characters from A-Z, a-z, 0-9, '_', '.' "
                                              "and '-' (such as \"chat\" or \"embeddings\")",
                                              operation_max));
  }
  event.operation.emplace(name);
  return std::nullopt;
}

maybe_error read_timestamp(const json::object& body, std::int64_t now_us, const event_limits& limits,
                           usage_event& event) {
  const json::value* value = find_member(body, "timestamp");
  if (value == nullptr) return std::nullopt;
  const json::string* text = value->if_string();
  if (text == nullptr) {
    // Epoch numbers are refused: seconds, milliseconds and microseconds cannot be told apart reliably.
    return bad_field("timestamp", fmt::format("timestamp must be an ISO-8601 string such as "
                                              "\"2024-01-15T10:30:00Z\", not {}",
                                              kind_name(*value)));
  }
  const auto unix_us = parse_timestamp(std::string_view(text->data(), text->size()));
  if (!unix_us) {
    return bad_field("timestamp", "timestamp must be ISO-8601 with Z or an offset (\"2024-01-15T10:30:00Z\", "
                                  "\"2024-01-15T11:30:00.5+01:00\") or a date (\"2024-01-15\")");
  }
  if (*unix_us > now_us + limits.future_skew_us) {
    constexpr std::int64_t us_per_hour = 3'600'000'000;
    const std::int64_t skew = limits.future_skew_us;
    return bad_field("timestamp", skew % us_per_hour == 0
                                      ? fmt::format("timestamp is more than {} h in the future", skew / us_per_hour)
                                      : fmt::format("timestamp is more than {} s in the future", skew / 1'000'000));
  }
  event.timestamp_us = *unix_us;
  return std::nullopt;
}

/// Reads one spelling of the cost. `out` is the client cost in nano-USD, nullopt for zero or absent (the server
/// prices those events). `sent_text` is the number's decimal text as the client wrote it, when the body was text:
/// it is read exactly, digit by digit. Without it (an element of a batch) a double goes through its shortest
/// round-trip text, which is the decimal the client wrote whenever that had at most 15 significant digits, so
/// `0.0000045` becomes exactly 4500 nano-USD either way.
maybe_error read_cost(const json::value* value, std::string_view field, std::optional<std::string_view> sent_text,
                      std::optional<std::int64_t>& out) {
  out.reset();
  if (value == nullptr) return std::nullopt;
  char text[32];  // the longest shortest-form double, "-2.2250738585072014e-308", is 24 characters
  std::to_chars_result written{};
  switch (value->kind()) {
    case json::kind::int64: {
      const std::int64_t n = value->get_int64();
      if (n < 0) return bad_field(field, fmt::format("{} must not be negative", field));
      if (n == 0) return std::nullopt;
      written = std::to_chars(text, text + sizeof text, n);
      break;
    }
    case json::kind::uint64:
      written = std::to_chars(text, text + sizeof text, value->get_uint64());
      break;
    case json::kind::double_: {
      const double d = value->get_double();
      if (!std::isfinite(d)) return bad_field(field, fmt::format("{} must be a finite number", field));
      if (d < 0) return bad_field(field, fmt::format("{} must not be negative", field));
      if (d == 0) return std::nullopt;
      written = std::to_chars(text, text + sizeof text, d);
      break;
    }
    default:
      return bad_field(field, fmt::format("{} must be a number, not {}", field, kind_name(*value)));
  }
  const auto digits = sent_text ? *sent_text : std::string_view(text, static_cast<std::size_t>(written.ptr - text));
  const auto nano = parse_usd(digits);
  if (!nano) return bad_field(field, fmt::format("{} is too large (at most 1000000000 USD)", field));
  out = *nano;
  return std::nullopt;
}

maybe_error read_client_cost(const json::object& body, const reading_rules& rules, usage_event& event) {
  const auto sent_text = [&](std::string_view name) -> std::optional<std::string_view> {
    if (rules.number_texts == nullptr) return std::nullopt;
    const auto& texts = *rules.number_texts;
    // The last occurrence of a repeated key, as the DOM keeps it.
    for (auto it = texts.rbegin(); it != texts.rend(); ++it)
      if (it->first == name) return it->second;
    return std::nullopt;
  };
  std::optional<std::string_view> first_name;
  std::optional<std::int64_t> first_value;
  for (const std::string_view name : cost_names) {
    if (name == "estimatedCostUSD" && !rules.legacy_cost_name) continue;
    const json::value* value = find_member(body, name);
    if (value == nullptr) continue;
    std::optional<std::int64_t> cost;
    if (auto e = read_cost(value, name, sent_text(name), cost)) return e;
    if (!first_name) {
      first_name = name;
      first_value = cost;
    } else if (cost != first_value) {
      return bad_field(*first_name, fmt::format("{} and {} are both given and differ", *first_name, name));
    }
  }
  event.client_cost_nusd = first_value;
  return std::nullopt;
}

/// Attribution is optional and free text; an empty string means "not attributed", so that grouping by it does not
/// split one bucket into "" and null.
maybe_error read_attribution(const json::object& body, std::string_view snake, std::string_view camel,
                             const event_limits& limits, std::optional<std::string>& out) {
  string_field field;
  if (auto e = read_aliased_string(body, snake, camel, limits.attribution_max, field)) return e;
  if (field.value && !field.value->empty()) out.emplace(*field.value);
  return std::nullopt;
}

bool is_container(const json::value& v) noexcept { return v.is_object() || v.is_array(); }

/// True when no object or array inside `v` (at nesting `level`, meta being level 1) lies deeper than `max_depth`.
/// Recursion stops at max_depth + 1 whatever the input, so the stack stays bounded.
bool nests_within(const json::value& v, std::size_t level, std::size_t max_depth) {
  if (level > max_depth) return false;
  if (const json::object* obj = v.if_object()) {
    for (const auto& member : *obj) {
      if (is_container(member.value()) && !nests_within(member.value(), level + 1, max_depth)) return false;
    }
  } else if (const json::array* arr = v.if_array()) {
    for (const json::value& element : *arr) {
      if (is_container(element) && !nests_within(element, level + 1, max_depth)) return false;
    }
  }
  return true;
}

maybe_error read_meta(const json::object& body, const event_limits& limits, usage_event& event) {
  const json::value* meta = find_member(body, "meta");
  if (meta == nullptr) return std::nullopt;
  if (!nests_within(*meta, 1, limits.meta_max_depth)) {
    return bad_field("meta", fmt::format("meta is nested deeper than {} levels", limits.meta_max_depth));
  }
  // Serialise in chunks and stop at the limit: a 1 MiB meta costs no more than an 8 KiB one.
  json::serializer serializer;
  serializer.reset(meta);
  std::string text;
  char chunk[1024];
  while (!serializer.done()) {
    const auto part = serializer.read(chunk, sizeof chunk);
    if (text.size() + part.size() > limits.meta_max_bytes) {
      return bad_field("meta", fmt::format("meta is larger than {} bytes as compact JSON", limits.meta_max_bytes));
    }
    text.append(part.data(), part.size());
  }
  event.meta.emplace(std::move(text));
  return std::nullopt;
}

/// The rules in a fixed order, so a body with several faults always gets the same answer.
maybe_error read_event(const json::object& body, std::string_view header_tracking_token, std::int64_t now_us,
                       const event_limits& limits, const reading_rules& rules, usage_event& event) {
  if (auto e = read_tracking_token(body, header_tracking_token, limits, rules.tracking_token_required, event)) {
    return e;
  }
  if (auto e = read_model(body, limits, event)) return e;
  if (auto e = read_event_id(body, limits, event)) return e;
  if (auto e = read_provider(body, limits, event)) return e;
  if (auto e = read_operation(body, event)) return e;
  if (auto e = read_timestamp(body, now_us, limits, event)) return e;
  if (auto e = detail::read_token_counts(body, event.provider, limits, event)) return e;
  if (auto e = read_client_cost(body, rules, event)) return e;
  if (auto e = read_attribution(body, "user", {}, limits, event.user)) return e;
  if (auto e = read_attribution(body, "session_id", "sessionId", limits, event.session_id)) return e;
  if (auto e = read_attribution(body, "session_type", "sessionType", limits, event.session_type)) return e;
  if (auto e = read_attribution(body, "project", {}, limits, event.project)) return e;
  if (auto e = read_attribution(body, "feature", {}, limits, event.feature)) return e;
  if (auto e = read_attribution(body, "environment", {}, limits, event.environment)) return e;
  return read_meta(body, limits, event);
}

parse_result parse_event_object(const json::value& body, std::string_view header_tracking_token,
                                std::int64_t now_us, const event_limits& limits, const reading_rules& rules) {
  const json::object* object = body.if_object();
  if (object == nullptr) {
    return validation_error{.field = {}, .message = fmt::format("body must be a JSON object, not {}", kind_name(body))};
  }
  usage_event event;
  if (auto e = read_event(*object, header_tracking_token, now_us, limits, rules, event)) return std::move(*e);
  return event;
}

parse_result parse_event_text(std::string_view body, std::string_view header_tracking_token, std::int64_t now_us,
                              const event_limits& limits, reading_rules rules) {
  // A single event is a few hundred bytes: these stack buffers usually hold the whole parse, so the hot path does
  // not touch the heap for the DOM. Larger bodies spill over into the default resource.
  unsigned char value_storage[4096];
  json::monotonic_resource resource(value_storage, sizeof value_storage);
  unsigned char parser_storage[1024];
  strict_parse_options options;
  options.max_depth = max_body_depth;
  auto parsed = parse_strict_json(body, &resource, options, parser_storage, sizeof parser_storage);
  if (parsed.error == json::error::too_deep) {
    return validation_error{.field = {},
                            .message = fmt::format("body is nested more than {} levels deep", max_body_depth)};
  }
  if (parsed.error) return validation_error{refusal::invalid_field, {}, "body is not valid JSON"};
  if (!parsed.faults.empty()) {
    const json_fault& fault = parsed.faults.front();
    return validation_error{refusal::invalid_field, format_json_path(fault.path), fault.message()};
  }
  const json::value& value = parsed.value;
  // Money is read from the digits the client sent. Integers are exact in the DOM already; only a cost given as a
  // double needs the text, which costs a second (DOM-less) pass over the body.
  std::vector<std::pair<std::string, std::string>> texts;
  if (const json::object* object = value.if_object()) {
    const bool has_double_cost = std::ranges::any_of(cost_names, [&](std::string_view name) {
      const json::value* cost = object->if_contains(name);
      return cost != nullptr && cost->is_double();
    });
    if (has_double_cost) {
      texts = detail::top_level_number_texts(body, {cost_names[0], cost_names[1], cost_names[2]});
      rules.number_texts = &texts;
    }
  }
  return parse_event_object(value, header_tracking_token, now_us, limits, rules);
}

}  // namespace

parse_result parse_usage_event(const json::value& body, std::string_view header_tracking_token, std::int64_t now_us,
                               const event_limits& limits) {
  return parse_event_object(body, header_tracking_token, now_us, limits, {});
}

parse_result parse_usage_event_text(std::string_view body, std::string_view header_tracking_token,
                                    std::int64_t now_us, const event_limits& limits) {
  return parse_event_text(body, header_tracking_token, now_us, limits, {});
}

parse_result parse_legacy_log_event_text(std::string_view body, std::string_view header_tracking_token,
                                         std::int64_t now_us, const event_limits& limits) {
  return parse_event_text(body, header_tracking_token, now_us, limits,
                          {.tracking_token_required = false, .legacy_cost_name = true});
}

}  // namespace cg::ingest
