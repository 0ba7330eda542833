#pragma once
// Writes a streamed response: the header, then the chunk_source's pieces one by one, each pulled only after the
// previous one reached the socket.

#include "http/http.hpp"

#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace cg::server {

/// One streamed response on one connection.
/// Thread-safety: start() and every step after it run on the stream's strand (the session's); the source's
/// deliveries are posted back onto it.
class chunked_response_writer : public std::enable_shared_from_this<chunked_response_writer> {
 public:
  /// Called once, on the strand, when the response is over: `ec` set when the client went away or the producer
  /// failed (the connection must then be closed); `bytes` written in all; `keep_alive` whether the connection may
  /// serve another request.
  using done_handler = std::function<void(boost::beast::error_code ec, std::size_t bytes, bool keep_alive)>;

  /// `header` is sent as given plus the framing: `Transfer-Encoding: chunked` for HTTP/1.1; for HTTP/1.0, which has
  /// no chunks, the body runs until the connection closes. `head_only`: send the header and stop (HEAD).
  chunked_response_writer(boost::beast::tcp_stream& stream, http::response<http::empty_body> header,
                          std::shared_ptr<chunk_source> source, bool head_only,
                          std::chrono::milliseconds write_timeout, done_handler done);

  void start();

 private:
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  void pull();
  void on_piece(body_piece piece);
  void on_written(boost::beast::error_code ec, std::size_t bytes);
  void finish(boost::beast::error_code ec);

  boost::beast::tcp_stream& stream_;
  http::response<http::empty_body> header_;
  http::response_serializer<http::empty_body> serializer_;
  std::shared_ptr<chunk_source> source_;
  bool chunked_;
  bool head_only_;
  std::chrono::milliseconds write_timeout_;
  done_handler done_;
  std::string piece_;  // the piece being written: it must outlive its write
  bool last_ = false;
  std::size_t bytes_ = 0;
};

}  // namespace cg::server
