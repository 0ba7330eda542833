#pragma once
// What every handler file needs: admin authentication, the JSON success response, and the reading of a JSON body.

#include "http/http.hpp"
#include "routes/services.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cg::server {

/// A JSON response of `body` with the project's headers.
response json_ok(http::status status, const boost::json::value& body);

/// True when the request carries the admin key (X-API-Key, or Authorization: Bearer), compared in constant time.
bool admin_authorized(const services& s, const request& req);

/// Answers 401 and returns false unless the request is admin-authorized. Which header carried a wrong key is never
/// logged.
bool require_admin(const services& s, const request_ptr& ctx, const responder& respond);

/// The media type of a Content-Type header, lower-cased, without parameters or spaces: `application/json`.
std::string media_type(std::string_view content_type);

/// `application/json` or any `application/...+json`.
bool is_json_media(std::string_view media);

/// JSON bodies: a declared Content-Type must be JSON (415 otherwise, and false); none at all is read as JSON, as curl
/// users and the old app's clients expect.
bool require_json(const request_ptr& ctx, const responder& respond);

}  // namespace cg::server
