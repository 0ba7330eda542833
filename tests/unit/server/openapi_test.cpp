#include "routes/openapi.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <algorithm>

using namespace cg::server;
namespace json = boost::json;

namespace {

void nothing(const request_ptr&, const responder&) {}

router sample_router() {
  router routes;
  routes.add(http::verb::get, "/ping", nothing, {.summary = "Liveness", .auth = route_auth::none,
                                                 .responses = "200:Pong"});
  routes.add(http::verb::post, "/ingest", nothing,
             {.summary = "One event", .auth = route_auth::ingest, .headers = "X-Tracking-Token",
              .body = "UsageEvent", .responses = "201:IngestCreated 200:IngestDuplicate 400 503"});
  routes.add(http::verb::get, "/data", nothing,
             {.summary = "Rows", .query = "start:date limit:integer! order:asc|desc",
              .responses = "200:application/json,text/csv 400"});
  routes.add(http::verb::patch, "/ingest/tokens/<id>/active", nothing,
             {.summary = "Toggle", .body = "TokenActiveChange", .responses = "200:TokenActiveResult 404"});
  return routes;
}

const json::object& op(const json::object& doc, std::string_view path, std::string_view method) {
  return doc.at("paths").at(path).at(method).as_object();
}

}  // namespace

TEST_SUITE("server.openapi") {
  TEST_CASE("a documented table gives a complete 3.1 document and no problems") {
    const auto routes = sample_router();
    CHECK(openapi_problems(routes).empty());
    const auto doc = build_openapi(routes, {.version = "9.9.9"});
    CHECK(doc.at("openapi") == "3.1.0");
    CHECK(doc.at("info").at("version") == "9.9.9");
    CHECK(doc.at("paths").as_object().size() == 4);
    CHECK(doc.at("x-route-table").as_array().size() == 4);

    const auto& ping = op(doc, "/ping", "get");
    CHECK(ping.at("security").as_array().empty());
    CHECK(ping.at("responses").at("200").at("content").at("application/json").at("schema").at("$ref") ==
          "#/components/schemas/Pong");
    CHECK_FALSE(ping.at("responses").as_object().contains("401"));

    const auto& ingest = op(doc, "/ingest", "post");
    CHECK(ingest.at("security").at(0).as_object().contains("ingestKey"));
    CHECK(ingest.at("requestBody").at("content").at("application/json").at("schema").at("$ref") ==
          "#/components/schemas/UsageEvent");
    CHECK(ingest.at("responses").as_object().contains("401"));  // added for keyed routes
    CHECK(ingest.at("responses").at("429").at("headers").as_object().contains("Retry-After"));
    CHECK(ingest.at("responses").at("503").at("headers").as_object().contains("Retry-After"));
    CHECK(ingest.at("responses").at("400").at("content").at("application/json").at("schema").at("$ref") ==
          "#/components/schemas/Error");

    const auto& data = op(doc, "/data", "get");
    const auto& params = data.at("parameters").as_array();
    REQUIRE(params.size() == 3);
    CHECK(params.at(1).at("name") == "limit");
    CHECK(params.at(1).at("required") == true);
    CHECK(params.at(1).at("schema").at("type") == "integer");
    CHECK(params.at(2).at("schema").at("enum").as_array().size() == 2);
    CHECK(data.at("responses").at("200").at("content").as_object().contains("text/csv"));

    // Path parameters come from the pattern; ids are integers.
    const auto& toggle = op(doc, "/ingest/tokens/{id}/active", "patch");
    CHECK(toggle.at("parameters").at(0).at("in") == "path");
    CHECK(toggle.at("parameters").at(0).at("schema").at("type") == "integer");
    CHECK(toggle.at("operationId") == "patch_ingest_tokens_id_active");
  }

  TEST_CASE("every $ref of the document resolves to a component") {
    const auto doc = build_openapi(sample_router(), {.version = "1"});
    const auto& schemas = doc.at("components").at("schemas").as_object();
    std::function<void(const json::value&)> walk = [&](const json::value& v) {
      if (v.is_object()) {
        for (const auto& [key, child] : v.as_object()) {
          if (key == "$ref") {
            const std::string ref(child.as_string());
            CHECK_MESSAGE(schemas.contains(ref.substr(ref.rfind('/') + 1)), ref);
          }
          walk(child);
        }
      } else if (v.is_array()) {
        for (const auto& child : v.as_array()) walk(child);
      }
    };
    walk(doc);
  }

  TEST_CASE("an undocumented route is left out of paths, listed in the table and named as a problem") {
    auto routes = sample_router();
    routes.add(http::verb::get, "/costs", nothing);
    const auto doc = build_openapi(routes, {.version = "1"});
    CHECK_FALSE(doc.at("paths").as_object().contains("/costs"));
    const auto& table = doc.at("x-route-table").as_array();
    CHECK(std::ranges::find(table, json::value("GET /costs")) != table.end());
    const auto problems = openapi_problems(routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("GET /costs") != std::string::npos);
  }

  TEST_CASE("malformed docs are reported") {
    router routes;
    routes.add(http::verb::get, "/a", nothing, {.summary = "a", .responses = "200:NoSuchSchema"});
    routes.add(http::verb::get, "/b", nothing, {.summary = "b", .query = "x:float", .responses = "200"});
    routes.add(http::verb::get, "/c", nothing, {.summary = "c", .responses = "4O4"});
    routes.add(http::verb::get, "/a", nothing, {.summary = "a again", .responses = "200"});
    const auto problems = openapi_problems(routes);
    auto mentions = [&](std::string_view what) {
      return std::ranges::any_of(problems, [&](const std::string& p) { return p.find(what) != std::string::npos; });
    };
    CHECK(mentions("NoSuchSchema"));
    CHECK(mentions("x:float"));
    CHECK(mentions("4O4"));
    CHECK(mentions("registered twice"));
    CHECK(mentions("GET /c: no success response"));
  }

  TEST_CASE("429 follows the rate-limit settings") {
    const auto routes = sample_router();
    const auto off = build_openapi(routes, {.version = "1", .admin_limited = false, .ingest_limited = true});
    CHECK_FALSE(op(off, "/data", "get").at("responses").as_object().contains("429"));
    CHECK(op(off, "/ingest", "post").at("responses").as_object().contains("429"));
    const auto exempt = build_openapi(
        routes, {.version = "1", .exempt = [](std::string_view path) { return path == "/ping"; }});
    CHECK_FALSE(op(exempt, "/ping", "get").at("responses").as_object().contains("429"));
    CHECK(op(exempt, "/data", "get").at("responses").as_object().contains("429"));
  }
}
