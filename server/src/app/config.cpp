#include "cg/server/config.hpp"

#include "http/client_address.hpp"
#include "http/cors.hpp"

#include "cg/values/text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <thread>

extern char** environ;
#include <tuple>

namespace cg::server {

const std::vector<setting_info>& settings() {
  static const std::vector<setting_info> all = {
      {"HOST", "--host", "0.0.0.0", "address to listen on"},
      {"SERVER_PORT", "--port", "5001", "TCP port; 0 picks a free one (its address is the first log line)"},
      {"ENV", "--env", "development", "development | production (production requires API_KEY and INGEST_KEY)"},
      {"THREADS", "--threads", "0", "IO threads; 0 = one per core"},
      {"DATA_DIR", "--data-dir", "data", "directory for the database and generated development keys"},
      {"DB_FILENAME", "--db-filename", "usage_log.sqlite", "database file name inside DATA_DIR"},
      {"DB_PATH", "--db", "", "full database path (overrides DATA_DIR/DB_FILENAME)"},
      {"DATABASE_URL", "--database-url", "",
       "postgresql://user:pass@host:5432/db selects PostgreSQL (several gateways, one database); sqlite:PATH or "
       "nothing: the SQLite file"},
      {"RETENTION_MONTHS", "--retention-months", "0",
       "drop events older than this many whole months before the current one (checked hourly); 0 = keep all"},
      {"API_KEY", "--api-key", "", "admin key (X-API-Key or Authorization: Bearer); generated in development"},
      {"INGEST_KEY", "--ingest-key", "", "ingestion key (X-Ingest-Key); generated in development"},
      {"DURABILITY", "--durability", "full",
       "full: a 2xx survives power loss (synchronous=FULL); normal: survives a crash, not power loss"},
      {"MAX_BODY_BYTES", "--max-body-bytes", "1048576", "largest request body accepted (413 beyond)"},
      {"BATCH_MAX_BYTES", "--batch-max-bytes", "10485760",
       "largest POST /ingest/batch body, and its size after gzip inflation (413 beyond)"},
      {"BATCH_MAX_EVENTS", "--batch-max-events", "1000", "events in one POST /ingest/batch at most (413 beyond)"},
      {"HEADER_TIMEOUT_MS", "--header-timeout-ms", "10000", "time to receive a request's headers"},
      {"BODY_TIMEOUT_MS", "--body-timeout-ms", "30000", "time to receive a request's body"},
      {"IDLE_TIMEOUT_MS", "--idle-timeout-ms", "60000", "keep-alive: how long an idle connection is kept"},
      {"MAX_CONNECTIONS", "--max-connections", "10000",
       "open connections at most; more are closed at once (lowered at start, with a warning, to what the "
       "descriptor limit allows)"},
      {"MAX_CONNECTIONS_PER_CLIENT", "--max-connections-per-client", "1024",
       "open connections per client address at most; more get 503 + Retry-After and are closed; 0 = off "
       "(TRUSTED_PROXIES and CONNECTION_LIMIT_EXEMPT are not limited)"},
      {"CONNECTION_LIMIT_EXEMPT", "--connection-limit-exempt", "127.0.0.0/8,::1",
       "addresses (comma list of IPs or CIDRs) MAX_CONNECTIONS_PER_CLIENT never limits; default loopback (a local "
       "sidecar carries many clients); empty: none"},
      {"ALLOWED_ORIGINS", "--allowed-origins", "",
       "browser origins allowed by CORS (comma list, * for any); empty: any in development, none in production"},
      {"RATE_LIMIT_RPM", "--rate-limit-rpm", "600",
       "admin and public requests per minute per admin key (per client address without the key); 0 = off"},
      {"RATE_LIMIT_BURST", "--rate-limit-burst", "120", "admin requests allowed at once (token bucket size)"},
      {"RATE_LIMIT_EXEMPT", "--rate-limit-exempt", "/ping,/health,/dashboard",
       "paths never rate-limited (comma list; each also covers the paths below it)"},
      {"INGEST_RPM", "--ingest-rpm", "600000", "ingested events per minute per tracking token; 0 = off"},
      {"INGEST_BURST", "--ingest-burst", "20000", "events a tracking token may send at once (token bucket size)"},
      {"AUTH_FAILURE_RPM", "--auth-failure-rpm", "120",
       "requests with a missing or wrong admin or ingest key allowed per minute per client address (429 beyond; a "
       "correct key is never refused); 0 = off"},
      {"AUTH_FAILURE_BURST", "--auth-failure-burst", "30", "failed authentications allowed at once per client address"},
      {"TRUSTED_PROXIES", "--trusted-proxies", "",
       "reverse proxies (comma list of IPs or CIDRs) whose X-Forwarded-For names the client; empty: trust none"},
      {"WRITER_MAX_BATCH", "--writer-max-batch", "1000", "events per database transaction at most"},
      {"WRITER_MAX_DELAY_US", "--writer-max-delay-us", "0",
       "how long a batch may wait for more events (0: commit what is waiting at once)"},
      {"WRITER_QUEUE", "--writer-queue", "50000", "events waiting for the writer at most (503 beyond)"},
      {"READ_THREADS", "--read-threads", "2", "threads (and read-only connections) for admin queries"},
      {"PRICING_FILE", "--pricing-file", "", "price table to use instead of the embedded one"},
      {"TRACKING_TOKEN_LENGTH", "--tracking-token-length", "22", "bytes of entropy in a new tracking token (16-40)"},
      {"ACCESS_LOG", "--access-log", "on", "on | off: one log line per request"},
      {"LOG_FORMAT", "--log-format", "json", "json | logfmt"},
      {"PUBLIC_URL", "--public-url", "", "base URL printed for the dashboard (default http://HOST:PORT)"},
      {"PROJECT_PATTERNS", "--project-patterns", "",
       "glob=project list (billing-*=billing,*-prod=prod): the project of events that name none, from the token "
       "label, else session_id; applied in reports, not stored"},
  };
  return all;
}

namespace {

const setting_info* find_by_flag(std::string_view flag) {
  for (const auto& s : settings())
    if (s.flag == flag) return &s;
  return nullptr;
}

std::string trim(std::string_view s) { return std::string(values::trim(s, " \t\r")); }

template <typename Int>
Int parse_int(const std::string& name, const std::string& text, Int min, Int max) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value < min || value > max)
    throw config_error(fmt::format("{} must be an integer between {} and {}, got '{}'", name, min, max, text));
  return value;
}

bool parse_switch(const std::string& name, const std::string& text) {
  std::string v = text;
  std::ranges::transform(v, v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "on" || v == "1" || v == "true" || v == "yes") return true;
  if (v == "off" || v == "0" || v == "false" || v == "no") return false;
  throw config_error(fmt::format("{} must be on or off, got '{}'", name, text));
}

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    if (auto entry = trim(std::string_view(text).substr(pos, comma - pos)); !entry.empty()) out.push_back(entry);
    pos = comma + 1;
  }
  return out;
}

// CORS, rate limits and proxies (see docs/api.md, "Rate limits" and "CORS").
void parse_cross_cutting(std::map<std::string, std::string>& v, config& c) {
  c.allowed_origins = comma_list(v["ALLOWED_ORIGINS"]);
  for (const auto& origin : c.allowed_origins)
    if (auto problem = origin_entry_problem(origin); !problem.empty())
      throw config_error(fmt::format("ALLOWED_ORIGINS: {}", problem));

  const auto limit = [&](const char* rpm_name, const char* burst_name) {
    const auto rpm = parse_int<std::uint32_t>(rpm_name, v[rpm_name], 0, 60'000'000);
    const auto burst = parse_int<std::uint32_t>(burst_name, v[burst_name], 0, 1'000'000);
    if (rpm > 0 && burst == 0)
      throw config_error(fmt::format("{} must be at least 1 while {} is on ({}); set {}=0 to switch the limit off",
                                     burst_name, rpm_name, rpm, rpm_name));
    return std::pair{rpm, burst};
  };
  std::tie(c.rate_limit_rpm, c.rate_limit_burst) = limit("RATE_LIMIT_RPM", "RATE_LIMIT_BURST");
  std::tie(c.ingest_rpm, c.ingest_burst) = limit("INGEST_RPM", "INGEST_BURST");
  std::tie(c.auth_failure_rpm, c.auth_failure_burst) = limit("AUTH_FAILURE_RPM", "AUTH_FAILURE_BURST");

  c.rate_limit_exempt = comma_list(v["RATE_LIMIT_EXEMPT"]);
  for (const auto& path : c.rate_limit_exempt)
    if (path.front() != '/')
      throw config_error(fmt::format("RATE_LIMIT_EXEMPT: '{}' is not a path (it must begin with /)", path));

  c.trusted_proxies = comma_list(v["TRUSTED_PROXIES"]);
  for (const auto& entry : c.trusted_proxies)
    if (!ip_network::parse(entry))
      throw config_error(
          fmt::format("TRUSTED_PROXIES: '{}' is not an IP address or CIDR block (e.g. 10.0.0.0/8, ::1)", entry));
  c.connection_limit_exempt = comma_list(v["CONNECTION_LIMIT_EXEMPT"]);
  for (const auto& entry : c.connection_limit_exempt)
    if (!ip_network::parse(entry))
      throw config_error(fmt::format(
          "CONNECTION_LIMIT_EXEMPT: '{}' is not an IP address or CIDR block (e.g. 127.0.0.0/8, ::1)", entry));
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  command_line cli;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cli.help = true;
      continue;
    }
    if (arg == "--version") {
      cli.version = true;
      continue;
    }
    if (arg == "--production") {
      cli.overrides["ENV"] = "production";
      continue;
    }
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= argc) throw config_error(fmt::format("{} needs a value (see --help)", arg));
      value = argv[++i];
    }
    if (arg == "--env-file") {
      cli.env_file = value;
      continue;
    }
    const auto* s = find_by_flag(arg);
    if (!s) throw config_error(fmt::format("unknown option '{}' (see --help)", arg));
    cli.overrides[s->env] = value;
  }
  return cli;
}

std::map<std::string, std::string> read_env_file(const std::filesystem::path& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  if (!in) throw config_error(fmt::format("cannot read env file {}", path.string()));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    if (text.starts_with("export ")) text = trim(text.substr(7));
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
      throw config_error(fmt::format("{}:{}: expected KEY=VALUE", path.string(), number));
    std::string key = trim(text.substr(0, eq));
    std::string value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (const auto hash = value.find(" #"); hash != std::string::npos) {
      value = trim(value.substr(0, hash));  // an inline comment after an unquoted value
    }
    values[key] = value;
  }
  return values;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    if (const auto eq = entry.find('='); eq != std::string_view::npos)
      env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

config load_config(const command_line& cli, const std::map<std::string, std::string>& environment) {
  // Layers, lowest first: defaults < .env < environment < flags. A .env never overrides the real environment,
  // which is what every dotenv loader does and what container deployments rely on.
  std::map<std::string, std::string> v;
  for (const auto& s : settings()) v[s.env] = s.default_value;
  std::filesystem::path env_file = cli.env_file.value_or(".env");
  if (cli.env_file || std::filesystem::exists(env_file))
    for (auto& [key, value] : read_env_file(env_file)) v[key] = value;
  for (const auto& s : settings())
    if (auto it = environment.find(s.env); it != environment.end()) v[s.env] = it->second;
  for (const auto& [key, value] : cli.overrides) v[key] = value;

  config c;
  c.host = v["HOST"];
  c.port = parse_int<std::uint16_t>("SERVER_PORT", v["SERVER_PORT"], 0, 65535);
  const std::string env = v["ENV"];
  if (env != "development" && env != "production")
    throw config_error(fmt::format("ENV must be development or production, got '{}'", env));
  c.production = env == "production";
  c.threads = parse_int<unsigned>("THREADS", v["THREADS"], 0, 256);
  if (c.threads == 0) c.threads = std::max(1U, std::thread::hardware_concurrency());
  c.data_dir = v["DATA_DIR"];
  c.db_path = v["DB_PATH"].empty() ? c.data_dir / v["DB_FILENAME"] : std::filesystem::path(v["DB_PATH"]);
  c.database_url = v["DATABASE_URL"];
  if (c.database_url.starts_with("sqlite:")) {
    auto path = std::string_view(c.database_url).substr(7);
    if (path.starts_with("//")) path.remove_prefix(2);  // sqlite:///abs/path and sqlite://rel both mean the path
    if (path.empty()) throw config_error("DATABASE_URL=sqlite:PATH needs a path");
    c.db_path = std::filesystem::path(path);
  }
  c.retention_months = parse_int<unsigned>("RETENTION_MONTHS", v["RETENTION_MONTHS"], 0, 1200);
  c.api_key = v["API_KEY"];
  c.ingest_key = v["INGEST_KEY"];
  if (v["DURABILITY"] != "full" && v["DURABILITY"] != "normal")
    throw config_error(fmt::format("DURABILITY must be full or normal, got '{}'", v["DURABILITY"]));
  c.durability_full = v["DURABILITY"] == "full";
  c.max_body_bytes = parse_int<std::size_t>("MAX_BODY_BYTES", v["MAX_BODY_BYTES"], 1024, 1ULL << 30);
  c.batch_max_bytes = parse_int<std::size_t>("BATCH_MAX_BYTES", v["BATCH_MAX_BYTES"], 1024, 1ULL << 30);
  c.batch_max_events = parse_int<std::size_t>("BATCH_MAX_EVENTS", v["BATCH_MAX_EVENTS"], 1, 100'000);
  c.header_timeout = std::chrono::milliseconds(
      parse_int<std::int64_t>("HEADER_TIMEOUT_MS", v["HEADER_TIMEOUT_MS"], 1, 3'600'000));
  c.body_timeout =
      std::chrono::milliseconds(parse_int<std::int64_t>("BODY_TIMEOUT_MS", v["BODY_TIMEOUT_MS"], 1, 3'600'000));
  c.idle_timeout =
      std::chrono::milliseconds(parse_int<std::int64_t>("IDLE_TIMEOUT_MS", v["IDLE_TIMEOUT_MS"], 1, 3'600'000));
  c.max_connections = parse_int<std::size_t>("MAX_CONNECTIONS", v["MAX_CONNECTIONS"], 1, 1'000'000);
  c.max_connections_per_client =
      parse_int<std::size_t>("MAX_CONNECTIONS_PER_CLIENT", v["MAX_CONNECTIONS_PER_CLIENT"], 0, 1'000'000);
  parse_cross_cutting(v, c);
  c.writer_max_batch = parse_int<std::size_t>("WRITER_MAX_BATCH", v["WRITER_MAX_BATCH"], 1, 100'000);
  c.writer_max_delay = std::chrono::microseconds(
      parse_int<std::int64_t>("WRITER_MAX_DELAY_US", v["WRITER_MAX_DELAY_US"], 0, 1'000'000));
  c.writer_queue_capacity = parse_int<std::size_t>("WRITER_QUEUE", v["WRITER_QUEUE"], 1, 10'000'000);
  c.read_threads = parse_int<unsigned>("READ_THREADS", v["READ_THREADS"], 1, 64);
  c.pricing_file = v["PRICING_FILE"];
  c.tracking_token_length = parse_int<unsigned>("TRACKING_TOKEN_LENGTH", v["TRACKING_TOKEN_LENGTH"], 16, 40);
  c.access_log = parse_switch("ACCESS_LOG", v["ACCESS_LOG"]);
  c.log_format = v["LOG_FORMAT"];
  if (c.log_format != "json" && c.log_format != "logfmt")
    throw config_error(fmt::format("LOG_FORMAT must be json or logfmt, got '{}'", c.log_format));
  c.public_url = v["PUBLIC_URL"];
  try {
    c.project_patterns = storage::parse_project_rules(v["PROJECT_PATTERNS"]);
  } catch (const std::invalid_argument& e) {
    throw config_error(e.what());
  }

  if (c.production) {
    std::vector<std::string> missing;
    if (c.api_key.empty()) missing.emplace_back("API_KEY");
    if (c.ingest_key.empty()) missing.emplace_back("INGEST_KEY");
    if (!missing.empty())
      throw config_error(fmt::format("ENV=production requires {} to be set", fmt::join(missing, " and ")));
  }
  return c;
}

storage::database_location config::database() const {
  storage::database_location where;
  if (storage::is_postgresql_url(database_url)) where.url = database_url;
  where.sqlite_path = db_path;
  where.sqlite_durability = durability_full ? storage::durability::full : storage::durability::normal;
  return where;
}

bool config::database_url_ignored() const {
  return !database_url.empty() && !storage::is_postgresql_url(database_url) && !database_url.starts_with("sqlite:");
}

std::string help_text() {
  std::string out =
      "cost-guardian: LLM usage and cost gateway\n\n"
      "Usage: cost-guardian [options]              run the server\n"
      "       cost-guardian price --help           price JSON lines of usage from stdin (check any cost)\n"
      "       cost-guardian reprice --help         recompute stored server-side costs with today's table\n"
      "       cost-guardian migrate-db --help      copy a database to another (SQLite <-> PostgreSQL)\n"
      "       cost-guardian import-v03 --help      upgrade a Cost Guardian v0.3 (Flask) database, with a summary\n\n"
      "Every option can also be set as an environment variable or in a .env file (flags win, then the\n"
      "environment, then the .env file).\n\n"
      "  --help                 this text\n"
      "  --version              print the version\n"
      "  --env-file PATH        read settings from PATH (default: .env in the working directory, if present)\n"
      "  --production           same as --env production\n";
  for (const auto& s : settings()) {
    out += fmt::format("  {:<26} {:<22} {}", s.flag + " VALUE", s.env, s.help);
    out += s.default_value.empty() ? "\n" : fmt::format(" [default: {}]\n", s.default_value);
  }
  return out;
}

}  // namespace cg::server
