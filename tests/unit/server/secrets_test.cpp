#include "cg/server/secrets.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include <sys/stat.h>

using namespace cg::server;

TEST_SUITE("server.secrets") {
  TEST_CASE("random tokens are URL-safe, sized by their entropy, and distinct") {
    for (std::size_t bytes : {16U, 22U, 40U}) {
      const auto token = random_urlsafe(bytes);
      CHECK(token.size() == (bytes * 4 + 2) / 3);
      CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
            std::string::npos);
    }
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(random_urlsafe(16));
    CHECK(seen.size() == 1000);
  }

  TEST_CASE("constant_time_equal compares exactly") {
    CHECK(constant_time_equal("secret", "secret"));
    CHECK_FALSE(constant_time_equal("secreT", "secret"));
    CHECK_FALSE(constant_time_equal("secre", "secret"));
    CHECK_FALSE(constant_time_equal("secrets", "secret"));
    CHECK_FALSE(constant_time_equal("", "secret"));
    CHECK_FALSE(constant_time_equal("anything", ""));
  }

  TEST_CASE("development keys are generated once, kept with mode 0600, and reused") {
    std::string pattern = (std::filesystem::temp_directory_path() / "cg-keys-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    const std::filesystem::path dir = pattern;
    const auto first = load_or_create_development_keys(dir / "data", "", "");
    CHECK(first.created);
    CHECK(first.api_key != first.ingest_key);
    CHECK(first.api_key.size() > 20);
    struct stat st {};
    REQUIRE(::stat(first.file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    const auto second = load_or_create_development_keys(dir / "data", "", "");
    CHECK_FALSE(second.created);
    CHECK(second.api_key == first.api_key);
    CHECK(second.ingest_key == first.ingest_key);

    const auto mine = load_or_create_development_keys(dir / "data", "my-admin-key", "");
    CHECK(mine.api_key == "my-admin-key");
    CHECK(mine.ingest_key == first.ingest_key);
    std::filesystem::remove_all(dir);
  }
}
