#pragma once
// HTTP vocabulary shared by the session, the router and the handlers (server-internal: includes Beast).

#include "http/rate_limit.hpp"

#include <boost/beast/http.hpp>
#include <boost/json/value.hpp>

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

/// One piece of a streamed body. `last` ends the body (the piece may then be empty); `failed` means the producer
/// could not go on (a storage error after the status line went out): the session then closes the connection
/// without the final chunk, so the client sees a truncated transfer instead of a short file that looks complete.
struct body_piece {
  std::string data;
  bool last = false;
  bool failed = false;
};

/// Produces a response body piece by piece, for bodies too large to hold (the CSV export).
/// Thread-safety: the session calls pull() on its strand, and again only after the previous piece was written to
/// the socket, so the producer is paced by the client (backpressure) and never holds more than one piece. `deliver`
/// may be called from any thread, exactly once per pull(). cancel() (on the strand) means no more pulls will come:
/// the client went away, or the request was HEAD.
class chunk_source {
 public:
  virtual ~chunk_source() = default;
  virtual void pull(std::function<void(body_piece)> deliver) = 0;
  virtual void cancel() noexcept {}
};

/// Everything a handler knows about one request. Owned by a shared_ptr so asynchronous handlers can keep it.
struct request_context {
  request req;
  std::string request_id;
  std::string client_ip;
  std::string_view path;   ///< target without the query string (points into req)
  std::string_view query;  ///< after '?', may be empty
  std::vector<std::string> path_params;  ///< values of `<...>` segments of the matched route
  std::chrono::steady_clock::time_point started;
  /// Set by whichever rate limit charged this request (the pipeline for admin routes, an ingest handler per tracking
  /// token); the pipeline turns it into RateLimit-* (and Retry-After) headers on the way out.
  std::optional<rate_decision> rate_limit;
  /// The second way to answer: a handler that streams sets this, then calls the responder with the status line and
  /// headers only (a 200 with an empty body). The session sends those headers (after every wrapper of the responder
  /// has added its own) and then the pieces, with chunked transfer encoding.
  std::shared_ptr<chunk_source> body_stream;
};
using request_ptr = std::shared_ptr<request_context>;

/// Sends the one response of a request. Copyable, callable from any thread, exactly once.
using responder = std::function<void(response)>;

/// True when the request carries `api_key` (X-API-Key, else Authorization: Bearer), compared in constant time.
/// The one admin-key rule: handlers use it to authorize, the pipeline to pick a rate-limit bucket.
bool presents_admin_key(const request& req, std::string_view api_key);

/// JSON text of `value`, as boost::json::serialize but with numbers as people write them: a double is printed in
/// its shortest round-trip decimal form without an exponent where that is short (0.00045, not 4.5E-4; 0, not 0E0).
std::string to_json_text(const boost::json::value& value);

/// A JSON response with the project's headers.
response json_response(http::status status, std::string body);

/// The one shape of every error: {"error", "message", "request_id"[, "field"]}. Sets Retry-After for 429/503.
/// `field` is the JSON path of the field at fault; absent or empty (an error about the body or request as a whole)
/// leaves the key out, never `"field": ""`.
response json_error(http::status status, std::string_view message, std::string_view request_id,
                    std::optional<std::string_view> field = std::nullopt);

}  // namespace cg::server
