#pragma once
// The query string of a request, decoded: `a=1&b=x%20y` -> {a: "1", b: "x y"}.

#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace cg::server {

/// Parameter name -> decoded value.
using query_map = std::map<std::string, std::string, std::less<>>;

/// A query string that cannot be read; `field` names the parameter (or is `query` when no name can be read).
struct query_error {
  std::string field;
  std::string message;
};

/// Splits at `&`, decodes `%XX` and `+` (a space) in names and values. A parameter without `=` has an empty value.
/// A name given twice is an error (which of the two was meant cannot be known), as is a malformed `%` escape.
std::variant<query_map, query_error> parse_query(std::string_view query);

}  // namespace cg::server
