// GET /ping and GET /health: liveness, and a health answer that proves the writer commits and a read connection reads.

#include "routes/handler_support.hpp"
#include "routes/routes.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/values/time.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <atomic>

namespace cg::server {

namespace json = boost::json;
namespace net = boost::asio;

namespace {

void handle_ping(const request_ptr&, const responder& respond) {
  respond(json_response(http::status::ok, R"({"message":"pong"})"));
}

void handle_health(services& s, const request_ptr& ctx, const responder& respond) {
  // Healthy means: the writer thread answers within 2 s, a real commit succeeds, and a read connection reads.
  struct state {
    std::atomic<bool> answered{false};
    net::steady_timer timer;
    explicit state(net::io_context& ioc) : timer(ioc) {}
  };
  auto st = std::make_shared<state>(s.ioc);
  const auto started = s.started_at;
  const auto table = s.prices.load(std::memory_order_acquire);
  json::object pricing_info{{"source", table->source()}, {"models", table->model_count()}};
  // /health is public (load balancers probe it without a key). Where the database lives (a file path, a host) and
  // the errors behind a failure (which name files and directories) help an attacker map the machine, so they are
  // shown to the admin key only; the status, the backend and a reason without detail are enough for a probe.
  const bool details = admin_authorized(s, ctx->req);
  const auto where = s.cfg.database();
  json::object database_info{{"backend", where.is_postgresql() ? "postgresql" : "sqlite"}};
  if (details) database_info["location"] = where.describe();
  auto finish = [st, respond, rid = ctx->request_id, started, pricing_info, database_info, details](
                    bool ok, std::string reason, const std::string& detail = {}) {
    if (st->answered.exchange(true)) return;
    // finish() runs on the writer or a read thread; the timer belongs to the IO threads, so cancel it there.
    net::post(st->timer.get_executor(), [st] { st->timer.cancel(); });
    const auto uptime =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started).count();
    json::object body{{"timestamp", ingest::format_timestamp(values::now_us())}, {"version", CG_VERSION},
                      {"uptime_s", uptime}, {"pricing", pricing_info},
                      {"database", database_info}};
    if (ok) {
      body["status"] = "healthy";
      respond(json_ok(http::status::ok, body));
    } else {
      body["status"] = "unhealthy";
      if (details && !detail.empty())
        reason += ": " + detail;
      else if (detail.find("full") != std::string::npos)
        reason += ": the disk is full";  // says what to fix without saying where
      body["reason"] = reason;
      body["request_id"] = rid;
      auto res = json_ok(http::status::service_unavailable, body);
      res.set(http::field::retry_after, "5");
      respond(std::move(res));
    }
  };
  st->timer.expires_after(std::chrono::seconds(2));
  st->timer.async_wait([finish](boost::system::error_code ec) {
    if (!ec) finish(false, "the database writer did not answer within 2 s");
  });
  auto& reads = s.reads;
  const auto status = s.writer.probe([finish, &reads](bool ok, const std::string& error) {
    if (!ok) return finish(false, "database write failed", error);
    reads.post([finish](storage::connection& db) {
      try {
        db.check_read();
        finish(true, "");
      } catch (const std::exception& e) {
        finish(false, "database read failed", e.what());
      }
    });
  });
  if (status != ingest::submit_status::queued) finish(false, "shutting down");
}

}  // namespace

void register_health_routes(router& routes, services& s) {
  routes.add(http::verb::get, "/ping", handle_ping,
             {.summary = "Liveness", .auth = route_auth::none, .responses = "200:Pong"});
  routes.add(http::verb::get, "/health",
             [&s](const request_ptr& c, const responder& r) { handle_health(s, c, r); },
             {.summary = "Health: the writer commits and a read connection reads within 2 s",
              .auth = route_auth::none,
              .responses = "200:Health 503:Health"});
}

}  // namespace cg::server
