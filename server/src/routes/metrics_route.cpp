#include "routes/routes.hpp"

#include "routes/handler_support.hpp"
#include "http/metrics.hpp"
#include "http/query_params.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/server/log.hpp"
#include "cg/storage/database.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

namespace cg::server {

namespace json = boost::json;

namespace {

// What the database says, read on the read pool. usage_rows is an exact count(*): SQLite counts the narrowest
// index, about 60 ms for 10 million rows with a warm cache, which a scrape every few seconds affords on a pool
// thread (IO threads never wait for it). last_usage_at is the receive time of the newest row (an index seek).
struct db_figures {
  bool ok = false;
  std::string error;
  std::int64_t usage_rows = 0;
  std::int64_t active_tokens = 0;
  std::optional<std::int64_t> last_usage_us;
};

db_figures read_db_figures(storage::connection& db) {
  db_figures f;
  try {
    const auto figures = db.figures();
    f.usage_rows = figures.usage_rows;
    f.active_tokens = figures.active_tokens;
    f.last_usage_us = figures.last_received_at_us;
    f.ok = true;
  } catch (const std::exception& e) {
    f.error = e.what();
  }
  return f;
}

// Everything read on the IO thread before the database hop (cheap: atomics, one short lock in stats()).
struct in_memory_figures {
  ingest::group_commit_writer::stats_snapshot writer;
  std::string pricing_source;
  std::size_t pricing_models = 0;
  std::int64_t uptime_s = 0;
};

std::uint64_t refused_sum(const metrics_registry& m, std::initializer_list<unsigned> statuses) {
  std::uint64_t n = 0;
  for (const auto s : statuses) n += m.ingest_refused(s);
  return n;
}

std::string render_json(const services& s, const in_memory_figures& mem, const db_figures& db) {
  const auto& m = s.metrics;
  const auto& limits = s.limits;
  json::object rejected;
  for (const auto& [status, n] : m.ingest_refused_by_status()) rejected[std::to_string(status)] = n;
  json::object refused_by_connection;
  for (const auto& [status, n] : m.connection_refused_by_status()) refused_by_connection[std::to_string(status)] = n;
  json::array exempt;
  for (const auto& p : limits.config().exempt) exempt.emplace_back(p);

  json::object body{
      {"version", CG_VERSION},
      {"env", s.cfg.production ? "production" : "development"},
      {"uptime_s", mem.uptime_s},
      {"ingest", json::object{{"rpm", limits.config().ingest.per_minute},
                              {"burst", limits.config().ingest.burst},
                              {"auth_enabled", !s.cfg.ingest_key.empty()},
                              {"tracking_token_length", s.cfg.tracking_token_length}}},
      {"rate_limit", json::object{{"rpm", limits.config().admin.per_minute},
                                  {"burst", limits.config().admin.burst},
                                  {"exempt_paths", std::move(exempt)},
                                  {"ingest", json::object{{"rpm", limits.config().ingest.per_minute},
                                                          {"burst", limits.config().ingest.burst}}},
                                  {"auth_failure", json::object{{"rpm", limits.config().auth_failure.per_minute},
                                                                {"burst", limits.config().auth_failure.burst}}},
                                  {"buckets", json::object{{"admin", limits.admin_buckets().size()},
                                                           {"ingest", limits.ingest_buckets().size()},
                                                           {"auth_failure", limits.auth_failure_buckets().size()}}}}},
      {"connections",
       json::object{{"max", s.cfg.max_connections},
                    {"max_per_client", s.cfg.max_connections_per_client},
                    {"accept_errors", m.accept_errors()},
                    {"refused_max_connections",
                     m.connections_refused(metrics_registry::connection_refusal::max_connections)},
                    {"refused_per_client", m.connections_refused(metrics_registry::connection_refusal::per_client)}}},
      {"counters",
       json::object{
           {"ingest_success", m.ingest_created()},
           {"ingest_duplicate", m.ingest_duplicate()},
           {"ingest_bad_auth", m.ingest_refused(401)},
           // The old app's name for events refused as invalid: 400, plus unknown (404) or inactive (403) tokens.
           {"ingest_validation_error", refused_sum(m, {400, 403, 404, 413, 415})},
           {"ingest_rate_limited", m.ingest_refused(429)},
           {"ingest_unavailable", m.ingest_refused(503)},
           {"ingest_rejected", std::move(rejected)},
           {"rate_limit_hits", limits.admin_hits() + limits.ingest_hits() + limits.auth_failure_hits()},
           {"rate_limit_hits_admin", limits.admin_hits()},
           {"rate_limit_hits_ingest", limits.ingest_hits()},
           {"rate_limit_hits_auth_failure", limits.auth_failure_hits()},
           // Refused by the connection layer before routing: 400 malformed HTTP, 413 body or 431 headers too large.
           {"http_refused", std::move(refused_by_connection)},
       }},
      {"writer", json::object{{"queue_depth", mem.writer.queue_depth},
                              {"batches", mem.writer.batches},
                              {"rows_committed", mem.writer.rows_committed},
                              {"failed_batches", mem.writer.failed_batches},
                              {"last_commit_failed", mem.writer.last_commit_failed},
                              {"running", mem.writer.running}}},
      {"pricing", json::object{{"source", mem.pricing_source}, {"models", mem.pricing_models}}},
  };
  if (db.ok) {
    body["db"] = json::object{
        {"usage_rows", db.usage_rows},
        {"active_tokens", db.active_tokens},
        {"last_usage_at", db.last_usage_us ? json::value(ingest::format_timestamp(*db.last_usage_us)) : nullptr}};
  } else {
    body["db"] = json::object{{"usage_rows", nullptr}, {"active_tokens", nullptr}, {"last_usage_at", nullptr},
                              {"error", "database read failed"}};
  }
  return to_json_text(body);
}

std::string render_prometheus(const services& s, const in_memory_figures& mem, const db_figures& db) {
  prometheus_text out;
  const std::string env = s.cfg.production ? "production" : "development";
  out.family("cost_guardian_build_info", "gauge", "Version and environment of this server (always 1)");
  out.sample("cost_guardian_build_info", {{"version", CG_VERSION}, {"env", env}}, std::uint64_t{1});
  out.family("cost_guardian_uptime_seconds", "gauge", "Seconds since the server started");
  out.sample("cost_guardian_uptime_seconds", {}, static_cast<std::uint64_t>(mem.uptime_s));

  s.metrics.render(out);

  out.family("cost_guardian_writer_queue_depth", "gauge", "Events waiting for the group-commit writer");
  out.sample("cost_guardian_writer_queue_depth", {}, static_cast<std::uint64_t>(mem.writer.queue_depth));
  out.family("cost_guardian_writer_batches_total", "counter", "Group-commit transactions committed");
  out.sample("cost_guardian_writer_batches_total", {}, mem.writer.batches);
  out.family("cost_guardian_writer_rows_committed_total", "counter", "Rows committed by the writer");
  out.sample("cost_guardian_writer_rows_committed_total", {}, mem.writer.rows_committed);
  out.family("cost_guardian_writer_failed_batches_total", "counter",
             "Group-commit transactions rolled back (nothing of them stored)");
  out.sample("cost_guardian_writer_failed_batches_total", {}, mem.writer.failed_batches);
  out.family("cost_guardian_writer_healthy", "gauge", "1 unless the last commit or health probe failed");
  out.sample("cost_guardian_writer_healthy", {}, std::uint64_t{mem.writer.last_commit_failed ? 0U : 1U});

  out.family("cost_guardian_rate_limit_hits_total", "counter", "Requests refused with 429, by limiter");
  out.sample("cost_guardian_rate_limit_hits_total", {{"limiter", "admin"}}, s.limits.admin_hits());
  out.sample("cost_guardian_rate_limit_hits_total", {{"limiter", "ingest"}}, s.limits.ingest_hits());
  out.sample("cost_guardian_rate_limit_hits_total", {{"limiter", "auth_failure"}}, s.limits.auth_failure_hits());
  out.family("cost_guardian_rate_limit_buckets", "gauge", "Token buckets held in memory, by limiter (bounded)");
  out.sample("cost_guardian_rate_limit_buckets", {{"limiter", "admin"}},
             static_cast<std::uint64_t>(s.limits.admin_buckets().size()));
  out.sample("cost_guardian_rate_limit_buckets", {{"limiter", "ingest"}},
             static_cast<std::uint64_t>(s.limits.ingest_buckets().size()));
  out.sample("cost_guardian_rate_limit_buckets", {{"limiter", "auth_failure"}},
             static_cast<std::uint64_t>(s.limits.auth_failure_buckets().size()));

  out.family("cost_guardian_pricing_info", "gauge", "The price table in force (always 1)");
  out.sample("cost_guardian_pricing_info", {{"source", mem.pricing_source}}, std::uint64_t{1});
  out.family("cost_guardian_pricing_models", "gauge", "Models the price table can price");
  out.sample("cost_guardian_pricing_models", {}, static_cast<std::uint64_t>(mem.pricing_models));

  out.family("cost_guardian_db_up", "gauge", "1 when the database figures below could be read");
  out.sample("cost_guardian_db_up", {}, std::uint64_t{db.ok ? 1U : 0U});
  if (db.ok) {
    out.family("cost_guardian_usage_rows", "gauge", "Usage events stored (exact count)");
    out.sample("cost_guardian_usage_rows", {}, static_cast<std::uint64_t>(db.usage_rows));
    out.family("cost_guardian_active_tokens", "gauge", "Active tracking tokens");
    out.sample("cost_guardian_active_tokens", {}, static_cast<std::uint64_t>(db.active_tokens));
    if (db.last_usage_us) {
      out.family("cost_guardian_last_usage_timestamp_seconds", "gauge",
                 "When the newest stored event was received (Unix time)");
      out.sample("cost_guardian_last_usage_timestamp_seconds", {}, static_cast<double>(*db.last_usage_us) / 1e6);
    }
  }
  return out.take();
}

bool accepts_text_plain(std::string_view accept) {
  for (std::size_t i = 0; i + 10 <= accept.size(); ++i)
    if (boost::beast::iequals(accept.substr(i, 10), "text/plain")) return true;
  return false;
}

void handle_metrics(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  auto query = parse_query(ctx->query);
  if (auto* err = std::get_if<query_error>(&query)) {
    respond(json_error(http::status::bad_request, err->message, ctx->request_id, err->field));
    return;
  }
  const auto& params = std::get<query_map>(query);
  bool prometheus = accepts_text_plain(ctx->req[http::field::accept]);
  if (const auto it = params.find("format"); it != params.end()) {
    if (it->second != "json" && it->second != "prometheus") {
      respond(json_error(http::status::bad_request,
                         fmt::format("format must be json or prometheus, got '{}'", it->second), ctx->request_id,
                         "format"));
      return;
    }
    prometheus = it->second == "prometheus";
  }

  in_memory_figures mem;
  mem.writer = s.writer.stats();
  const auto table = s.prices.load(std::memory_order_acquire);
  mem.pricing_source = table->source();
  mem.pricing_models = table->model_count();
  mem.uptime_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - s.started_at).count();

  s.reads.post([&s, ctx, respond, prometheus, mem = std::move(mem)](storage::connection& db) {
    const auto figures = read_db_figures(db);
    if (!figures.ok)
      log().write("error", "metrics_db_read_failed",
                  {field("request_id", ctx->request_id), field("error", figures.error)});
    if (!prometheus) return respond(json_response(http::status::ok, render_json(s, mem, figures)));
    response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = render_prometheus(s, mem, figures);
    res.prepare_payload();
    respond(std::move(res));
  });
}

}  // namespace

void register_metrics_route(router& routes, services& s) {
  routes.add(http::verb::get, "/metrics", [&s](const request_ptr& c, const responder& r) { handle_metrics(s, c, r); },
             {.summary = "Counters, database figures and writer health (JSON, or Prometheus text)",
              .query = "format:json|prometheus",
              .responses = "200:Metrics,text/plain 400",
              .description = "JSON by default (the old app's shape, extended). Prometheus text exposition 0.0.4 for "
                             "`?format=prometheus` or an Accept header that includes text/plain."});
}

}  // namespace cg::server
