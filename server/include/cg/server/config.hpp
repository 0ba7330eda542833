#pragma once
/// Configuration: defaults, then a `.env` file, then the environment, then command-line flags (flags win).

#include "cg/storage/connection.hpp"
#include "cg/storage/project_rules.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cg::server {

/// A configuration the server refuses to start with; the message is the one line printed before exiting.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct config {
  std::string host = "0.0.0.0";
  std::uint16_t port = 5001;
  bool production = false;
  unsigned threads = 0;  ///< 0: one per core
  std::filesystem::path data_dir = "data";
  std::filesystem::path db_path;  ///< resolved: DB_PATH, else DATA_DIR/DB_FILENAME (or DATABASE_URL=sqlite:PATH)
  std::string database_url;       ///< DATABASE_URL: postgresql://… selects PostgreSQL; empty or anything else SQLite
  unsigned retention_months = 0;  ///< RETENTION_MONTHS: keep this many whole months besides the current one; 0 = off
  std::string api_key;
  std::string ingest_key;
  bool durability_full = true;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t batch_max_bytes = 10 * 1024 * 1024;  ///< POST /ingest/batch body, before and after gzip
  std::size_t batch_max_events = 1000;             ///< POST /ingest/batch events per request
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 10'000;          ///< lowered at start to what the descriptor limit allows
  std::size_t max_connections_per_client = 1024;  ///< per peer address; 0 = off
  std::vector<std::string> connection_limit_exempt = {"127.0.0.0/8", "::1"};  ///< IPs / CIDRs, besides proxies
  std::vector<std::string> allowed_origins;    ///< ALLOWED_ORIGINS; empty: any (development) or none (production)
  std::uint32_t rate_limit_rpm = 600;          ///< admin bucket refill per minute; 0 = off
  std::uint32_t rate_limit_burst = 120;        ///< admin bucket size
  std::vector<std::string> rate_limit_exempt;  ///< paths (and the paths below them) never limited
  std::uint32_t ingest_rpm = 600'000;          ///< per tracking token, events per minute; 0 = off
  std::uint32_t ingest_burst = 20'000;         ///< per tracking token bucket size
  std::uint32_t auth_failure_rpm = 120;        ///< failed authentications per minute per client address; 0 = off
  std::uint32_t auth_failure_burst = 30;       ///< failed authentications allowed at once
  std::vector<std::string> trusted_proxies;    ///< IPs / CIDRs whose X-Forwarded-For is believed
  std::size_t writer_max_batch = 1000;
  std::chrono::microseconds writer_max_delay{0};
  std::size_t writer_queue_capacity = 50'000;
  unsigned read_threads = 2;
  std::string pricing_file;
  unsigned tracking_token_length = 22;
  bool access_log = true;
  std::string log_format = "json";  ///< json | logfmt
  std::string public_url;            ///< printed dashboard URL base; derived from host/port when empty
  std::vector<storage::project_rule> project_patterns;  ///< PROJECT_PATTERNS, in order

  /// Where the events live, from database_url, db_path and durability.
  storage::database_location database() const;
  /// A DATABASE_URL that selects neither PostgreSQL nor a `sqlite:` path (the server then uses db_path and says so).
  bool database_url_ignored() const;
};

/// One setting: its environment name, flag, default and meaning. The single source for parsing and --help.
struct setting_info {
  std::string env;
  std::string flag;
  std::string default_value;
  std::string help;
};
const std::vector<setting_info>& settings();

/// What the command line asked for besides settings.
struct command_line {
  bool help = false;
  bool version = false;
  std::optional<std::filesystem::path> env_file;  ///< --env-file; default `.env` in the working directory
  std::map<std::string, std::string> overrides;  ///< ENV name -> value, from flags
};

/// Parses argv (flags `--port 5001`, `--port=5001`, booleans `--production`). Throws config_error.
command_line parse_command_line(int argc, const char* const* argv);

/// Reads KEY=VALUE lines (comments, blank lines, `export `, single or double quotes). Throws config_error when the
/// file exists but cannot be read or has a malformed line.
std::map<std::string, std::string> read_env_file(const std::filesystem::path& path);

/// The process environment as a map (the `environment` layer of load_config).
std::map<std::string, std::string> process_environment();

/// Builds the configuration from the layers. `environment` is the process environment as a map. Validates every
/// value and the production rules; throws config_error with a one-line reason.
config load_config(const command_line& cli, const std::map<std::string, std::string>& environment);

/// The --help text.
std::string help_text();

}  // namespace cg::server
