#include "field_readers.hpp"

#include <fmt/format.h>

#include <cmath>

namespace cg::ingest::detail {

namespace json = boost::json;

validation_error bad_field(std::string_view field, std::string message) {
  return validation_error{refusal::invalid_field, std::string(field), std::move(message)};
}

std::string_view kind_name(const json::value& v) noexcept {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

const json::value* find_member(const json::object& body, std::string_view key) noexcept {
  const json::value* v = body.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

maybe_error read_count(const json::value* v, std::string_view field, std::int64_t max,
                       std::optional<count_source>& out) {
  out.reset();
  if (v == nullptr) return std::nullopt;
  std::int64_t n = 0;
  switch (v->kind()) {
    case json::kind::int64:
      n = v->get_int64();
      if (n < 0) return bad_field(field, fmt::format("{} must not be negative", field));
      break;
    case json::kind::uint64:
      // The parser only produces uint64 above INT64_MAX, far beyond any limit.
      return bad_field(field, fmt::format("{} must be at most {}", field, max));
    case json::kind::double_: {
      // Some clients (JavaScript, pandas) serialise counts as 10.0; an integral value is unambiguous.
      const double d = v->get_double();
      if (!std::isfinite(d)) return bad_field(field, fmt::format("{} must be a finite integer", field));
      if (d < 0) return bad_field(field, fmt::format("{} must not be negative", field));
      if (d != std::trunc(d)) return bad_field(field, fmt::format("{} must be a whole number", field));
      if (d > static_cast<double>(max)) return bad_field(field, fmt::format("{} must be at most {}", field, max));
      n = static_cast<std::int64_t>(d);
      break;
    }
    default:
      return bad_field(field, fmt::format("{} must be an integer, not {}", field, kind_name(*v)));
  }
  if (n > max) return bad_field(field, fmt::format("{} must be at most {}", field, max));
  out = count_source{n, field};
  return std::nullopt;
}

maybe_error read_aliased_count(const json::object& body, std::string_view snake, std::string_view camel,
                               std::int64_t max, std::optional<count_source>& out) {
  if (auto err = read_count(find_member(body, snake), snake, max, out)) return err;
  std::optional<count_source> alias;
  if (auto err = read_count(find_member(body, camel), camel, max, alias)) return err;
  if (!alias) return std::nullopt;
  if (out && out->value != alias->value) {
    return bad_field(snake, fmt::format("{} ({}) and {} ({}) disagree", snake, out->value, camel, alias->value));
  }
  if (!out) out = alias;
  return std::nullopt;
}

namespace {

maybe_error read_string(const json::value* v, std::string_view field, std::size_t max_bytes,
                        std::optional<std::string_view>& out) {
  out.reset();
  if (v == nullptr) return std::nullopt;
  const json::string* s = v->if_string();
  if (s == nullptr) return bad_field(field, fmt::format("{} must be a string, not {}", field, kind_name(*v)));
  if (s->size() > max_bytes) {
    return bad_field(field, fmt::format("{} is longer than {} bytes", field, max_bytes));
  }
  // PostgreSQL text cannot hold a NUL; refused here, on both backends, it costs the one event and not the batch it
  // would have failed at COMMIT.
  if (std::string_view(s->data(), s->size()).find('\0') != std::string_view::npos)
    return bad_field(field, fmt::format("{} must not contain a NUL character (\\u0000)", field));
  out = std::string_view(s->data(), s->size());
  return std::nullopt;
}

}  // namespace

maybe_error read_aliased_string(const json::object& body, std::string_view snake, std::string_view camel,
                                std::size_t max_bytes, string_field& out) {
  out = string_field{std::nullopt, snake};
  if (auto err = read_string(find_member(body, snake), snake, max_bytes, out.value)) return err;
  if (camel.empty()) return std::nullopt;
  std::optional<std::string_view> alias;
  if (auto err = read_string(find_member(body, camel), camel, max_bytes, alias)) return err;
  if (!alias) return std::nullopt;
  if (out.value && *out.value != *alias) {
    return bad_field(snake, fmt::format("{} and {} are both given and differ", snake, camel));
  }
  if (!out.value) out = string_field{alias, camel};
  return std::nullopt;
}

}  // namespace cg::ingest::detail
