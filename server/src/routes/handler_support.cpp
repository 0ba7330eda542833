#include "routes/handler_support.hpp"

#include <fmt/format.h>

#include <cctype>

namespace cg::server {

response json_ok(http::status status, const boost::json::value& body) {
  return json_response(status, to_json_text(body));
}

// Keys are compared in constant time; which header carried a wrong key is never logged.
bool admin_authorized(const services& s, const request& req) { return presents_admin_key(req, s.cfg.api_key); }

bool require_admin(const services& s, const request_ptr& ctx, const responder& respond) {
  if (admin_authorized(s, ctx->req)) return true;
  respond(json_error(http::status::unauthorized, "missing or invalid admin key (X-API-Key or Authorization: Bearer)",
                     ctx->request_id));
  return false;
}

std::string media_type(std::string_view content_type) {
  std::string media;
  for (const char c : content_type.substr(0, content_type.find(';')))
    if (c != ' ' && c != '\t') media += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media;
}

bool is_json_media(std::string_view media) {
  return media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"));
}

bool require_json(const request_ptr& ctx, const responder& respond) {
  const auto content_type = ctx->req[http::field::content_type];
  if (content_type.empty() || is_json_media(media_type(content_type))) return true;
  respond(json_error(http::status::unsupported_media_type,
                     fmt::format("Content-Type must be application/json, got '{}'", std::string(content_type)),
                     ctx->request_id));
  return false;
}

}  // namespace cg::server
