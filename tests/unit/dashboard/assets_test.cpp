#include "cg/dashboard/assets.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace cg::dashboard;

TEST_SUITE("dashboard.assets") {
  TEST_CASE("the page comes first and names every other asset by its hashed name") {
    REQUIRE(all().size() >= 5);
    CHECK(&page() == &all()[0]);
    CHECK(page().name == "index.html");
    CHECK(page().content_type == "text/html; charset=utf-8");
    CHECK_FALSE(page().immutable);  // its URL never changes, so it must be revalidated
    for (const auto& a : all().subspan(1)) {
      CAPTURE(a.name);
      CHECK(a.immutable);
      CHECK(page().body.find("\"dashboard/" + std::string(a.name) + "\"") != std::string_view::npos);
    }
  }

  TEST_CASE("hashed names carry 12 hex digits of the content hash, which is also the ETag's start") {
    for (const auto& a : all().subspan(1)) {
      CAPTURE(a.name);
      const auto last_dot = a.name.rfind('.');
      const auto hash_dot = a.name.rfind('.', last_dot - 1);
      REQUIRE(hash_dot != std::string_view::npos);
      const auto hash = a.name.substr(hash_dot + 1, last_dot - hash_dot - 1);
      CHECK(hash.size() == 12);
      CHECK(hash.find_first_not_of("0123456789abcdef") == std::string_view::npos);
      CHECK(a.etag.substr(1, 12) == hash);
    }
  }

  TEST_CASE("every asset has bytes, a content type, distinct quoted ETags and, when smaller, a gzip copy") {
    std::set<std::string_view> names;
    std::set<std::string_view> tags;
    for (const auto& a : all()) {
      CAPTURE(a.name);
      CHECK(names.insert(a.name).second);
      CHECK_FALSE(a.body.empty());
      CHECK_FALSE(a.content_type.empty());
      CHECK(a.etag.size() > 2);
      CHECK(a.etag.front() == '"');
      CHECK(a.etag.back() == '"');
      CHECK(a.gzip_etag != a.etag);  // another representation, another strong tag
      CHECK(tags.insert(a.etag).second);
      if (!a.gzip_body.empty()) {
        CHECK(a.gzip_body.size() < a.body.size());
        REQUIRE(a.gzip_body.size() > 18);
        CHECK(static_cast<unsigned char>(a.gzip_body[0]) == 0x1f);  // gzip magic
        CHECK(static_cast<unsigned char>(a.gzip_body[1]) == 0x8b);
      }
    }
  }

  TEST_CASE("the chart library is the npm build, without a source map reference nobody serves") {
    const asset* chart = nullptr;
    for (const auto& a : all())
      if (a.name.starts_with("chart.umd.min.")) chart = &a;
    REQUIRE(chart != nullptr);
    CHECK(chart->body.find("Chart.js v4") != std::string_view::npos);
    CHECK(chart->body.find("sourceMappingURL") == std::string_view::npos);
  }

  TEST_CASE("find") {
    CHECK(find("index.html") == &page());
    CHECK(find("app.js") == nullptr);  // only hashed names are served
    CHECK(find("") == nullptr);
    for (const auto& a : all()) CHECK(find(a.name) == &a);
  }

  TEST_CASE("no inline script or style: the Content-Security-Policy would block them") {
    const auto html = page().body;
    CHECK(html.find("style=") == std::string_view::npos);
    CHECK(html.find("<style") == std::string_view::npos);
    // No event-handler attributes (` onclick=`, ` onload=`...): inline script by another name.
    for (std::size_t on = html.find(" on"); on != std::string_view::npos; on = html.find(" on", on + 1)) {
      std::size_t i = on + 3;
      while (i < html.size() && html[i] >= 'a' && html[i] <= 'z') ++i;
      CHECK_FALSE((i > on + 3 && i < html.size() && html[i] == '='));
    }
    std::size_t at = 0;
    while ((at = html.find("<script", at)) != std::string_view::npos) {
      const auto end = html.find('>', at);
      CHECK(html.substr(at, end - at).find(" src=") != std::string_view::npos);
      at = end;
    }
  }
}
