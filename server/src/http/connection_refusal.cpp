#include "http/connection_refusal.hpp"

#include "http/http.hpp"

#include "cg/server/secrets.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <memory>

namespace cg::server {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

/// Thread-safety: every step runs on the socket's executor (a strand of its own), one after the other.
class connection_refusal : public std::enable_shared_from_this<connection_refusal> {
 public:
  connection_refusal(net::ip::tcp::socket&& socket, connection_slot slot, std::chrono::milliseconds linger)
      : slot_(std::move(slot)), stream_(std::move(socket)), linger_(linger) {}

  void start(std::string_view message) {
    // No request was read: the id is new, and the body names the limit so an operator seeing it knows which one.
    const auto request_id = random_urlsafe(12);
    response_ = json_error(http::status::service_unavailable, message, request_id);
    response_.set("X-Request-Id", request_id);
    response_.keep_alive(false);
    stream_.expires_after(linger_);
    http::async_write(stream_, response_, beast::bind_front_handler(&connection_refusal::on_write, shared_from_this()));
  }

 private:
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return close();
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > max_drained) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  static constexpr std::size_t max_drained = 64 * 1024;  // a client still sending after that gets the reset
  connection_slot slot_;  // before the stream: released after the socket is closed
  beast::tcp_stream stream_;
  std::chrono::milliseconds linger_;
  response response_;
  std::array<char, 4096> discard_{};
  std::size_t drained_ = 0;
};

}  // namespace

void refuse_connection(net::ip::tcp::socket socket, connection_slot slot, std::string message,
                       std::chrono::milliseconds linger) {
  std::make_shared<connection_refusal>(std::move(socket), std::move(slot), linger)->start(message);
}

}  // namespace cg::server
