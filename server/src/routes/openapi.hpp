#pragma once
// GET /openapi.json: an OpenAPI 3.1 document generated from the router's real table and the route_doc written next
// to each registration, so the document cannot list a route that does not exist, and a route registered without a
// doc is reported (openapi_problems) and missing from the document, which the test_openapi integration test catches
// by comparing the documented operations with the table the same document carries as `x-route-table`.

#include "http/router.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::server {

/// What the document says about this server beyond its routes. The 429 responses follow the rate-limit settings.
struct openapi_info {
  std::string version;
  bool admin_limited = true;                          ///< RATE_LIMIT_RPM > 0
  bool ingest_limited = true;                         ///< INGEST_RPM > 0
  bool auth_failure_limited = false;                  ///< AUTH_FAILURE_RPM > 0: keyed routes may answer 429
  std::function<bool(std::string_view path)> exempt{};  ///< RATE_LIMIT_EXEMPT; empty: none
};

/// The whole document. Routes without a summary are left out (and named by openapi_problems); every route, with or
/// without one, is listed in `x-route-table` as "METHOD /pattern".
boost::json::object build_openapi(const router& routes, const openapi_info& info);

/// What keeps the document from being complete and correct: routes without a summary, a malformed query/header/
/// response spec, a schema name that is not among the components, a route registered twice. Empty when all is well.
std::vector<std::string> openapi_problems(const router& routes);

/// Adds GET /openapi.json (public). The document is built on the first request, from the table as it is then
/// (routes are all registered before the listener starts), and served from memory afterwards.
void register_openapi_route(router& routes, openapi_info info);

}  // namespace cg::server
