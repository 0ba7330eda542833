#pragma once
// The listener accepts connections; each connection is an http_session on its own strand.

#include "http/connection_limits.hpp"
#include "http/http.hpp"
#include "http/pipeline.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cg::server {

/// Limits and counters every session shares.
/// Thread-safety: the limits are set before the first accept; the counters are atomics.
struct connection_policy {
  std::size_t max_body_bytes = 1024 * 1024;
  /// Paths allowed a body limit of their own instead of max_body_bytes (POST /ingest/batch: BATCH_MAX_BYTES),
  /// matched exactly against the target without its query.
  std::vector<std::pair<std::string, std::size_t>> path_body_limits;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_connections = 10'000;
  client_connections per_client;  ///< MAX_CONNECTIONS_PER_CLIENT, configured before the first accept
  bool access_log = true;

  std::atomic<std::size_t> open_connections{0};
  std::atomic<std::size_t> in_flight{0};  ///< requests read and not yet answered
  std::atomic<bool> draining{false};      ///< shutting down: answer with Connection: close
  /// Connections being answered 503 by MAX_CONNECTIONS_PER_CLIENT (each lingers up to 2 s), at most max_refusing.
  std::atomic<std::size_t> refusing{0};
  static constexpr std::size_t max_refusing = 32;

  /// The body limit of a request for `target` (a query string is ignored).
  std::size_t body_limit_for(std::string_view target) const;
  /// The largest limit of any path: what a parser may allow before it has read the request line.
  std::size_t largest_body_limit() const;
};

/// Accepts connections until close() and starts a session for each, within MAX_CONNECTIONS and
/// MAX_CONNECTIONS_PER_CLIENT. After a failed accept it waits (50 ms, doubling to 1 s) before the next one.
/// Thread-safety: run() and close() are posted onto the acceptor's strand; the retry timer runs on it too.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
           const request_pipeline& pipeline, connection_policy& policy, metrics_registry& metrics);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void run();
  void close();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void back_off(boost::beast::error_code ec);
  void admit(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  const request_pipeline& pipeline_;
  connection_policy& policy_;
  metrics_registry& metrics_;
  std::chrono::milliseconds backoff_{0};  ///< 0 while accepts succeed
  std::uint64_t failed_accepts_ = 0;      ///< in the current run of failures, for the recovery log line
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace cg::server
