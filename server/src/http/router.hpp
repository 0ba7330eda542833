#pragma once
// Method + path -> handler, with 404 and 405 (+Allow) as JSON errors.

#include "http/http.hpp"
#include "http/route_doc.hpp"

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
    route_doc doc;                      ///< for /openapi.json and the pipeline (see route_doc.hpp)
  };

  /// What a path and method resolved to: the route, or why none (`allow` lists the methods the path has: 405).
  struct match_result {
    const route* found = nullptr;
    std::string allow;
  };

  void add(http::verb method, std::string pattern, handler handle, route_doc doc = {});
  /// Finds the route for the request and, when found, stores its path parameters in ctx. Runs no handler.
  match_result match(const request_ptr& ctx) const;
  /// Runs the matched route's handler, or answers 404 / 405 (+Allow).
  void dispatch(const request_ptr& ctx, const match_result& matched, const responder& respond) const;
  void dispatch(const request_ptr& ctx, const responder& respond) const { dispatch(ctx, match(ctx), respond); }
  const std::vector<route>& routes() const noexcept { return routes_; }

 private:
  std::vector<route> routes_;
};

/// Splits a path into its segments (`/a/b` -> {"a", "b"}; `/` -> {}).
std::vector<std::string_view> split_path(std::string_view path);

}  // namespace cg::server
