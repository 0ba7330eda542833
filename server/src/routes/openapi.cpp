#include "routes/openapi.hpp"

#include "routes/event_json.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <set>

namespace cg::server {

namespace json = boost::json;

namespace {

// Schemas that route_doc entries name (`body`, `responses`). A route's doc names a schema here; add one next to the
// others when a new response shape appears. JSON Schema 2020-12, as OpenAPI 3.1 uses. The event's own fields are
// not written here: StoredEvent and UsageEvent's client-settable properties come from the column list (schemas()).
constexpr std::string_view component_schemas = R"json({
  "Object": {"type": "object", "description": "A JSON object (see the route's description)."},
  "Error": {
    "type": "object", "required": ["error", "message", "request_id"],
    "properties": {
      "error": {"type": "string"},
      "message": {"type": "string", "description": "The same text as error (the old dashboard reads this one)."},
      "request_id": {"type": "string"},
      "field": {"type": "string", "description": "Dotted JSON path of the invalid field (validation errors only)."}
    }
  },
  "Pong": {"type": "object", "properties": {"message": {"const": "pong"}}},
  "Health": {
    "type": "object", "required": ["status"],
    "properties": {
      "status": {"enum": ["healthy", "unhealthy"]},
      "reason": {"type": "string"},
      "timestamp": {"type": "string", "format": "date-time"},
      "version": {"type": "string"},
      "uptime_s": {"type": "integer"},
      "pricing": {"type": "object", "properties": {"source": {"type": "string"}, "models": {"type": "integer"}}}
    }
  },
  "UsageEvent": {
    "type": "object", "required": ["model"],
    "description": "One usage event. tracking_token may come from the X-Tracking-Token header instead. )json"
  R"json(Token counts may also be given as the provider's native usage object.",
    "properties": {
      "tracking_token": {"type": "string", "maxLength": 64},
      "usage": {"type": "object", "description": "OpenAI Chat Completions / Responses or Anthropic Messages usage"}
    }
  },
  "UsageEventBatch": {
    "description": "A JSON array of UsageEvent, or an object {\"events\": [...]}; NDJSON is sent as )json"
  R"json(application/x-ndjson, one UsageEvent per line.",
    "oneOf": [
      {"type": "array", "items": {"$ref": "#/components/schemas/UsageEvent"}},
      {"type": "object", "required": ["events"],
       "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/UsageEvent"}}}}
    ]
  },
  "BatchResult": {
    "type": "object", "required": ["accepted", "duplicates", "rejected", "results"],
    "properties": {
      "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
      "results": {"type": "array", "description": "One per event, in body order.", "items": {
        "type": "object", "required": ["index", "status"],
        "properties": {
          "index": {"type": "integer"}, "status": {"type": "integer"},
          "id": {"type": "integer", "description": "201: the new row; 200: the first row's id"},
          "duplicate": {"const": true},
          "error": {"type": "string"},
          "field": {"type": "string", "description": "Path of the invalid field, e.g. events[2].model"}
        }
      }}
    }
  },
  "IngestCreated": {
    "type": "object",
    "properties": {
      "ok": {"const": true}, "id": {"type": "integer"}, "cost_usd": {"type": "number"},
      "cost_usd_exact": {"type": "string"}, "cost_source": {"enum": ["client", "server", "unpriced", "v0.3-import"]}
    }
  },
  "IngestDuplicate": {
    "type": "object",
    "properties": {"ok": {"const": true}, "duplicate": {"const": true}, "id": {"type": "integer"}}
  },
  "Token": {
    "type": "object",
    "properties": {
      "id": {"type": "integer"}, "label": {"type": "string"}, "token": {"type": "string"},
      "token_masked": {"type": "string"}, "active": {"type": "boolean"},
      "created_at": {"type": "string", "format": "date-time"},
      "last_seen_at": {"type": ["string", "null"], "format": "date-time"},
      "usage_count": {"type": "integer"}
    }
  },
  "TokenList": {
    "type": "object",
    "properties": {"tokens": {"type": "array", "items": {"$ref": "#/components/schemas/Token"}}}
  },
  "TokenCreate": {
    "type": "object", "required": ["label"],
    "properties": {"label": {"type": "string", "minLength": 1, "maxLength": 64}}
  },
  "TokenCreated": {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "token": {"type": "string"}, "label": {"type": "string"}}
  },
  "TokenActiveChange": {"type": "object", "required": ["active"], "properties": {"active": {"type": "boolean"}}},
  "TokenActiveResult": {
    "type": "object",
    "properties": {"ok": {"const": true}, "id": {"type": "integer"}, "active": {"type": "boolean"}}
  },
  "TokenDeleted": {
    "type": "object",
    "properties": {"ok": {"const": true}, "id": {"type": "integer"}, "deleted": {"const": true}}
  },
  "Metrics": {
    "type": "object",
    "description": "The old app's shape, extended. With ?format=prometheus or Accept: text/plain: )json"
  R"json(Prometheus text exposition 0.0.4 instead.",
    "properties": {
      "version": {"type": "string"}, "env": {"type": "string"},
      "ingest": {"type": "object", "properties": {"rpm": {"type": "integer"}, "burst": {"type": "integer"},
                                                  "auth_enabled": {"type": "boolean"}}},
      "rate_limit": {"type": "object"},
      "counters": {"type": "object", "additionalProperties": true,
                   "properties": {"ingest_success": {"type": "integer"}, "ingest_duplicate": {"type": "integer"},
                                  "ingest_bad_auth": {"type": "integer"}, "rate_limit_hits": {"type": "integer"}}},
      "db": {"type": "object", "properties": {"usage_rows": {"type": "integer"}, "active_tokens": {"type": "integer"},
                                              "last_usage_at": {"type": ["string", "null"], "format": "date-time"}}},
      "writer": {"type": "object"},
      "pricing": {"type": "object", "properties": {"source": {"type": "string"}, "models": {"type": "integer"}}}
    }
  },
  "DataPage": {
    "type": "object", "required": ["data", "next_cursor", "limit"],
    "properties": {
      "data": {"type": "array", "items": {"$ref": "#/components/schemas/StoredEvent"}},
      "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor for the next page; null on the last"},
      "limit": {"type": "integer"}
    }
  },
  "OpenApiDocument": {"type": "object", "description": "This document."}
})json";

constexpr std::string_view status_text(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No content";
    case 207: return "Some items failed (see each result)";
    case 400: return "Invalid request; `field` names the offending JSON path or parameter";
    case 401: return "Missing or invalid key";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 409: return "Conflict";
    case 413: return "Body too large";
    case 415: return "Content-Type is not JSON";
    case 429: return "Rate limited: wait Retry-After seconds";
    case 503: return "Overloaded or storage unavailable: nothing was stored; retry after Retry-After seconds";
    default: return "See description";
  }
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

const json::object& schemas() {
  static const json::object parsed = [] {
    boost::system::error_code ec;
    auto v = json::parse(component_schemas, ec);
    if (ec || !v.is_object()) return json::object{};
    json::object all = std::move(v.as_object());
    all["StoredEvent"] = stored_event_schema();
    auto& usage_event = all["UsageEvent"].as_object()["properties"].as_object();
    for (auto& [key, schema] : settable_event_properties()) usage_event[key] = schema;
    return all;
  }();
  return parsed;
}

std::string openapi_path(const std::string& pattern) {
  std::string out;
  for (const auto segment : split(pattern, '/')) {
    out += '/';
    if (segment.size() > 2 && segment.front() == '<' && segment.back() == '>') {
      const auto inner = segment.substr(1, segment.size() - 2);
      out += '{';
      out += inner.substr(0, inner.find(':'));
      out += '}';
    } else {
      out += segment;
    }
  }
  return out.empty() ? "/" : out;
}

std::string operation_id(const router::route& r) {
  std::string id(http::to_string(r.method));
  std::ranges::transform(id, id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char c : r.pattern) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string squeezed;
  for (const char c : id)
    if (!(c == '_' && !squeezed.empty() && squeezed.back() == '_')) squeezed += c;
  while (!squeezed.empty() && squeezed.back() == '_') squeezed.pop_back();
  return squeezed;
}

// `type` of the mini-syntax -> a JSON schema; empty optional result = unknown type.
std::optional<json::object> param_schema(std::string_view type) {
  if (type.empty() || type == "string") return json::object{{"type", "string"}};
  if (type == "integer" || type == "number" || type == "boolean") return json::object{{"type", type}};
  if (type == "date")
    return json::object{{"type", "string"},
                        {"description", "a date (YYYY-MM-DD) or an ISO-8601 time with Z or an offset"}};
  if (type.find('|') != std::string_view::npos) {
    json::array values;
    for (const auto v : split(type, '|')) values.emplace_back(v);
    return json::object{{"type", "string"}, {"enum", std::move(values)}};
  }
  return std::nullopt;
}

struct param_spec {
  std::string_view name;
  std::string_view type;
  bool required = false;
};

param_spec parse_param(std::string_view entry) {
  param_spec p;
  if (entry.ends_with('!')) {
    p.required = true;
    entry.remove_suffix(1);
  }
  const auto colon = entry.find(':');
  p.name = entry.substr(0, colon);
  if (colon != std::string_view::npos) p.type = entry.substr(colon + 1);
  return p;
}

// A content list (`Schema,media/type`) -> an OpenAPI content object; problems appended.
json::object content_of(std::string_view list, std::vector<std::string>* problems, const std::string& where) {
  json::object content;
  for (const auto item : split(list, ',')) {
    if (item.find('/') != std::string_view::npos) {
      const bool is_json = item == "application/json" || item.ends_with("+json");
      content[item] = json::object{{"schema", json::object{{"type", is_json ? "object" : "string"}}}};
    } else {
      if (!schemas().contains(item) && problems)
        problems->push_back(fmt::format("{}: schema '{}' is not in openapi.cpp's components", where, item));
      content["application/json"] =
          json::object{{"schema", json::object{{"$ref", fmt::format("#/components/schemas/{}", item)}}}};
    }
  }
  return content;
}

json::object error_content() {
  return {{"application/json", json::object{{"schema", json::object{{"$ref", "#/components/schemas/Error"}}}}}};
}

json::object retry_after_header() {
  return {{"description", "seconds to wait"}, {"schema", json::object{{"type", "integer"}}}};
}

// One operation from its route and doc; problems appended when `problems` is given.
json::object operation(const router::route& r, const openapi_info& info, std::vector<std::string>* problems) {
  const auto& doc = r.doc;
  const auto where = fmt::format("{} {}", std::string(http::to_string(r.method)), r.pattern);
  json::object op;
  op["operationId"] = operation_id(r);
  op["summary"] = doc.summary;
  if (!doc.description.empty()) op["description"] = doc.description;
  const char* tag = doc.auth == route_auth::admin ? "admin" : doc.auth == route_auth::ingest ? "ingest" : "public";
  op["tags"] = json::array{tag};
  if (doc.deprecated) op["deprecated"] = true;
  if (doc.auth == route_auth::admin)
    op["security"] = json::array{json::object{{"adminKey", json::array{}}}, json::object{{"bearer", json::array{}}}};
  else if (doc.auth == route_auth::ingest)
    op["security"] = json::array{json::object{{"ingestKey", json::array{}}}};
  else
    op["security"] = json::array{};

  json::array params;
  for (const auto segment : split(r.pattern, '/')) {
    if (!(segment.size() > 2 && segment.front() == '<' && segment.back() == '>')) continue;
    const auto spec = parse_param(segment.substr(1, segment.size() - 2));
    // Ids are integers unless the pattern says otherwise (`<name:string>`).
    const auto type = !spec.type.empty() ? spec.type
                      : (spec.name == "id" || spec.name.ends_with("_id")) ? std::string_view("integer")
                                                                           : std::string_view("string");
    auto schema = param_schema(type);
    if (!schema && problems) problems->push_back(fmt::format("{}: path parameter type '{}' unknown", where, type));
    params.push_back(json::object{{"name", spec.name}, {"in", "path"}, {"required", true},
                                  {"schema", schema.value_or(json::object{{"type", "string"}})}});
  }
  const auto add_params = [&](std::string_view list, const char* in) {
    for (const auto entry : split(list, ' ')) {
      const auto spec = parse_param(entry);
      auto schema = param_schema(spec.type);
      if ((!schema || spec.name.empty()) && problems)
        problems->push_back(fmt::format("{}: {} parameter '{}' malformed", where, in, entry));
      params.push_back(json::object{{"name", spec.name}, {"in", in}, {"required", spec.required},
                                    {"schema", schema.value_or(json::object{{"type", "string"}})}});
    }
  };
  add_params(doc.query, "query");
  add_params(doc.headers, "header");
  if (!params.empty()) op["parameters"] = std::move(params);

  if (!doc.body.empty())
    op["requestBody"] = json::object{{"required", true}, {"content", content_of(doc.body, problems, where)}};

  json::object responses;
  bool has_success = false;
  for (const auto entry : split(doc.responses, ' ')) {
    const auto colon = entry.find(':');
    const auto code_text = entry.substr(0, colon);
    unsigned code = 0;
    for (const char c : code_text) code = c >= '0' && c <= '9' ? code * 10 + static_cast<unsigned>(c - '0') : 1000;
    if (code < 100 || code > 599) {
      if (problems) problems->push_back(fmt::format("{}: response '{}' is not a status", where, entry));
      continue;
    }
    has_success = has_success || code < 400;
    json::object res{{"description", status_text(code)}};
    if (colon != std::string_view::npos)
      res["content"] = content_of(entry.substr(colon + 1), problems, where);
    else if (code >= 400)
      res["content"] = error_content();
    if (code == 503) res["headers"] = json::object{{"Retry-After", retry_after_header()}};
    responses[code_text] = std::move(res);
  }
  if (!has_success && problems) problems->push_back(fmt::format("{}: no success response listed", where));
  if (doc.auth != route_auth::none && !responses.contains("401"))
    responses["401"] = json::object{{"description", status_text(401)}, {"content", error_content()}};
  const bool limited = ((doc.auth == route_auth::ingest ? info.ingest_limited : info.admin_limited) &&
                        !(info.exempt && info.exempt(r.pattern))) ||
                       (doc.auth != route_auth::none && info.auth_failure_limited);
  if (limited) {
    json::object integer_header{{"schema", json::object{{"type", "integer"}}}};
    responses["429"] = json::object{
        {"description", status_text(429)},
        {"content", error_content()},
        {"headers", json::object{{"Retry-After", retry_after_header()},
                                 {"RateLimit-Limit", integer_header},
                                 {"RateLimit-Remaining", integer_header},
                                 {"RateLimit-Reset", integer_header}}}};
  }
  op["responses"] = std::move(responses);
  return op;
}

}  // namespace

boost::json::object build_openapi(const router& routes, const openapi_info& info) {
  json::object paths;
  json::array table;
  for (const auto& r : routes.routes()) {
    std::string method(http::to_string(r.method));
    table.emplace_back(fmt::format("{} {}", method, r.pattern));
    if (r.doc.summary.empty()) continue;
    std::ranges::transform(method, method.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto& item = paths[openapi_path(r.pattern)];
    if (!item.is_object()) item = json::object{};
    item.as_object()[method] = operation(r, info, nullptr);
  }

  json::object components{
      {"schemas", schemas()},
      {"securitySchemes",
       json::object{{"adminKey", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
                    {"bearer", json::object{{"type", "http"}, {"scheme", "bearer"},
                                            {"description", "the admin key as a bearer token"}}},
                    {"ingestKey", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-Ingest-Key"}}}}}};

  return json::object{
      {"openapi", "3.1.0"},
      {"info", json::object{{"title", "Cost Guardian"},
                            {"version", info.version},
                            {"description",
                             "LLM usage and cost gateway. Every error is JSON {error, message, request_id[, field]}; "
                             "every response carries X-Request-Id. HEAD is answered wherever GET is."},
                            // OpenAPI 3.1: a name, and either an SPDX identifier or a url.
                            {"license", json::object{{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}}}}},
      {"tags", json::array{json::object{{"name", "public"}, {"description", "no key"}},
                           json::object{{"name", "ingest"}, {"description", "X-Ingest-Key"}},
                           json::object{{"name", "admin"}, {"description", "X-API-Key or Authorization: Bearer"}}}},
      {"paths", std::move(paths)},
      {"components", std::move(components)},
      {"x-route-table", std::move(table)},
  };
}

std::vector<std::string> openapi_problems(const router& routes) {
  std::vector<std::string> problems;
  if (schemas().empty()) problems.emplace_back("openapi.cpp: the component schemas do not parse as a JSON object");
  std::set<std::string> seen;
  const openapi_info info{.version = "check"};
  for (const auto& r : routes.routes()) {
    const auto where = fmt::format("{} {}", std::string(http::to_string(r.method)), r.pattern);
    if (!seen.insert(where).second) problems.push_back(fmt::format("{}: registered twice", where));
    if (r.doc.summary.empty()) {
      problems.push_back(
          fmt::format("{}: no route_doc (add {{.summary = ..., .responses = ...}} to its routes.add)", where));
      continue;
    }
    operation(r, info, &problems);
  }
  return problems;
}

void register_openapi_route(router& routes, openapi_info info) {
  struct cache {
    std::once_flag once;
    std::string body;
  };
  auto state = std::make_shared<cache>();
  const router& table = routes;
  routes.add(
      http::verb::get, "/openapi.json",
      [state, &table, info = std::move(info)](const request_ptr&, const responder& respond) {
        std::call_once(state->once, [&] { state->body = to_json_text(build_openapi(table, info)); });
        auto res = json_response(http::status::ok, state->body);
        res.set(http::field::cache_control, "no-cache");
        respond(std::move(res));
      },
      {.summary = "This API as an OpenAPI 3.1 document",
       .auth = route_auth::none,
       .responses = "200:OpenApiDocument",
       .description = "Generated from the router's table; `x-route-table` lists every registered route."});
}

}  // namespace cg::server
