#include "handler_support.hpp"

#include "cg/server/secrets.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

namespace cg::server {

response json_ok(http::status status, const boost::json::value& body) {
  return json_response(status, boost::json::serialize(body));
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

}  // namespace cg::server
