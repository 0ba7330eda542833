#include "http/query_params.hpp"

#include <fmt/format.h>

#include <optional>

namespace cg::server {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::variant<query_map, query_error> parse_query(std::string_view query) {
  query_map params;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    const auto amp = query.find('&', pos);
    const auto end = amp == std::string_view::npos ? query.size() : amp;
    const auto part = query.substr(pos, end - pos);
    if (!part.empty()) {
      const auto eq = part.find('=');
      const auto raw_name = part.substr(0, eq);
      const auto raw_value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
      auto name = percent_decode(raw_name);
      if (!name) return query_error{"query", fmt::format("malformed %-escape in parameter name '{}'", raw_name)};
      auto value = percent_decode(raw_value);
      if (!value) return query_error{*name, fmt::format("malformed %-escape in the value of {}", *name)};
      if (!params.emplace(*name, std::move(*value)).second)
        return query_error{*name, fmt::format("{} is given more than once", *name)};
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return params;
}

}  // namespace cg::server
