#include "http/http_session.hpp"

#include "http/chunked_writer.hpp"
#include "http/http_framing.hpp"
#include "http/connection_refusal.hpp"

#include "cg/server/log.hpp"
#include "cg/server/secrets.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

namespace cg::server {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Request ids need to be unique, not secret: a per-thread generator seeded once from the kernel saves a syscall on
// every request.
std::string new_request_id() {
  thread_local std::mt19937_64 generator = [] {
    const auto seed = random_urlsafe(16);
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string id(16, '\0');
  std::uint64_t a = generator(), b = generator();
  for (std::size_t i = 0; i < 8; ++i, a >>= 6U, b >>= 6U) {
    id[i] = alphabet[a & 63U];
    id[i + 8] = alphabet[b & 63U];
  }
  return id;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}


// What the unparsed bytes of a refused request (431, malformed) say about its target and Origin, for the access
// log, the metrics and the CORS headers of the answer. Beast hands over the request line and each header line as
// soon as it is whole, so `raw` starts with the request line only when `with_request_line`. Best effort on bytes
// that may be anything: an Origin is only taken when it is visible ASCII, so it is safe to echo in a header.
struct request_glimpse {
  std::string target;
  std::string origin;
};

request_glimpse glimpse(std::string_view raw, bool with_request_line) {
  request_glimpse g;
  const auto next_line = [&raw]() -> std::optional<std::string_view> {
    const auto end = raw.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // incomplete: cut off by the limit
    auto line = raw.substr(0, end);
    raw.remove_prefix(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  if (with_request_line) {
    const auto line = next_line();
    if (!line) return g;
    const auto first_space = line->find(' ');
    const auto last_space = line->rfind(' ');
    if (first_space != std::string_view::npos && last_space > first_space)
      g.target = std::string(line->substr(first_space + 1, last_space - first_space - 1));
  }
  while (const auto line = next_line()) {
    if (line->empty()) break;  // end of the headers
    const auto colon = line->find(':');
    if (colon == std::string_view::npos || !beast::iequals(line->substr(0, colon), "origin")) continue;
    const auto value = trim_ows(line->substr(colon + 1));
    if (!value.empty() && std::ranges::all_of(value, [](char c) { return c > 0x20 && c < 0x7F; }))
      g.origin = std::string(value);
  }
  return g;
}

/// One connection: reads a request, hands it to the pipeline, writes the response, and repeats while keep-alive.
/// Thread-safety: every step runs on the connection's strand; responders post back onto it.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, connection_slot slot, const request_pipeline& pipeline,
               connection_policy& policy)
      : slot_(std::move(slot)), stream_(std::move(socket)), pipeline_(pipeline), policy_(policy) {
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    client_ip_ = ec ? std::string("unknown") : remote.address().to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  void run() {
    // Start on the strand: the session's handlers must never run concurrently.
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::wait_for_request,
                                                                    shared_from_this()));
  }

 private:
  // Waiting for the first byte of a request is "idle" (keep-alive timeout); from then on, the header timeout runs.
  void wait_for_request() {
    if (buffer_.size() > 0) return start_message();
    stream_.expires_after(first_request_ ? policy_.header_timeout : policy_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(read_chunk),
                            beast::bind_front_handler(&http_session::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    if (ec) return close();  // idle timeout, peer closed, or shutdown
    buffer_.commit(bytes);
    start_message();
  }

  void start_message() {
    first_request_ = false;
    continue_sent_ = false;
    route_limit_applied_ = false;
    body_limit_ = policy_.max_body_bytes;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(policy_.max_header_bytes));
    // Beast compares Content-Length with the body limit as the headers end, before we know the route: start with
    // the largest limit, and stop after the headers (not eager) so the route's own limit applies to the body.
    parser_->body_limit(policy_.largest_body_limit());
    parser_->eager(false);
    parse_buffered();
  }

  // Once the request line and headers are in: framing that cannot be trusted is refused (400, see
  // framing_problem), then the limit of this request's path applies (only a few paths, such as /ingest/batch, may
  // send more than MAX_BODY_BYTES). False when the request was refused.
  bool apply_route_body_limit() {
    if (route_limit_applied_) return true;
    route_limit_applied_ = true;
    if (const auto problem = framing_problem(parser_->get()); !problem.empty()) {
      reject(http::status::bad_request, problem);
      return false;
    }
    body_limit_ = policy_.body_limit_for(parser_->get().target());
    if (const auto length = parser_->content_length(); length && *length > body_limit_) {
      reject_body_limit();
      return false;
    }
    parser_->body_limit(body_limit_);  // counts down from here, so chunked bodies are held to it too
    parser_->eager(true);
    return true;
  }

  // Feeds what is already buffered to the parser. A small request arrives in one segment, so it is usually parsed
  // whole here, without another asynchronous hop; only a partial message goes back to the socket.
  void parse_buffered() {
    beast::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const auto used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
      if (parser_->is_header_done() && !apply_route_body_limit()) return;
    }
    if (ec) return on_read_error(ec);
    if (parser_->is_header_done() && !apply_route_body_limit()) return;
    if (parser_->is_done()) return on_message();
    if (!parser_->is_header_done()) {
      stream_.expires_after(policy_.header_timeout);
      return http::async_read_header(stream_, buffer_, *parser_,
                                     beast::bind_front_handler(&http_session::on_header, shared_from_this()));
    }
    read_body();
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    parse_buffered();
  }

  void read_body() {
    if (!continue_sent_ && beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      // curl and others wait (curl: a second) for this before sending a larger body.
      continue_sent_ = true;
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(policy_.body_timeout);
      return http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
        if (ec) return self->close();
        self->read_body();
      });
    }
    stream_.expires_after(policy_.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    on_message();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::header_limit)
      return reject(http::status::request_header_fields_too_large, "request line and headers exceed 8 KiB");
    if (ec == http::error::body_limit) {
      // A Content-Length over even the largest limit stops the parser at the end of the headers, before
      // apply_route_body_limit: name this path's limit all the same.
      if (!route_limit_applied_) body_limit_ = policy_.body_limit_for(parser_->get().target());
      return reject_body_limit();
    }
    // A client that stalled, hung up or was cut off by shutdown is closed; one that sent garbage hears why.
    if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == http::error::partial_message ||
        ec == net::error::connection_reset)
      return close();
    reject(http::status::bad_request, fmt::format("malformed HTTP request: {}", ec.message()));
  }

  void on_message() {
    stream_.expires_never();  // the handler may wait for the writer; the response write sets its own deadline
    dispatch_request(parser_->release());
  }

  void dispatch_request(request&& req) {
    auto ctx = std::make_shared<request_context>();
    ctx->req = std::move(req);
    ctx->started = std::chrono::steady_clock::now();
    ctx->client_ip = client_ip_;
    const auto incoming = ctx->req["X-Request-Id"];
    ctx->request_id = is_valid_request_id(incoming) ? std::string(incoming) : new_request_id();
    const std::string_view target = ctx->req.target();
    const auto q = target.find('?');
    ctx->path = target.substr(0, q);
    ctx->query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    policy_.in_flight.fetch_add(1, std::memory_order_relaxed);
    responder respond = [self = shared_from_this(), ctx](response res) {
      net::post(self->stream_.get_executor(),
                [self, ctx, res = std::move(res)]() mutable { self->send(ctx, std::move(res), true); });
    };
    // The per-request barrier: anything unexpected becomes a generic 500 with the request id, logged in detail.
    try {
      pipeline_.handle(ctx, respond);
    } catch (const std::exception& e) {
      log().write("error", "unhandled", {field("request_id", ctx->request_id), field("error", e.what())});
      respond(json_error(http::status::internal_server_error, "internal error", ctx->request_id));
    }
  }

  // Answers a request that could not be read whole (431, 413, 400) and closes: the rest of its bytes are unread.
  void reject(http::status status, std::string_view message) {
    auto ctx = std::make_shared<request_context>();
    ctx->started = std::chrono::steady_clock::now();
    ctx->client_ip = client_ip_;
    ctx->request_id = new_request_id();
    if (parser_) {
      ctx->req.base() = parser_->get().base();  // all of the headers, or those parsed before the failure
      const auto incoming = ctx->req["X-Request-Id"];
      if (is_valid_request_id(incoming)) ctx->request_id = std::string(incoming);
      if (!parser_->is_header_done()) {
        const auto raw = buffer_.cdata();
        const bool no_request_line = ctx->req.target().empty();
        auto g = glimpse(std::string_view(static_cast<const char*>(raw.data()), raw.size()), no_request_line);
        if (no_request_line) ctx->req.target(g.target);
        if (!ctx->req.count(http::field::origin) && !g.origin.empty()) ctx->req.set(http::field::origin, g.origin);
      }
    }
    const std::string_view target = ctx->req.target();
    ctx->path = target.substr(0, target.find('?'));
    policy_.in_flight.fetch_add(1, std::memory_order_relaxed);
    auto res = json_error(status, message, ctx->request_id);
    pipeline_.refused(*ctx, res);
    res.keep_alive(false);
    send(ctx, std::move(res), false);
  }

  void reject_body_limit() {
    reject(http::status::payload_too_large,
           fmt::format("request body exceeds the limit of {} bytes", body_limit_));
  }

  void send(const request_ptr& ctx, response res, bool may_keep_alive) {
    const bool keep_alive = may_keep_alive && ctx->req.keep_alive() && !policy_.draining.load();
    if (auto source = std::exchange(ctx->body_stream, nullptr)) {
      if (res.result() == http::status::ok) return send_stream(ctx, std::move(res), keep_alive, std::move(source));
      source->cancel();  // something on the way replaced the stream's 200 with another answer
    }
    res.version(ctx->req.version() == 10 ? 10 : 11);
    res.keep_alive(keep_alive);
    res.set("X-Request-Id", ctx->request_id);
    if (ctx->req.method() == http::verb::head) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    auto message = std::make_shared<response>(std::move(res));
    stream_.expires_after(policy_.body_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), ctx, message](beast::error_code ec, std::size_t bytes) {
                        self->on_write(ctx, *message, ec, bytes);
                      });
  }

  // A streamed body (chunk_source): headers first, then each piece once the previous one was written.
  void send_stream(const request_ptr& ctx, response res, bool keep_alive, std::shared_ptr<chunk_source> source) {
    http::response<http::empty_body> header(std::move(res.base()));
    header.version(ctx->req.version() == 10 ? 10 : 11);
    header.keep_alive(keep_alive);
    header.set("X-Request-Id", ctx->request_id);
    const auto status = header.result_int();
    auto writer = std::make_shared<chunked_response_writer>(
        stream_, std::move(header), std::move(source), ctx->req.method() == http::verb::head, policy_.body_timeout,
        [self = shared_from_this(), ctx, status](beast::error_code ec, std::size_t bytes, bool may_keep_alive) {
          self->finish(ctx, status, may_keep_alive, ec, bytes);
        });
    writer->start();
  }

  void on_write(const request_ptr& ctx, const response& res, beast::error_code ec, std::size_t bytes) {
    finish(ctx, res.result_int(), res.keep_alive(), ec, bytes);
  }

  void finish(const request_ptr& ctx, unsigned status, bool keep_alive, beast::error_code ec, std::size_t bytes) {
    policy_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (policy_.access_log) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - ctx->started)
                              .count();
      log().write("info", "request",
                  {field("request_id", ctx->request_id), field("method", std::string(ctx->req.method_string())),
                   field("path", ctx->path), field("status", static_cast<std::int64_t>(status)),
                   field("bytes", static_cast<std::int64_t>(bytes)), field("duration_us", micros),
                   field("client_ip", ctx->client_ip)});  // the pipeline's: X-Forwarded-For when trusted
    }
    if (ec) return close();
    if (!keep_alive) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;  // the last handler returns; the session is destroyed with its socket
    }
    wait_for_request();
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Declared before the stream, so released after the socket is closed: the count never runs ahead of descriptors.
  connection_slot slot_;  // the session's share of MAX_CONNECTIONS (and of its address's limit)
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const request_pipeline& pipeline_;
  connection_policy& policy_;
  std::string client_ip_;
  bool first_request_ = true;
  bool continue_sent_ = false;
  bool route_limit_applied_ = false;
  std::size_t body_limit_ = 0;  // this request's, once its path is known
  static constexpr std::size_t read_chunk = 16 * 1024;
};

}  // namespace

std::size_t connection_policy::body_limit_for(std::string_view target) const {
  const auto path = target.substr(0, target.find('?'));
  for (const auto& [limited_path, limit] : path_body_limits)
    if (path == limited_path) return limit;
  return max_body_bytes;
}

std::size_t connection_policy::largest_body_limit() const {
  std::size_t largest = max_body_bytes;
  for (const auto& entry : path_body_limits) largest = std::max(largest, entry.second);
  return largest;
}

listener::listener(net::io_context& ioc, const tcp::endpoint& endpoint, const request_pipeline& pipeline,
                   connection_policy& policy, metrics_registry& metrics)
    : ioc_(ioc),
      acceptor_(net::make_strand(ioc)),
      retry_timer_(acceptor_.get_executor()),
      pipeline_(pipeline),
      policy_(policy),
      metrics_(metrics) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

tcp::endpoint listener::local_endpoint() const { return acceptor_.local_endpoint(); }

void listener::run() {
  net::dispatch(acceptor_.get_executor(), beast::bind_front_handler(&listener::do_accept, shared_from_this()));
}

void listener::close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
  });
}

void listener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // closed for shutdown
  if (ec) return back_off(ec);
  if (backoff_.count() > 0) {
    log().write("info", "accept_recovered", {field("failed_accepts", static_cast<std::int64_t>(failed_accepts_))},
                true);
    backoff_ = {};
    failed_accepts_ = 0;
  }
  admit(std::move(socket));
  do_accept();
}

// Accepting again at once after EMFILE (descriptors exhausted) spins a core: the connection stays in the backlog,
// so the next accept fails the same way at once, thousands of times a second, while every client times out. Wait
// instead, 50 ms doubling to 1 s: a shortage costs a few wake-ups a second, and a freed descriptor is used within
// a second. The first failure of a run is logged, and the recovery; the metrics count every one.
void listener::back_off(beast::error_code ec) {
  static constexpr std::chrono::milliseconds first{50}, longest{1'000};
  metrics_.record_accept_error();
  ++failed_accepts_;
  if (backoff_.count() == 0)
    log().write("warn", "accept_failed",
                {field("error", ec.message()), field("retry_ms", static_cast<std::int64_t>(first.count()))}, true);
  backoff_ = backoff_.count() == 0 ? first : std::min(backoff_ * 2, longest);
  retry_timer_.expires_after(backoff_);
  retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
    if (wait_ec || !self->acceptor_.is_open()) return;
    self->do_accept();
  });
}

void listener::admit(tcp::socket socket) {
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // the peer is gone already; the socket closes here
  // Over the cap the connection is closed at once: cheaper than a response, and the client retries elsewhere.
  if (policy_.open_connections.fetch_add(1, std::memory_order_relaxed) >= policy_.max_connections) {
    policy_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    metrics_.record_connection_refused(metrics_registry::connection_refusal::max_connections);
    socket.close(ec);
    return;
  }
  const auto peer = ip_address::parse(remote.address().to_string()).value_or(ip_address{});
  const auto verdict = policy_.per_client.admit(peer);
  if (verdict != client_connections::admission::refused) {
    connection_slot slot(policy_.open_connections,
                         verdict == client_connections::admission::counted ? &policy_.per_client : nullptr, peer);
    std::make_shared<http_session>(std::move(socket), std::move(slot), pipeline_, policy_)->run();
    return;
  }
  // One address holds MAX_CONNECTIONS_PER_CLIENT already: say so (a load test or a pool that is too large should
  // learn why), at a cost of one small write. Refusals in progress do not hold MAX_CONNECTIONS slots (a client
  // opening connections faster than they linger would fill the cap with them) but a small budget of their own,
  // within the descriptor reserve; past it the connection is closed unanswered, as over MAX_CONNECTIONS.
  policy_.open_connections.fetch_sub(1, std::memory_order_relaxed);
  metrics_.record_connection_refused(metrics_registry::connection_refusal::per_client);
  if (policy_.refusing.fetch_add(1, std::memory_order_relaxed) >= connection_policy::max_refusing) {
    policy_.refusing.fetch_sub(1, std::memory_order_relaxed);
    socket.close(ec);
    return;
  }
  connection_slot slot(policy_.refusing, nullptr, peer);
  // Logged at most every 10 s; the metrics count every one.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ >= std::chrono::seconds(10)) {
    last_refusal_log_ = now;
    log().write("warn", "client_connection_limit",
                {field("client_ip", remote.address().to_string()),
                 field("limit", static_cast<std::int64_t>(policy_.per_client.per_client()))},
                true);
  }
  refuse_connection(std::move(socket), std::move(slot),
                    fmt::format("too many open connections from this client address (at most {}, "
                                "MAX_CONNECTIONS_PER_CLIENT); close some or retry later",
                                policy_.per_client.per_client()),
                    std::chrono::seconds(2));
}

}  // namespace cg::server
