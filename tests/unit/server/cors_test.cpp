#include "http/cors.hpp"

#include <doctest/doctest.h>

using namespace cg::server;

TEST_SUITE("server.cors") {
  TEST_CASE("development without ALLOWED_ORIGINS allows any origin; production allows none") {
    const cors_policy dev({}, false);
    CHECK(dev.enabled());
    CHECK(dev.allows("http://localhost:3000"));
    CHECK(dev.allows("https://anything.example"));
    CHECK_FALSE(dev.allows(""));      // not a browser request
    CHECK_FALSE(dev.allows("null"));  // sandboxed frames, file:// pages

    const cors_policy prod({}, true);
    CHECK_FALSE(prod.enabled());
    CHECK_FALSE(prod.allows("https://app.example.com"));
  }

  TEST_CASE("a list allows exactly its origins, case-insensitively") {
    const cors_policy policy({"https://app.example.com", "http://localhost:5173"}, true);
    CHECK(policy.allows("https://app.example.com"));
    CHECK(policy.allows("HTTPS://APP.EXAMPLE.COM"));
    CHECK(policy.allows("http://localhost:5173"));
    CHECK_FALSE(policy.allows("http://app.example.com"));       // another scheme is another origin
    CHECK_FALSE(policy.allows("https://app.example.com:8443"));  // another port too
    CHECK_FALSE(policy.allows("https://evil.example.com"));
    CHECK_FALSE(policy.allows("https://app.example.com.evil.example"));
  }

  TEST_CASE("* allows any origin even in production") {
    CHECK(cors_policy({"*"}, true).allows("https://x.example"));
  }

  TEST_CASE("never on /ingest* and /v1/*") {
    CHECK_FALSE(cors_policy::applies_to("/ingest"));
    CHECK_FALSE(cors_policy::applies_to("/ingest/batch"));
    CHECK_FALSE(cors_policy::applies_to("/ingest/tokens"));
    CHECK_FALSE(cors_policy::applies_to("/v1/traces"));
    CHECK_FALSE(cors_policy::applies_to("/v1"));
    CHECK(cors_policy::applies_to("/data"));
    CHECK(cors_policy::applies_to("/v1beta"));
    CHECK(cors_policy::applies_to("/metrics"));
  }

  TEST_CASE("ALLOWED_ORIGINS entries are checked") {
    CHECK(origin_entry_problem("*").empty());
    CHECK(origin_entry_problem("https://app.example.com").empty());
    CHECK(origin_entry_problem("http://localhost:5001").empty());
    CHECK_FALSE(origin_entry_problem("app.example.com").empty());
    CHECK_FALSE(origin_entry_problem("https://app.example.com/").empty());
    CHECK_FALSE(origin_entry_problem("https://app.example.com/path").empty());
    CHECK_FALSE(origin_entry_problem("https://").empty());
  }
}
