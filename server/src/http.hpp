#pragma once
// HTTP vocabulary shared by the session, the router and the handlers (server-internal: includes Beast).

#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::server {

namespace http = boost::beast::http;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// Everything a handler knows about one request. Owned by a shared_ptr so asynchronous handlers can keep it.
struct request_context {
  request req;
  std::string request_id;
  std::string client_ip;
  std::string_view path;   ///< target without the query string (points into req)
  std::string_view query;  ///< after '?', may be empty
  std::vector<std::string> path_params;  ///< values of `<...>` segments of the matched route
  std::chrono::steady_clock::time_point started;
};
using request_ptr = std::shared_ptr<request_context>;

/// Sends the one response of a request. Copyable, callable from any thread, exactly once.
using responder = std::function<void(response)>;

/// A JSON response with the project's headers.
response json_response(http::status status, std::string body);

/// The one shape of every error: {"error", "message", "request_id"[, "field"]}. Sets Retry-After for 429/503.
response json_error(http::status status, std::string_view message, std::string_view request_id,
                    std::optional<std::string_view> field = std::nullopt);

}  // namespace cg::server
