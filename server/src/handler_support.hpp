#pragma once
// What every handler file needs: admin authentication and the JSON success response.

#include "handlers.hpp"
#include "http.hpp"

#include <boost/json/value.hpp>

namespace cg::server {

/// A JSON response of `body` with the project's headers.
response json_ok(http::status status, const boost::json::value& body);

/// True when the request carries the admin key (X-API-Key, or Authorization: Bearer), compared in constant time.
bool admin_authorized(const services& s, const request& req);

/// Answers 401 and returns false unless the request is admin-authorized. Which header carried a wrong key is never
/// logged.
bool require_admin(const services& s, const request_ptr& ctx, const responder& respond);

}  // namespace cg::server
