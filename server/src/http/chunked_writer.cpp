#include "http/chunked_writer.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/write.hpp>

namespace cg::server {

namespace beast = boost::beast;
namespace net = boost::asio;

chunked_response_writer::chunked_response_writer(beast::tcp_stream& stream, http::response<http::empty_body> header,
                                                 std::shared_ptr<chunk_source> source, bool head_only,
                                                 std::chrono::milliseconds write_timeout, done_handler done)
    : stream_(stream),
      header_(std::move(header)),
      serializer_(header_),
      source_(std::move(source)),
      chunked_(header_.version() >= 11),
      head_only_(head_only),
      write_timeout_(write_timeout),
      done_(std::move(done)) {
  header_.erase(http::field::content_length);
  if (chunked_) {
    header_.chunked(true);
  } else {
    header_.keep_alive(false);  // HTTP/1.0: closing the connection is what ends the body
  }
}

void chunked_response_writer::start() {
  stream_.expires_after(write_timeout_);
  http::async_write_header(stream_, serializer_,
                           beast::bind_front_handler(&chunked_response_writer::on_header, shared_from_this()));
}

void chunked_response_writer::on_header(beast::error_code ec, std::size_t bytes) {
  bytes_ += bytes;
  if (ec || head_only_) return finish(ec);
  pull();
}

void chunked_response_writer::pull() {
  // While the producer works, the client owes us nothing: no deadline until the next write.
  stream_.expires_never();
  source_->pull([self = shared_from_this()](body_piece piece) {
    net::post(self->stream_.get_executor(),
              [self, piece = std::move(piece)]() mutable { self->on_piece(std::move(piece)); });
  });
}

void chunked_response_writer::on_piece(body_piece piece) {
  if (piece.failed) return finish(make_error_code(boost::system::errc::io_error));
  last_ = piece.last;
  piece_ = std::move(piece.data);
  if (piece_.empty()) {
    if (!last_) return pull();
    if (!chunked_) return finish({});
    stream_.expires_after(write_timeout_);
    return net::async_write(stream_, http::make_chunk_last(),
                            [self = shared_from_this()](beast::error_code wec, std::size_t n) {
                              self->bytes_ += n;
                              self->finish(wec);
                            });
  }
  stream_.expires_after(write_timeout_);
  if (chunked_) {
    net::async_write(stream_, http::make_chunk(net::buffer(piece_)),
                     beast::bind_front_handler(&chunked_response_writer::on_written, shared_from_this()));
  } else {
    net::async_write(stream_, net::buffer(piece_),
                     beast::bind_front_handler(&chunked_response_writer::on_written, shared_from_this()));
  }
}

void chunked_response_writer::on_written(beast::error_code ec, std::size_t bytes) {
  bytes_ += bytes;
  if (ec) return finish(ec);
  std::string().swap(piece_);  // give the piece's memory back before asking for the next one
  if (last_) return on_piece(body_piece{{}, true, false});
  pull();
}

void chunked_response_writer::finish(beast::error_code ec) {
  if (ec || head_only_) source_->cancel();
  source_.reset();
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(ec, bytes_, !ec && header_.keep_alive());
}

}  // namespace cg::server
