#include "cg/server/application.hpp"

#include "app/commands.hpp"
#include "app/database_upkeep.hpp"
#include "app/progress_meter.hpp"
#include "app/read_pool.hpp"
#include "http/descriptor_limit.hpp"
#include "http/http_session.hpp"
#include "http/pipeline.hpp"
#include "http/router.hpp"
#include "routes/dashboard_route.hpp"
#include "routes/openapi.hpp"
#include "routes/routes.hpp"

#include "cg/ingest/admission.hpp"
#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/token_registry.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/server/config.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"
#include "cg/storage/connection.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/format.h>

#include <pthread.h>

#include <cstdio>
#include <future>
#include <iostream>
#include <thread>

namespace cg::server {

namespace net = boost::asio;

namespace {

/// SIGHUP: load the price table again (PRICING_FILE, or the embedded one) off the IO threads and swap it in
/// atomically; requests in flight keep the table they started with. A table that fails to load changes nothing.
void reload_prices_on_sighup(net::signal_set& hup, read_pool& reads, const config& cfg,
                             std::atomic<std::shared_ptr<const pricing::price_table>>& prices) {
  hup.async_wait([&hup, &reads, &cfg, &prices](boost::system::error_code ec, int) {
    if (ec) return;
    reads.post([&cfg, &prices](storage::connection&) {
      try {
        auto table = pricing::price_table::configured(cfg.pricing_file);
        for (const auto& warning : table->warnings()) log().write("warn", "pricing_warning", {field("warning", warning)});
        prices.store(table, std::memory_order_release);
        log().write("info", "pricing_reloaded",
                    {field("pricing", table->source()),
                     field("models", static_cast<std::int64_t>(table->model_count()))},
                    true);
      } catch (const std::exception& e) {
        log().write("error", "pricing_reload_failed",
                    {field("error", e.what()), field("pricing", prices.load()->source())}, true);
      }
    });
    reload_prices_on_sighup(hup, reads, cfg, prices);
  });
}

void flush_logs_periodically(net::steady_timer& timer) {
  timer.expires_after(std::chrono::milliseconds(200));
  timer.async_wait([&timer](boost::system::error_code ec) {
    if (ec) return;
    log().flush();
    flush_logs_periodically(timer);
  });
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z: only this machine can connect.
bool is_loopback(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback();
  return address.is_loopback();
}

std::string url_host(const std::string& host) {
  if (host == "0.0.0.0" || host == "::" || host.empty()) return "localhost";
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

/// The writer's connection: it migrates the schema (once, even when several gateways start together on PostgreSQL)
/// and upgrades a Cost Guardian v0.3 file on the way, loudly, with the same summary as `import-v03`. The summary is
/// returned for the log, where it follows `listening` (which stays the first line).
std::unique_ptr<storage::connection> open_write_connection(const config& cfg,
                                                           std::optional<boost::json::object>& upgrade_summary) {
  const auto where = cfg.database();
  if (!where.is_postgresql() && cfg.db_path.has_parent_path())
    std::filesystem::create_directories(cfg.db_path.parent_path());
  progress_meter upgrade_progress("v0.3 rows");
  storage::migration_observer upgrade;
  upgrade.on_progress = [&](std::int64_t done, std::int64_t total) { upgrade_progress.update(done, total); };
  upgrade.on_v03_report = [&](const storage::v03_report& report) {
    upgrade_progress.finish();
    upgrade_summary = v03_report_json(report, cfg.db_path);
    std::fputs(v03_report_text(report, cfg.db_path).c_str(), stderr);
  };
  return storage::open_writer(where, upgrade);
}

/// The connection layer's limits and timeouts, from the configuration.
void configure_connections(connection_policy& policy, const config& cfg) {
  policy.max_body_bytes = cfg.max_body_bytes;
  policy.path_body_limits = {{"/ingest/batch", cfg.batch_max_bytes}};
  policy.header_timeout = cfg.header_timeout;
  policy.body_timeout = cfg.body_timeout;
  policy.idle_timeout = cfg.idle_timeout;
  policy.max_connections = cfg.max_connections;
  std::vector<ip_network> exempt;  // config.cpp has refused malformed entries already
  for (const auto* list : {&cfg.trusted_proxies, &cfg.connection_limit_exempt})
    for (const auto& entry : *list)
      if (auto network = ip_network::parse(entry)) exempt.push_back(*network);
  policy.per_client.configure(cfg.max_connections_per_client, std::move(exempt));
  policy.access_log = cfg.access_log;
}

/// Every route: the API's groups, GET /metrics, the dashboard, and last the OpenAPI document that describes them.
void register_every_route(router& routes, services& svc) {
  register_routes(routes, svc);
  register_metrics_route(routes, svc);
  register_dashboard_routes(routes);
  const auto& limits = svc.limits;
  register_openapi_route(routes, {.version = CG_VERSION,
                                  .admin_limited = limits.config().admin.enabled(),
                                  .ingest_limited = limits.config().ingest.enabled(),
                                  .auth_failure_limited = limits.config().auth_failure.enabled(),
                                  .exempt = [&limits](std::string_view path) { return limits.exempt(path); }});
}

/// Binds HOST:SERVER_PORT; a start-up error that says what to change when it cannot.
std::shared_ptr<listener> bind_listener(net::io_context& ioc, const config& cfg, const request_pipeline& pipeline,
                                        connection_policy& policy, metrics_registry& metrics) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(cfg.host, ec);
  if (ec) throw config_error(fmt::format("HOST '{}' is not an IP address", cfg.host));
  try {
    return std::make_shared<listener>(ioc, net::ip::tcp::endpoint(address, cfg.port), pipeline, policy, metrics);
  } catch (const boost::system::system_error& e) {
    throw config_error(fmt::format("cannot listen on {}:{}: {}", cfg.host, cfg.port, e.code().message()));
  }
}

/// What the start-up lines report, gathered once the listener is bound.
struct start_report {
  net::ip::tcp::endpoint bound;
  std::string base_url;
  std::string pricing;
  descriptor_budget descriptors;
  std::size_t configured_connections = 0;
};

/// The first line, `listening`, is machine-readable: tests and scripts read the bound port from it (--port 0).
void log_listening(const config& cfg, const start_report& r) {
  const auto where = cfg.database();
  log().write("info", "listening",
              {field("address", r.bound.address().to_string()),
               field("port", static_cast<std::int64_t>(r.bound.port())), field("url", r.base_url),
               field("dashboard", r.base_url + "/dashboard"),
               field("env", cfg.production ? "production" : "development"), field("database", where.describe()),
               field("backend", where.is_postgresql() ? "postgresql" : "sqlite"), field("pricing", r.pricing),
               field("threads", static_cast<std::int64_t>(cfg.threads)),
               field("max_connections", static_cast<std::int64_t>(cfg.max_connections)),
               field("descriptor_limit", static_cast<std::int64_t>(r.descriptors.limit))},
              true);
}

/// The warnings an operator should see at start, after `listening`.
void log_start_warnings(const config& cfg, const start_report& r, const router& routes,
                        const pricing::price_table& table, const std::optional<boost::json::object>& upgrade_summary) {
  if (upgrade_summary) {
    std::vector<log_field> fields;
    for (const auto& [key, value] : *upgrade_summary) {
      if (key == "event") continue;
      fields.push_back(value.is_string() ? field(key, value.get_string())
                                         : log_field{key, boost::json::serialize(value), false});
    }
    log().write("warn", "v03_upgrade", fields, true);
  }
  // A route registered without its route_doc.
  for (const auto& problem : openapi_problems(routes))
    log().write("warn", "openapi_incomplete", {field("problem", problem)}, true);
  for (const auto& warning : table.warnings()) log().write("warn", "pricing_warning", {field("warning", warning)});
  if (cfg.max_connections < r.configured_connections)
    log().write("warn", "max_connections_lowered",
                {field("reason", "the file descriptor limit (ulimit -n) leaves room for fewer connections; raise "
                                 "the hard limit (LimitNOFILE=, docker --ulimit nofile=) to allow more"),
                 field("max_connections", static_cast<std::int64_t>(cfg.max_connections)),
                 field("configured", static_cast<std::int64_t>(r.configured_connections)),
                 field("descriptor_limit", static_cast<std::int64_t>(r.descriptors.limit)),
                 field("descriptors_in_use", static_cast<std::int64_t>(r.descriptors.in_use))},
                true);
  if (cfg.database_url_ignored())
    log().write("warn", "database_url_ignored",
                {field("reason", "DATABASE_URL is neither postgresql://... nor sqlite:PATH; using the SQLite file"),
                 field("database", cfg.database().describe())},
                true);
}

/// Development mode trusts its caller: any browser origin may call the API, and the keys may have been generated
/// and printed. On an address other machines can reach, say so where the operator looks (the log and the
/// terminal); it is not refused, since a container must listen on 0.0.0.0 to be reachable at all. Then the keys to
/// paste (development convenience only: never in production, never in the access log).
void announce_development(const config& cfg, const start_report& r, const std::optional<development_keys>& keys) {
  if (!cfg.production && !is_loopback(r.bound.address())) {
    log().write("warn", "development_mode_exposed",
                {field("address", r.bound.address().to_string()),
                 field("port", static_cast<std::int64_t>(r.bound.port())),
                 field("reason", "ENV is development (any browser origin is allowed, keys may be generated) and "
                                 "the server listens on an address other machines can reach; set ENV=production "
                                 "with your own API_KEY and INGEST_KEY, or HOST=127.0.0.1")},
                true);
    std::fprintf(stderr,
                 "\n*** WARNING: Cost Guardian is in DEVELOPMENT mode and listening on %s, which other machines can "
                 "reach. ***\n"
                 "*** Any browser origin may call it%s. Use ENV=production (with API_KEY and INGEST_KEY), or "
                 "HOST=127.0.0.1. ***\n",
                 r.bound.address().to_string().c_str(),
                 keys ? ", and its keys were generated and printed below" : "");
  }
  if (!keys) return;
  std::fprintf(stderr,
               "\nCost Guardian is running (development).\n"
               "  Dashboard:  %s/dashboard  (sign in with the API key below)\n"
               "  API:        %s/openapi.json\n  API key:    %s\n"
               "  Ingest key: %s\n  (kept in %s; set API_KEY and INGEST_KEY to use your own)\n\n",
               r.base_url.c_str(), r.base_url.c_str(), keys->api_key.c_str(), keys->ingest_key.c_str(),
               keys->file.string().c_str());
}

/// What the shutdown touches, in the order it stops them.
struct running_parts {
  connection_policy& policy;
  listener& accept;
  database_upkeep& upkeep;
  ingest::group_commit_writer& writer;
  read_pool& reads;
  net::io_context& ioc;
  std::vector<std::thread>& io_threads;
};

/// Shutdown order: stop accepting; let every request already read finish (their events commit through the
/// still-running writer); then stop the writer, which commits whatever is still queued; only then stop IO.
void shut_down(running_parts parts) {
  parts.policy.draining = true;
  parts.accept.close();
  parts.upkeep.stop();
  const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (parts.policy.in_flight.load() > 0 && std::chrono::steady_clock::now() < grace)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  parts.writer.stop();
  parts.reads.stop();
  const auto final_grace = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (parts.policy.in_flight.load() > 0 && std::chrono::steady_clock::now() < final_grace)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  parts.ioc.stop();
  for (auto& t : parts.io_threads) t.join();
  const auto stats = parts.writer.stats();
  log().write("info", "stopped",
              {field("rows_committed", static_cast<std::int64_t>(stats.rows_committed)),
               field("batches", static_cast<std::int64_t>(stats.batches))},
              true);
}

int serve(config cfg) {
  log().set_json(cfg.log_format == "json");

  std::optional<development_keys> dev_keys;
  if (!cfg.production && (cfg.api_key.empty() || cfg.ingest_key.empty())) {
    dev_keys = load_or_create_development_keys(cfg.data_dir, cfg.api_key, cfg.ingest_key);
    cfg.api_key = dev_keys->api_key;
    cfg.ingest_key = dev_keys->ingest_key;
  }

  const auto where = cfg.database();
  std::optional<boost::json::object> upgrade_summary;
  auto write_db = open_write_connection(cfg, upgrade_summary);

  auto table = pricing::price_table::configured(cfg.pricing_file);
  std::atomic<std::shared_ptr<const pricing::price_table>> prices(table);

  ingest::token_registry tokens;
  tokens.replace(write_db->list_tokens());

  // Declared before the io_context: sessions still queued in it when it is destroyed release their connection
  // count into the policy, and the routes they point to must still exist then.
  connection_policy policy;
  configure_connections(policy, cfg);
  router routes;
  // The cross-cutting steps every request passes (pipeline.hpp), declared here for the same reason as the routes.
  metrics_registry metrics;
  rate_limits limits({.admin = {cfg.rate_limit_rpm, cfg.rate_limit_burst},
                      .ingest = {cfg.ingest_rpm, cfg.ingest_burst},
                      .auth_failure = {cfg.auth_failure_rpm, cfg.auth_failure_burst},
                      .exempt = cfg.rate_limit_exempt});
  request_pipeline pipeline(routes, cfg, limits, metrics);

  net::io_context ioc(static_cast<int>(cfg.threads));
  // A batch's answers reach the IO threads in one post; each then goes to its own session's strand from there.
  ingest::group_commit_writer writer(
      std::move(write_db),
      {cfg.writer_max_batch, cfg.writer_max_delay, cfg.writer_queue_capacity,
       [&ioc](std::function<void()> notify) { net::post(ioc, std::move(notify)); },
       [&metrics](const ingest::batch_report& b) { metrics.record_batch(b.rows, b.commit_time); }});
  read_pool reads(where, cfg.read_threads);
  // Once the database, its read connections and the io_context hold their descriptors: what is left is what
  // connections may use. Every connection is a descriptor, and accepting past the limit fails (EMFILE).
  const auto descriptors = raise_descriptor_limit();
  const std::size_t configured_connections = cfg.max_connections;
  cfg.max_connections = std::min(cfg.max_connections, connections_that_fit(descriptors));
  policy.max_connections = cfg.max_connections;
  ingest::admission_service admission(tokens, writer, prices);
  services svc{cfg, tokens, writer, admission, reads, prices, ioc, std::chrono::system_clock::now(), limits, metrics};
  database_upkeep upkeep(svc);
  register_every_route(routes, svc);
  pipeline.seal();  // after the last route: sizes the per-route metrics

  const auto accept = bind_listener(ioc, cfg, pipeline, policy, metrics);
  const auto bound = accept->local_endpoint();
  const start_report report{
      bound, cfg.public_url.empty() ? fmt::format("http://{}:{}", url_host(cfg.host), bound.port()) : cfg.public_url,
      table->source(), descriptors, configured_connections};
  log_listening(cfg, report);
  log_start_warnings(cfg, report, routes, *table, upgrade_summary);
  announce_development(cfg, report, dev_keys);

  std::promise<int> stop_signal;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&stop_signal](boost::system::error_code sec, int number) {
    if (!sec) stop_signal.set_value(number);
  });
  net::signal_set hangup(ioc, SIGHUP);
  reload_prices_on_sighup(hangup, reads, cfg, prices);
  net::steady_timer log_timer(ioc);
  flush_logs_periodically(log_timer);
  accept->run();
  upkeep.start();

  std::vector<std::thread> io_threads;
  for (unsigned i = 0; i < cfg.threads; ++i) io_threads.emplace_back([&ioc] {
    pthread_setname_np(pthread_self(), "cg-io");
    ioc.run();
  });

  const int signal_number = stop_signal.get_future().get();
  log().write("info", "shutting_down", {field("signal", static_cast<std::int64_t>(signal_number))}, true);
  shut_down({policy, *accept, upkeep, writer, reads, ioc, io_threads});
  return 0;
}

}  // namespace

int run_server(int argc, const char* const* argv) {
  if (argc > 1 && std::string_view(argv[1]) == "reprice") return run_reprice_command(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "price") return run_price_command(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "migrate-db") return run_migrate_db_command(argc - 1, argv + 1);
  if (argc > 1 && std::string_view(argv[1]) == "import-v03") return run_import_v03_command(argc - 1, argv + 1);
  command_line cli;
  try {
    cli = parse_command_line(argc, argv);
  } catch (const config_error& e) {
    std::fprintf(stderr, "cost-guardian: %s\n", e.what());
    return 2;
  }
  if (cli.help) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  if (cli.version) {
    std::printf("cost-guardian %s\n", CG_VERSION);
    return 0;
  }
  try {
    return serve(load_config(cli, process_environment()));
  } catch (const std::exception& e) {
    // One line, no stack trace: what is wrong and, by its wording, what to change.
    log().write("error", "startup_failed", {field("error", e.what())}, true);
    std::fprintf(stderr, "cost-guardian: %s\n", e.what());
    return 1;
  }
}

}  // namespace cg::server
