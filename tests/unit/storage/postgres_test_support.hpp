#pragma once
// A throwaway PostgreSQL database per test case, on the server CG_TEST_POSTGRES_URL names (a URL to its maintenance
// database, e.g. postgresql://postgres@/postgres?host=/tmp/sock&port=55432). Without that variable the PostgreSQL
// cases skip with a loud message, or fail when CG_REQUIRE_POSTGRES=1 (CI, where a skip would hide a gap).

#include "postgres/pg_session.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>

namespace cg::storage::test {

/// `url` with its database (the URL's path) replaced by `name`.
inline std::string with_database(const std::string& url, const std::string& name) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url + " dbname=" + name;  // key=value form: a later key wins
  const auto path = url.find('/', scheme + 3);
  const auto query = url.find('?', scheme + 3);
  if (path == std::string::npos || (query != std::string::npos && path > query)) {
    const auto at = query == std::string::npos ? url.size() : query;
    return url.substr(0, at) + "/" + name + url.substr(at);
  }
  const auto end = query == std::string::npos ? url.size() : query;
  return url.substr(0, path + 1) + name + url.substr(end);
}

/// A key=value connection string with every setting of `url` but the server's address, which becomes
/// 127.0.0.1:`port`; and the address it replaced (host or socket directory, port).
struct redirected_url {
  std::string conninfo;
  std::string host;
  int port = 5432;
};

inline redirected_url redirect(const std::string& url, int port) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    throw std::runtime_error("cannot parse " + url);
  }
  redirected_url out;
  out.host = "/var/run/postgresql";
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    const std::string_view key = o->keyword;
    if (key == "host" || key == "hostaddr") {
      out.host = o->val;
      continue;
    }
    if (key == "port") {
      out.port = std::stoi(o->val);
      continue;
    }
    std::string value;
    for (const char c : std::string_view(o->val)) {
      if (c == '\'' || c == '\\') value += '\\';
      value += c;
    }
    out.conninfo += std::string(key) + "='" + value + "' ";
  }
  PQconninfoFree(options);
  out.conninfo += "host=127.0.0.1 port=" + std::to_string(port);
  return out;
}

/// Creates a uniquely named database on construction and drops it (closing whatever is still connected) at the end.
class postgres_database {
 public:
  /// nullopt when there is no test server (after reporting it).
  static std::optional<postgres_database> create() {
    const char* admin = std::getenv("CG_TEST_POSTGRES_URL");
    if (admin == nullptr || *admin == '\0') {
      const char* required = std::getenv("CG_REQUIRE_POSTGRES");
      if (required != nullptr && std::string_view(required) == "1") {
        FAIL("CG_REQUIRE_POSTGRES=1 but CG_TEST_POSTGRES_URL is not set: the PostgreSQL tests cannot run");
      }
      static std::atomic<bool> told{false};
      if (!told.exchange(true)) {
        std::fprintf(stderr,
                     "\n*** SKIPPING the PostgreSQL storage tests: CG_TEST_POSTGRES_URL is not set. ***\n"
                     "*** Set it to a server's maintenance database URL (CG_REQUIRE_POSTGRES=1 makes this fail). ***\n\n");
      }
      MESSAGE("skipped: CG_TEST_POSTGRES_URL is not set");
      return std::nullopt;
    }
    return std::optional<postgres_database>(std::in_place, admin);
  }

  explicit postgres_database(std::string admin_url) : admin_url_(std::move(admin_url)) {
    static std::atomic<int> counter{0};
    name_ = "cg_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(std::random_device{}() % 100000);
    admin().exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'", "creating the test database");
    url_ = with_database(admin_url_, name_);
  }
  ~postgres_database() {
    if (name_.empty()) return;
    try {
      admin().exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", "dropping the test database");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "could not drop test database %s: %s\n", name_.c_str(), e.what());
    }
  }
  postgres_database(postgres_database&& other) noexcept
      : admin_url_(std::move(other.admin_url_)), name_(std::exchange(other.name_, {})), url_(std::move(other.url_)) {}
  postgres_database(const postgres_database&) = delete;
  postgres_database& operator=(const postgres_database&) = delete;
  postgres_database& operator=(postgres_database&&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  /// A fresh session on the test database, for checks behind the connection's back.
  pg::session open() const { return pg::session(pg::session_settings{.url = url_, .setup = {}}); }

 private:
  pg::session admin() const { return pg::session(pg::session_settings{.url = admin_url_, .setup = {}}); }

  std::string admin_url_;
  std::string name_;
  std::string url_;
};

inline std::int64_t pg_int(pg::session& s, const std::string& sql) { return s.exec(sql, sql).int64(0, 0); }

}  // namespace cg::storage::test
