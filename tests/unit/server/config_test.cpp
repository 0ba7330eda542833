// Every public header of cg::server first, so each compiles on its own.
#include "cg/server/application.hpp"
#include "cg/server/config.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

using namespace cg::server;

namespace {

command_line parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"cost-guardian"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "cg-config-test-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    close(fd);
    path = pattern;
    std::ofstream(path) << text;
  }
  ~temp_file() { std::filesystem::remove(path); }
};

}  // namespace

TEST_SUITE("server.config") {
  TEST_CASE("defaults match the documentation") {
    const auto c = load_config(parse({"--env-file", "/dev/null"}), {});
    CHECK(c.port == 5001);
    CHECK_FALSE(c.production);
    CHECK(c.max_body_bytes == 1024 * 1024);
    CHECK(c.db_path == std::filesystem::path("data") / "usage_log.sqlite");
    CHECK(c.durability_full);
    CHECK(c.tracking_token_length == 22);
    CHECK(c.threads >= 1);
    CHECK(c.max_connections == 10'000);
    CHECK(c.max_connections_per_client == 1024);
    CHECK(c.connection_limit_exempt == std::vector<std::string>{"127.0.0.0/8", "::1"});
    CHECK(c.auth_failure_rpm == 120);
    CHECK(c.auth_failure_burst == 30);
  }

  TEST_CASE("flags beat the environment, which beats the .env file") {
    temp_file env("# comment\nSERVER_PORT=7000\nexport API_KEY='from-file'\nINGEST_KEY=\"quoted value\"\n"
                  "DB_FILENAME=x.sqlite # trailing comment\n");
    auto c = load_config(parse({"--env-file", env.path.string()}), {});
    CHECK(c.port == 7000);
    CHECK(c.api_key == "from-file");
    CHECK(c.ingest_key == "quoted value");
    CHECK(c.db_path.filename() == "x.sqlite");

    c = load_config(parse({"--env-file", env.path.string()}), {{"SERVER_PORT", "7100"}});
    CHECK(c.port == 7100);
    c = load_config(parse({"--env-file", env.path.string(), "--port", "7200"}), {{"SERVER_PORT", "7100"}});
    CHECK(c.port == 7200);
    c = load_config(parse({"--env-file", env.path.string(), "--port=7300"}), {{"SERVER_PORT", "7100"}});
    CHECK(c.port == 7300);
  }

  TEST_CASE("DB_PATH overrides DATA_DIR/DB_FILENAME") {
    const auto c = load_config(parse({"--env-file", "/dev/null"}), {{"DB_PATH", "/tmp/x/y.db"}, {"DATA_DIR", "d"}});
    CHECK(c.db_path == "/tmp/x/y.db");
  }

  TEST_CASE("production refuses to start without both keys, naming them") {
    try {
      load_config(parse({"--env-file", "/dev/null", "--production"}), {{"API_KEY", "a"}});
      FAIL("expected config_error");
    } catch (const config_error& e) {
      CHECK(std::string(e.what()) == "ENV=production requires INGEST_KEY to be set");
    }
    try {
      load_config(parse({"--env-file", "/dev/null"}), {{"ENV", "production"}});
      FAIL("expected config_error");
    } catch (const config_error& e) {
      CHECK(std::string(e.what()).find("API_KEY and INGEST_KEY") != std::string::npos);
    }
    const auto c = load_config(parse({"--env-file", "/dev/null"}),
                               {{"ENV", "production"}, {"API_KEY", "a"}, {"INGEST_KEY", "i"}});
    CHECK(c.production);
  }

  TEST_CASE("bad values name their setting") {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"SERVER_PORT", "abc"}, {"SERVER_PORT", "70000"}, {"TRACKING_TOKEN_LENGTH", "15"},
        {"TRACKING_TOKEN_LENGTH", "41"}, {"ENV", "staging"}, {"DURABILITY", "sometimes"},
        {"ACCESS_LOG", "maybe"}, {"MAX_BODY_BYTES", "-1"}, {"LOG_FORMAT", "xml"},
        {"MAX_CONNECTIONS_PER_CLIENT", "x"}, {"CONNECTION_LIMIT_EXEMPT", "localhost"}, {"AUTH_FAILURE_RPM", "-5"}};
    for (const auto& [key, value] : bad) {
      CAPTURE(key);
      CAPTURE(value);
      try {
        load_config(parse({"--env-file", "/dev/null"}), {{key, value}});
        FAIL("expected config_error");
      } catch (const config_error& e) {
        CHECK(std::string(e.what()).find(key) != std::string::npos);
      }
    }
    CHECK(load_config(parse({"--env-file", "/dev/null"}), {{"TRACKING_TOKEN_LENGTH", "16"}}).tracking_token_length ==
          16);
    CHECK(load_config(parse({"--env-file", "/dev/null"}), {{"TRACKING_TOKEN_LENGTH", "40"}}).tracking_token_length ==
          40);
  }

  TEST_CASE("unknown flags and flags without a value are usage errors") {
    CHECK_THROWS_AS(parse({"--no-such-flag", "1"}), config_error);
    CHECK_THROWS_AS(parse({"--port"}), config_error);
  }

  TEST_CASE("a malformed .env line is reported with its line number") {
    temp_file env("SERVER_PORT=1\nthis line has no equals sign\n");
    try {
      read_env_file(env.path);
      FAIL("expected config_error");
    } catch (const config_error& e) {
      CHECK(std::string(e.what()).find(":2:") != std::string::npos);
    }
  }

  TEST_CASE("--help lists every setting with its flag") {
    const auto help = help_text();
    for (const auto& s : settings()) {
      CAPTURE(s.env);
      CHECK(help.find(s.env) != std::string::npos);
      CHECK(help.find(s.flag) != std::string::npos);
    }
  }
}
