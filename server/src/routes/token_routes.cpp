// The tracking tokens: list, create, activate or deactivate, delete (admin). Changes run on the writer thread, the
// only writable connection, and refresh the token registry there, so the next ingest request already sees them.

#include "routes/handler_support.hpp"
#include "routes/routes.hpp"

#include "cg/ingest/strict_json.hpp"
#include "cg/ingest/validation.hpp"
#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"
#include "cg/storage/token_store.hpp"
#include "cg/values/text.hpp"
#include "cg/values/time.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <charconv>

namespace cg::server {

namespace json = boost::json;

namespace {

json::value optional_time(const std::optional<std::int64_t>& us) {
  if (!us) return nullptr;
  return json::value(ingest::format_timestamp(*us));
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
  const std::string label(values::trim(label_value->as_string(), " \t\r\n"));
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
      const auto row = db.create_token(label, random_urlsafe(length), values::now_us());
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
    if (!db.remove_token(id, values::now_us()))
      return json_error(http::status::not_found, fmt::format("no tracking token with id {}", id), ctx->request_id);
    return json_ok(http::status::ok, json::object{{"ok", true}, {"id", id}, {"deleted", true}});
  });
}

}  // namespace

void register_token_routes(router& routes, services& s) {
  using http::verb;
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
}

}  // namespace cg::server
