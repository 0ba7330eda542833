#pragma once
// What a route is, for the people and tools that call it: written next to the route's registration, read by the
// OpenAPI document (GET /openapi.json) and by the pipeline (which limiter applies).
//
//   routes.add(verb::get, "/ingest/tokens", handler,
//              {.summary = "List tracking tokens", .responses = "200:TokenList"});
//
// Mini-syntax of the string fields (space-separated entries):
// - query, headers: `name[:type][!]`. type: string (default), integer, number, boolean, date (a date or an
//   ISO-8601 time), or an enumeration `a|b|c`; `!` = required. `limit:integer start:date format:json|prometheus`.
// - body: what the request body may be: a schema name from openapi.cpp's components (sent as application/json) or
//   a media type (`application/x-ndjson`), comma-separated: `UsageEventBatch,application/x-ndjson`.
// - responses: `status[:content]`, content as in body. A status without content is a JSON error for 4xx/5xx and an
//   empty body otherwise. `201:IngestCreated 200:IngestDuplicate 400 404`. 401 (admin and ingest routes) and 429
//   (every rate-limited route) are added by the generator; list only what the route itself adds.
// Path parameters come from the pattern (`<id>`).

#include <string_view>

namespace cg::server {

/// Who may call a route, which also decides how it is rate-limited.
enum class route_auth {
  none,    ///< public: admin limiter per client address unless RATE_LIMIT_EXEMPT
  admin,   ///< X-API-Key / Bearer: admin limiter per key (per address without a valid key)
  ingest,  ///< X-Ingest-Key: the handler charges the tracking token's bucket; the admin limiter never applies
};

struct route_doc {
  std::string_view summary = {};  ///< one line; a route without one is missing from /openapi.json (a test fails)
  route_auth auth = route_auth::admin;
  std::string_view query = {};
  std::string_view headers = {};
  std::string_view body = {};
  std::string_view responses = {};
  std::string_view description = {};  ///< longer text (Markdown), optional
  bool deprecated = false;
};

}  // namespace cg::server
