#include "handlers.hpp"

#include "cg/ingest/event_row.hpp"
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

response json_ok(http::status status, const json::value& body) {
  return json_response(status, json::serialize(body));
}

json::value optional_time(const std::optional<std::int64_t>& us) {
  if (!us) return nullptr;
  return json::value(ingest::format_timestamp(*us));
}

// Keys are compared in constant time; which header carried a wrong key is never logged.
bool admin_authorized(const services& s, const request& req) {
  const auto api_key = req["X-API-Key"];
  if (!api_key.empty()) return constant_time_equal(api_key, s.cfg.api_key);
  const auto auth = req[http::field::authorization];
  if (auth.size() > 7 && boost::beast::iequals(auth.substr(0, 7), "Bearer "))
    return constant_time_equal(auth.substr(7), s.cfg.api_key);
  return false;
}

bool require_admin(const services& s, const request_ptr& ctx, const responder& respond) {
  if (admin_authorized(s, ctx->req)) return true;
  respond(json_error(http::status::unauthorized, "missing or invalid admin key (X-API-Key or Authorization: Bearer)",
                     ctx->request_id));
  return false;
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
  boost::system::error_code ec;
  json::value body = json::parse(ctx->req.body(), ec);
  if (ec) {
    respond(json_error(http::status::bad_request, "body is not valid JSON", ctx->request_id, ""));
    return std::nullopt;
  }
  if (!body.is_object()) {
    respond(json_error(http::status::bad_request, "body must be a JSON object", ctx->request_id, ""));
    return std::nullopt;
  }
  return std::move(body.as_object());
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
                 std::function<response(storage::token_store&)> change) {
  const auto status = s.writer.run([&s, ctx, respond, change = std::move(change)](storage::database& db) {
    response res;
    try {
      storage::token_store store(db);
      res = change(store);
      s.tokens.replace(store.list());
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
  auto finish = [st, respond, rid = ctx->request_id, started, pricing_info](bool ok, std::string reason) {
    if (st->answered.exchange(true)) return;
    // finish() runs on the writer or a read thread; the timer belongs to the IO threads, so cancel it there.
    net::post(st->timer.get_executor(), [st] { st->timer.cancel(); });
    const auto uptime =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started).count();
    json::object body{{"timestamp", ingest::format_timestamp(now_us())}, {"version", CG_VERSION},
                      {"uptime_s", uptime}, {"pricing", pricing_info}};
    if (ok) {
      body["status"] = "healthy";
      respond(json_ok(http::status::ok, body));
    } else {
      body["status"] = "unhealthy";
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
    if (!ok) return finish(false, "database write failed: " + error);
    reads.post([finish](storage::database& db) {
      try {
        storage::statement q(db, "SELECT count(*) FROM tracking_tokens");
        q.step();
        finish(true, "");
      } catch (const std::exception& e) {
        finish(false, std::string("database read failed: ") + e.what());
      }
    });
  });
  if (status != ingest::submit_status::queued) finish(false, "shutting down");
}

// ---- ingest -------------------------------------------------------------------------------------------------

void respond_validation(const request_ptr& ctx, const responder& respond, const ingest::validation_error& err) {
  respond(json_error(static_cast<http::status>(err.status), err.message, ctx->request_id, err.field));
}

void handle_ingest(services& s, const request_ptr& ctx, const responder& respond) {
  if (!constant_time_equal(ctx->req["X-Ingest-Key"], s.cfg.ingest_key)) {
    respond(json_error(http::status::unauthorized, "missing or invalid X-Ingest-Key", ctx->request_id));
    return;
  }
  if (!require_json(ctx, respond)) return;

  const auto received = now_us();
  auto parsed = ingest::parse_usage_event_text(ctx->req.body(), ctx->req["X-Tracking-Token"], received);
  if (auto* err = std::get_if<ingest::validation_error>(&parsed)) return respond_validation(ctx, respond, *err);
  auto& event = std::get<ingest::usage_event>(parsed);

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

  auto row = ingest::make_event_row(std::move(event), token->id, received, *s.prices.load(std::memory_order_acquire),
                                    "ingest");
  const auto cost = row.cost_nusd;
  const auto cost_source = row.cost_source;

  const auto status = s.writer.submit(
      std::move(row), [ctx, respond, cost, cost_source](const ingest::write_outcome& outcome) {
        switch (outcome.result) {
          case ingest::write_outcome::status::created:
            respond(json_ok(http::status::created, json::object{{"ok", true},
                                                                {"id", outcome.id},
                                                                {"cost_usd", pricing::to_double_usd(cost)},
                                                                {"cost_usd_exact", pricing::format_usd(cost)},
                                                                {"cost_source", cost_source}}));
            return;
          case ingest::write_outcome::status::duplicate:
            respond(json_ok(http::status::ok, json::object{{"ok", true}, {"duplicate", true}, {"id", outcome.id}}));
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

// ---- tracking tokens ----------------------------------------------------------------------------------------

void handle_list_tokens(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  s.reads.post([ctx, respond](storage::database& db) {
    try {
      storage::token_store store(db);
      json::array tokens;
      for (const auto& row : store.list()) tokens.push_back(token_json(row));
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
  if (label.empty() || utf8_length(label) > 64) {
    respond(json_error(http::status::bad_request, "label must be 1 to 64 characters", ctx->request_id, "label"));
    return;
  }
  const auto length = s.cfg.tracking_token_length;
  token_write(s, ctx, respond, [label, length, ctx](storage::token_store& store) {
    try {
      const auto row = store.create(label, random_urlsafe(length), now_us());
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
  token_write(s, ctx, respond, [id = *id, value, ctx](storage::token_store& store) {
    if (!store.set_active(id, value))
      return json_error(http::status::not_found, fmt::format("no tracking token with id {}", id), ctx->request_id);
    return json_ok(http::status::ok, json::object{{"ok", true}, {"id", id}, {"active", value}});
  });
}

void handle_delete_token(services& s, const request_ptr& ctx, const responder& respond) {
  if (!require_admin(s, ctx, respond)) return;
  const auto id = path_id(ctx, respond);
  if (!id) return;
  token_write(s, ctx, respond, [id = *id, ctx](storage::token_store& store) {
    if (!store.remove(id, now_us()))
      return json_error(http::status::not_found, fmt::format("no tracking token with id {}", id), ctx->request_id);
    return json_ok(http::status::ok, json::object{{"ok", true}, {"id", id}, {"deleted", true}});
  });
}

}  // namespace

void register_routes(router& routes, services& s) {
  using http::verb;
  routes.add(verb::get, "/ping", handle_ping);
  routes.add(verb::get, "/health", [&s](const request_ptr& c, const responder& r) { handle_health(s, c, r); });
  routes.add(verb::post, "/ingest", [&s](const request_ptr& c, const responder& r) { handle_ingest(s, c, r); });
  routes.add(verb::get, "/ingest/tokens",
             [&s](const request_ptr& c, const responder& r) { handle_list_tokens(s, c, r); });
  routes.add(verb::post, "/ingest/tokens",
             [&s](const request_ptr& c, const responder& r) { handle_create_token(s, c, r); });
  routes.add(verb::patch, "/ingest/tokens/<id>/active",
             [&s](const request_ptr& c, const responder& r) { handle_set_token_active(s, c, r); });
  routes.add(verb::delete_, "/ingest/tokens/<id>",
             [&s](const request_ptr& c, const responder& r) { handle_delete_token(s, c, r); });
}

}  // namespace cg::server
