#include "routes/dashboard_route.hpp"

#include <doctest/doctest.h>

using namespace cg::server;

TEST_SUITE("server.dashboard") {
  TEST_CASE("accepts_gzip reads Accept-Encoding with q-values") {
    CHECK(accepts_gzip("gzip"));
    CHECK(accepts_gzip("gzip, deflate, br"));
    CHECK(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    CHECK(accepts_gzip("x-gzip"));
    CHECK(accepts_gzip("*"));
    CHECK(accepts_gzip("br, *;q=0.1"));
    CHECK_FALSE(accepts_gzip(""));
    CHECK_FALSE(accepts_gzip("identity"));
    CHECK_FALSE(accepts_gzip("br, deflate"));
    CHECK_FALSE(accepts_gzip("gzip;q=0"));
    CHECK_FALSE(accepts_gzip("gzip; q=0.000"));
    CHECK_FALSE(accepts_gzip("*, gzip;q=0"));  // named beats the wildcard
    CHECK_FALSE(accepts_gzip("*;q=0"));
    CHECK(accepts_gzip("gzip;q=0.001"));
  }

  TEST_CASE("etag_matches compares weakly, lists and the wildcard") {
    const std::string_view tag = "\"abc\"";
    const std::string_view gz = "\"abc-gzip\"";
    CHECK(etag_matches("\"abc\"", tag, gz));
    CHECK(etag_matches("\"abc-gzip\"", tag, gz));
    CHECK(etag_matches("W/\"abc\"", tag, gz));
    CHECK(etag_matches("\"x\", \"abc\"", tag, gz));
    CHECK(etag_matches("*", tag, gz));
    CHECK_FALSE(etag_matches("", tag, gz));
    CHECK_FALSE(etag_matches("\"abd\"", tag, gz));
    CHECK_FALSE(etag_matches("abc", tag, gz));  // unquoted is not the tag
  }

  TEST_CASE("the Content-Security-Policy allows only the dashboard's own files") {
    const std::string_view csp = dashboard_csp;
    CHECK(csp.find("default-src 'none'") != std::string_view::npos);
    CHECK(csp.find("script-src 'self'") != std::string_view::npos);
    CHECK(csp.find("unsafe-inline") == std::string_view::npos);
    CHECK(csp.find("unsafe-eval") == std::string_view::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string_view::npos);
    CHECK(csp.find("http") == std::string_view::npos);  // no other origin
  }
}
