#pragma once
// Method + path -> handler, with 404 and 405 (+Allow) as JSON errors.

#include "http.hpp"

#include <string>
#include <vector>

namespace cg::server {

/// Thread-safety: routes are added at start-up; dispatch() is then const and safe from every IO thread.
class router {
 public:
  using handler = std::function<void(const request_ptr&, responder)>;

  struct route {
    http::verb method;
    std::string pattern;                ///< `/ingest/tokens/<id>/active`: `<name>` matches one segment
    std::vector<std::string> segments;  ///< the pattern split at '/'
    handler handle;
  };

  void add(http::verb method, std::string pattern, handler handle);
  void dispatch(const request_ptr& ctx, const responder& respond) const;
  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  std::vector<route> routes_;
};

/// Splits a path into its segments (`/a/b` -> {"a", "b"}; `/` -> {}).
std::vector<std::string_view> split_path(std::string_view path);

}  // namespace cg::server
