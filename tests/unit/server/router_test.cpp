#include "http/router.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

using namespace cg::server;

namespace {

struct capture {
  response res;
  bool called = false;
  responder fn() {
    return [this](response r) {
      res = std::move(r);
      called = true;
    };
  }
};

request_ptr make_request(http::verb method, std::string target) {
  auto ctx = std::make_shared<request_context>();
  ctx->req.method(method);
  ctx->req.target(target);
  ctx->request_id = "rid-1";
  const std::string_view t = ctx->req.target();
  ctx->path = t.substr(0, t.find('?'));
  return ctx;
}

}  // namespace

TEST_SUITE("server.router") {
  TEST_CASE("routes by method and path, with path parameters") {
    router routes;
    std::string seen;
    routes.add(http::verb::get, "/ping", [&](const request_ptr&, responder r) {
      seen = "ping";
      r(json_response(http::status::ok, "{}"));
    });
    routes.add(http::verb::patch, "/ingest/tokens/<id>/active", [&](const request_ptr& c, responder r) {
      seen = "active:" + c->path_params.at(0);
      r(json_response(http::status::ok, "{}"));
    });
    capture out;
    routes.dispatch(make_request(http::verb::get, "/ping?x=1"), out.fn());
    CHECK(seen == "ping");
    routes.dispatch(make_request(http::verb::patch, "/ingest/tokens/42/active"), out.fn());
    CHECK(seen == "active:42");
    routes.dispatch(make_request(http::verb::head, "/ping"), out.fn());
    CHECK(seen == "ping");
  }

  TEST_CASE("404 for an unknown path, 405 with Allow for a known path and another method") {
    router routes;
    routes.add(http::verb::get, "/ingest/tokens", [](const request_ptr&, responder r) {
      r(json_response(http::status::ok, "{}"));
    });
    routes.add(http::verb::post, "/ingest/tokens", [](const request_ptr&, responder r) {
      r(json_response(http::status::ok, "{}"));
    });
    capture out;
    routes.dispatch(make_request(http::verb::get, "/nope"), out.fn());
    REQUIRE(out.called);
    CHECK(out.res.result() == http::status::not_found);
    const auto body = boost::json::parse(out.res.body()).as_object();
    CHECK(body.at("request_id") == "rid-1");
    CHECK(body.at("error") == body.at("message"));

    routes.dispatch(make_request(http::verb::delete_, "/ingest/tokens"), out.fn());
    CHECK(out.res.result() == http::status::method_not_allowed);
    CHECK(out.res[http::field::allow] == "GET, POST");
  }

  TEST_CASE("json_error carries the field and Retry-After where it belongs") {
    const auto res = json_error(http::status::bad_request, "model is required", "r", "model");
    const auto body = boost::json::parse(res.body()).as_object();
    CHECK(body.at("field") == "model");
    CHECK(res[http::field::retry_after].empty());
    CHECK(json_error(http::status::service_unavailable, "full", "r")[http::field::retry_after] == "1");
    CHECK(res[http::field::content_type] == "application/json; charset=utf-8");
  }
}

TEST_SUITE("server.json_text") {
  TEST_CASE("numbers are written as people write them, everything else as Boost.JSON does") {
    boost::json::value v = {{"cost", 0.00045}, {"zero", 0.0}, {"big", 1e300}, {"tiny", 1e-30},
                            {"text", "a\"b"}, {"list", {1, 2.5, -3}}, {"n", nullptr}, {"ok", true}};
    const auto text = to_json_text(v);
    CHECK(text ==
          R"({"cost":0.00045,"zero":0,"big":1e+300,"tiny":1e-30,"text":"a\"b","list":[1,2.5,-3],"n":null,"ok":true})");
    const auto back = boost::json::parse(text);  // still the same numbers
    CHECK(back.at("cost").to_number<double>() == 0.00045);
    CHECK(back.at("big").to_number<double>() == 1e300);
    CHECK(back.at("zero").to_number<double>() == 0.0);
  }
}
