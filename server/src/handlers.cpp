#include "handlers.hpp"

#include "admin_handlers.hpp"
#include "handler_support.hpp"
#include "ingest_batch.hpp"
#include "pipeline.hpp"

#include "cg/ingest/event_row.hpp"
#include "cg/ingest/strict_json.hpp"
#include "cg/ingest/validation.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"
#include "cg/storage/token_store.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <charconv>

namespace cg::server {

namespace json = boost::json;
namespace net = boost::asio;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::value optional_time(const std::optional<std::int64_t>& us) {
  if (!us) return nullptr;
  return json::value(ingest::format_timestamp(*us));
}

// JSON bodies: a declared Content-Type must be JSON (415 otherwise); none at all is read as JSON, as curl users
// and the old app's clients expect.
bool is_json_content_type(std::string_view content_type) {
  if (content_type.empty()) return true;
  const auto media = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (const char c : media)
    if (c != ' ' && c != '\t') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

bool require_json(const request_ptr& ctx, const responder& respond) {
  if (is_json_content_type(ctx->req[http::field::content_type])) return true;
  respond(json_error(http::status::unsupported_media_type,
                     fmt::format("Content-Type must be application/json, got '{}'",
                                 std::string(ctx->req[http::field::content_type])),
                     ctx->request_id));
  return false;
}

std::optional<json::object> parse_json_object(const request_ptr& ctx, const responder& respond) {
  // Strict as an event body is: a repeated key or a number beyond the double range names its field.
  auto parsed = ingest::parse_strict_json(ctx->req.body(), {});
  if (parsed.error) {
    respond(json_error(http::status::bad_request, "body is not valid JSON", ctx->request_id));
    return std::nullopt;
  }
  if (!parsed.faults.empty()) {
    const auto& fault = parsed.faults.front();
    respond(json_error(http::status::bad_request, fault.message(), ctx->request_id,
                       ingest::format_json_path(fault.path)));
    return std::nullopt;
  }
  if (!parsed.value.is_object()) {
    respond(json_error(http::status::bad_request, "body must be a JSON object", ctx->request_id));
    return std::nullopt;
  }
  return std::move(parsed.value.as_object());
}

std::optional<std::int64_t> path_id(const request_ptr& ctx, const responder& respond) {
  const std::string& text = ctx->path_params.at(0);
  std::int64_t id = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || ptr != text.data() + text.size() || id <= 0) {
    respond(json_error(http::status::bad_request, fmt::format("'{}' is not a token id", text), ctx->request_id,
                       "id"));
    return std::nullopt;
  }
  return id;
}

std::string mask_token(const std::string& token) {
  if (token.size() <= 8) return std::string(token.size(), '*');
  return token.substr(0, 4) + "…" + token.substr(token.size() - 4);
}

json::object token_json(const storage::tracking_token_row& row) {
  return {{"id", row.id},
          {"label", row.label},
          {"token", row.token},
          {"token_masked", mask_token(row.token)},
          {"active", row.active},
          {"created_at", ingest::format_timestamp(row.created_at_us)},
          {"last_seen_at", optional_time(row.last_seen_at_us)},
          {"usage_count", row.usage_count}};
}

// Runs an admin write on the writer thread (the only writable connection) and refreshes the token registry there,
// so the next ingest request already sees the change.
void token_write(services& s, const request_ptr& ctx, const responder& respond,
                 std::function<response(storage::connection&)> change) {
  const auto status = s.writer.run([&s, ctx, respond, change = std::move(change)](storage::connection& db) {
    response res;
    try {
      res = change(db);
      s.tokens.replace(db.list_tokens());
    } catch (const std::exception& e) {
      log().write("error", "token_write_failed", {field("request_id", ctx->request_id), field("error", e.what())},
                  true);
      res = json_error(http::status::service_unavailable, "storage unavailable, try again", ctx->request_id);
    }
    respond(std::move(res));
  });
  if (status != ingest::submit_status::queued)
    respond(json_error(http::status::service_unavailable, "shutting down", ctx->request_id));
}

// ---- public -------------------------------------------------------------------------------------------------

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
    json::object body{{"timestamp", ingest::format_timestamp(now_us())}, {"version", CG_VERSION},
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

// ---- ingest -------------------------------------------------------------------------------------------------

void respond_validation(const request_ptr& ctx, const responder& respond, const ingest::validation_error& err) {
  respond(json_error(static_cast<http::status>(err.status), err.message, ctx->request_id, err.field));
}

// How a route answers a stored event: /ingest with 201 for a new row; the legacy /log with 200 for both, as the
// old app did, and `extra` members (its message and deprecation warning) in both success bodies.
struct success_shape {
  http::status created = http::status::created;
  json::object extra;
};

// What /ingest and the legacy /log share once the caller is authenticated and the body is parsed: resolve the
// tracking token, price, and answer after the writer committed. An event without a tracking token (only /log
// accepts one) belongs to no token: no token checks, no ingest bucket. `source` is stored with the row.
void store_usage_event(services& s, const request_ptr& ctx, const responder& respond, ingest::parse_result parsed,
                       std::int64_t received, std::string source, success_shape shape) {
  if (auto* err = std::get_if<ingest::validation_error>(&parsed)) return respond_validation(ctx, respond, *err);
  auto& event = std::get<ingest::usage_event>(parsed);

  std::optional<std::int64_t> token_id;
  if (!event.tracking_token.empty()) {
    const auto token = s.tokens.find(event.tracking_token);
    if (!token) {
      respond(json_error(http::status::not_found, "unknown tracking token", ctx->request_id, "tracking_token"));
      return;
    }
    if (!token->active) {
      respond(json_error(http::status::forbidden, fmt::format("tracking token '{}' is inactive", token->label),
                         ctx->request_id, "tracking_token"));
      return;
    }
    // Per tracking token, only once the token is known to exist: made-up tokens never create buckets.
    if (!admit_ingest(s.limits, ctx, event.tracking_token, respond)) return;
    token_id = token->id;
  }

  auto row = ingest::make_event_row(std::move(event), token_id, received, *s.prices.load(std::memory_order_acquire),
                                    std::move(source));
  const auto cost = row.cost_nusd;
  const auto cost_source = row.cost_source;

  const auto status = s.writer.submit(
      std::move(row), [ctx, respond, cost, cost_source, shape = std::move(shape)](const ingest::write_outcome& outcome) {
        const auto with_extra = [&shape](json::object body) {
          for (const auto& [key, value] : shape.extra) body[key] = value;
          return body;
        };
        switch (outcome.result) {
          case ingest::write_outcome::status::created:
            respond(json_ok(shape.created, with_extra({{"ok", true},
                                                      {"id", outcome.id},
                                                      {"cost_usd", pricing::to_double_usd(cost)},
                                                      {"cost_usd_exact", pricing::format_usd(cost)},
                                                      {"cost_source", cost_source}})));
            return;
          case ingest::write_outcome::status::duplicate:
            respond(json_ok(http::status::ok, with_extra({{"ok", true}, {"duplicate", true}, {"id", outcome.id}})));
            return;
          case ingest::write_outcome::status::storage_failed:
            log().write("error", "commit_failed", {field("request_id", ctx->request_id), field("error", outcome.error)});
            respond(json_error(http::status::service_unavailable,
                               "the event could not be stored (storage unavailable); nothing was recorded, retry",
                               ctx->request_id));
            return;
        }
      });
  if (status == ingest::submit_status::queue_full) {
    respond(json_error(http::status::service_unavailable, "ingest queue is full; retry shortly", ctx->request_id));
  } else if (status == ingest::submit_status::stopped) {
    respond(json_error(http::status::service_unavailable, "server is shutting down; retry", ctx->request_id));
  }
}

void handle_ingest(services& s, const request_ptr& ctx, const responder& answer) {
  const auto respond = counting_ingest_outcome(s.metrics, answer);  // every answer counts: 401 is ingest_bad_auth
  if (!constant_time_equal(ctx->req["X-Ingest-Key"], s.cfg.ingest_key)) {
    respond(json_error(http::status::unauthorized, "missing or invalid X-Ingest-Key", ctx->request_id));
    return;
  }
  if (!require_json(ctx, respond)) return;
  const auto received = now_us();
  store_usage_event(s, ctx, respond,
                    ingest::parse_usage_event_text(ctx->req.body(), ctx->req["X-Tracking-Token"], received), received,
                    "ingest", {});
}

// The seed's deprecated endpoint, as its clients call it: the admin key instead of the ingest key, the old app's
// body (no tracking token needed, `estimatedCostUSD` as the client's cost), 200 with a message for a stored event.
// A body that names a tracking token (or X-Tracking-Token) is held to it exactly as on /ingest. Every answer
// carries `Deprecation: true` and a Link to /ingest.
void handle_log(services& s, const request_ptr& ctx, const responder& respond) {
  const responder deprecated = [respond](response res) {
    res.set("Deprecation", "true");
    res.set(http::field::link, "</ingest>; rel=\"successor-version\"");
    respond(std::move(res));
  };
  if (!require_admin(s, ctx, deprecated) || !require_json(ctx, deprecated)) return;
  const auto received = now_us();
  store_usage_event(
      s, ctx, deprecated,
      ingest::parse_legacy_log_event_text(ctx->req.body(), ctx->req["X-Tracking-Token"], received), received, "log",
      {.created = http::status::ok,
       .extra = {{"message", "usage logged"},
                 {"warning", "POST /log is deprecated: send events to POST /ingest with X-Ingest-Key"}}});
}

// ---- tracking tokens ----------------------------------------------------------------------------------------

void handle_list_tokens(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  s.reads.post([ctx, respond](storage::connection& db) {
    try {
      json::array tokens;
      for (const auto& row : db.list_tokens()) tokens.push_back(token_json(row));
      respond(json_ok(http::status::ok, json::object{{"tokens", std::move(tokens)}}));
    } catch (const std::exception& e) {
      log().write("error", "read_failed", {field("request_id", ctx->request_id), field("error", e.what())}, true);
      respond(json_error(http::status::service_unavailable, "storage unavailable, try again", ctx->request_id));
    }
  });
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++n;
  return n;
}

void handle_create_token(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond) || !require_json(ctx, respond)) return;
  auto body = parse_json_object(ctx, respond);
  if (!body) return;
  const auto* label_value = body->if_contains("label");
  if (!label_value || !label_value->is_string()) {
    respond(json_error(http::status::bad_request, "label is required and must be a string", ctx->request_id,
                       "label"));
    return;
  }
  std::string label(label_value->as_string());
  const auto first = label.find_first_not_of(" \t\r\n");
  label = first == std::string::npos ? "" : label.substr(first, label.find_last_not_of(" \t\r\n") - first + 1);
  if (label.find('\0') != std::string::npos) {
    respond(json_error(http::status::bad_request, "label must not contain a NUL character", ctx->request_id,
                       "label"));
    return;
  }
  if (label.empty() || utf8_length(label) > 64) {
    respond(json_error(http::status::bad_request, "label must be 1 to 64 characters", ctx->request_id, "label"));
    return;
  }
  const auto length = s.cfg.tracking_token_length;
  token_write(s, ctx, respond, [label, length, ctx](storage::connection& db) {
    try {
      const auto row = db.create_token(label, random_urlsafe(length), now_us());
      return json_ok(http::status::created, json::object{{"id", row.id}, {"token", row.token}, {"label", row.label}});
    } catch (const storage::storage_error& e) {
      if (!e.is_unique_violation()) throw;
      return json_error(http::status::conflict, fmt::format("a tracking token labelled '{}' already exists", label),
                        ctx->request_id, "label");
    }
  });
}

void handle_set_token_active(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  const auto id = path_id(ctx, respond);
  if (!id || !require_json(ctx, respond)) return;
  auto body = parse_json_object(ctx, respond);
  if (!body) return;
  const auto* active = body->if_contains("active");
  if (!active || !active->is_bool()) {
    respond(json_error(http::status::bad_request, "active is required and must be true or false", ctx->request_id,
                       "active"));
    return;
  }
  const bool value = active->as_bool();
  token_write(s, ctx, respond, [id = *id, value, ctx](storage::connection& db) {
    if (!db.set_token_active(id, value))
      return json_error(http::status::not_found, fmt::format("no tracking token with id {}", id), ctx->request_id);
    return json_ok(http::status::ok, json::object{{"ok", true}, {"id", id}, {"active", value}});
  });
}

void handle_delete_token(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  const auto id = path_id(ctx, respond);
  if (!id) return;
  token_write(s, ctx, respond, [id = *id, ctx](storage::connection& db) {
    if (!db.remove_token(id, now_us()))
      return json_error(http::status::not_found, fmt::format("no tracking token with id {}", id), ctx->request_id);
    return json_ok(http::status::ok, json::object{{"ok", true}, {"id", id}, {"deleted", true}});
  });
}

}  // namespace

void register_routes(router& routes, services& s) {
  using http::verb;
  routes.add(verb::get, "/ping", handle_ping,
             {.summary = "Liveness", .auth = route_auth::none, .responses = "200:Pong"});
  routes.add(verb::get, "/health", [&s](const request_ptr& c, const responder& r) { handle_health(s, c, r); },
             {.summary = "Health: the writer commits and a read connection reads within 2 s",
              .auth = route_auth::none,
              .responses = "200:Health 503:Health"});
  routes.add(verb::post, "/ingest", [&s](const request_ptr& c, const responder& r) { handle_ingest(s, c, r); },
             {.summary = "Store one usage event (acknowledged after commit)",
              .auth = route_auth::ingest,
              .headers = "X-Tracking-Token",
              .body = "UsageEvent",
              .responses = "201:IngestCreated 200:IngestDuplicate 400 403 404 413 415 503"});
  register_ingest_batch_route(routes, s);
  routes.add(verb::post, "/log", [&s](const request_ptr& c, const responder& r) { handle_log(s, c, r); },
             {.summary = "Legacy: store one usage event with the admin key (use POST /ingest)",
              .headers = "X-Tracking-Token",
              .body = "application/json",
              .responses = "200:application/json 400 403 404 415 503",
              .deprecated = true});
  routes.add(verb::get, "/ingest/tokens",
             [&s](const request_ptr& c, const responder& r) { handle_list_tokens(s, c, r); },
             {.summary = "List tracking tokens (oldest first)", .responses = "200:TokenList"});
  routes.add(verb::post, "/ingest/tokens",
             [&s](const request_ptr& c, const responder& r) { handle_create_token(s, c, r); },
             {.summary = "Create a tracking token", .body = "TokenCreate",
              .responses = "201:TokenCreated 400 409 415 503"});
  routes.add(verb::patch, "/ingest/tokens/<id>/active",
             [&s](const request_ptr& c, const responder& r) { handle_set_token_active(s, c, r); },
             {.summary = "Activate or deactivate a tracking token", .body = "TokenActiveChange",
              .responses = "200:TokenActiveResult 400 404 415 503"});
  routes.add(verb::delete_, "/ingest/tokens/<id>",
             [&s](const request_ptr& c, const responder& r) { handle_delete_token(s, c, r); },
             {.summary = "Delete a tracking token (its events stay, attributed)",
              .responses = "200:TokenDeleted 400 404 503"});
  register_admin_routes(routes, s);
}

}  // namespace cg::server
