#pragma once
// Private to cg_ingest: reading one field of a pushed event with the type and range rules of API.md.
// Field names passed in are string literals (the key as the client spelled it, or a dotted path into `usage`), so
// they are kept as string_views and only become std::strings when an error is built.

#include "cg/ingest/validation.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::ingest::detail {

using maybe_error = std::optional<validation_error>;

/// A 400 naming `field`.
validation_error bad_field(std::string_view field, std::string message);

/// "a string", "an object", ...: the JSON type of `v` for messages.
std::string_view kind_name(const boost::json::value& v) noexcept;

/// A member of `body`, with JSON `null` read as absent: clients serialise unset optionals as null.
const boost::json::value* find_member(const boost::json::object& body, std::string_view key) noexcept;

/// A token count and the field it came from (needed to name the field when a later cross-field rule fails).
struct count_source {
  std::int64_t value = 0;
  std::string_view field;
};

/// Reads `v` (may be null: absent) as a token count: a JSON integer, or a double with an integral value, in
/// [0, max]. On success `out` holds the count or nullopt.
maybe_error read_count(const boost::json::value* v, std::string_view field, std::int64_t max,
                       std::optional<count_source>& out);

/// Reads a count that may be spelled `snake` or `camel`; both given with different values is a 400 on `snake`.
maybe_error read_aliased_count(const boost::json::object& body, std::string_view snake, std::string_view camel,
                               std::int64_t max, std::optional<count_source>& out);

/// A string field, found under `snake` or its alias `camel` (empty: no alias). `value` is empty-optional when absent.
struct string_field {
  std::optional<std::string_view> value;
  std::string_view field;  ///< the key the client used, for later errors (length, emptiness)
};

/// Reads a string that may be spelled `snake` or `camel`: a non-string is a 400 naming the key used, both spellings
/// with different values a 400 on `snake`, and a value longer than `max_bytes` (UTF-8 bytes) a 400 too.
maybe_error read_aliased_string(const boost::json::object& body, std::string_view snake, std::string_view camel,
                                std::size_t max_bytes, string_field& out);

}  // namespace cg::ingest::detail
