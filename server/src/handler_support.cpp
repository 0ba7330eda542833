#include "handler_support.hpp"


#include <boost/json/serialize.hpp>

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

}  // namespace cg::server
