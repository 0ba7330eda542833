#include "http/cors.hpp"

#include <algorithm>

namespace cg::server {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

cors_policy::cors_policy(std::vector<std::string> allowed_origins, bool production) {
  for (auto& origin : allowed_origins) {
    if (origin == "*")
      any_ = true;
    else
      origins_.push_back(lower(origin));
  }
  if (allowed_origins.empty() && !production) any_ = true;
}

bool cors_policy::applies_to(std::string_view path) noexcept {
  return !path.starts_with("/ingest") && !path.starts_with("/v1/") && path != "/v1";
}

bool cors_policy::allows(std::string_view origin) const noexcept {
  if (origin.empty() || origin == "null") return false;  // "null": sandboxed frames and file:// pages
  if (any_) return true;
  return std::ranges::any_of(origins_, [&](const std::string& o) { return iequal(o, origin); });
}

std::string origin_entry_problem(std::string_view entry) {
  if (entry == "*") return {};
  const auto scheme_end = entry.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0)
    return "'" + std::string(entry) +
           "' is not an origin (expected scheme://host[:port], e.g. https://app.example.com)";
  const auto host = entry.substr(scheme_end + 3);
  if (host.empty() || host.find_first_of("/?#") != std::string_view::npos || host.find(' ') != std::string_view::npos)
    return "'" + std::string(entry) +
           "' is not an origin: no path, query or trailing slash (a browser sends e.g. https://app.example.com)";
  return {};
}

}  // namespace cg::server
