// Request bytes as the server reads them: Beast's request parser with the session's limits (8 KiB of headers, a
// body limit), then the server's RFC 9112 framing check (http_framing.cpp). When the check accepts a request, the
// parser's idea of where the body ends is the only one the headers allow: chunked exactly when Transfer-Encoding is
// the one coding `chunked`, a Content-Length otherwise, and never both. That is what keeps a body from being read
// as the next request (smuggling).
#include "fuzz_support.hpp"

#include "http/http_framing.hpp"

#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::size_t offset = 0;
  // Up to three requests on one connection, as keep-alive would read them: a fresh parser for each.
  for (int message = 0; message < 3 && offset < size; ++message) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(64 * 1024);
    parser.eager(false);  // as the session: stop after the headers, check them, then read the body
    boost::system::error_code ec;
    bool checked = false;
    while (offset < size && !parser.is_done()) {
      const auto used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
      offset += used;
      if (ec == http::error::need_more) return 0;  // the connection would wait for more bytes
      if (ec) return 0;                             // a 400/413/431 and the connection closed
      if (parser.is_header_done() && !checked) {
        checked = true;
        const auto& req = parser.get();
        if (!cg::server::framing_problem(req).empty()) return 0;  // refused and closed: nothing more is read
        const bool chunked_header = req.count(http::field::transfer_encoding) == 1;
        const bool length_header = req.count(http::field::content_length) > 0;
        CG_FUZZ_CHECK(!(chunked_header && length_header));
        CG_FUZZ_CHECK(parser.chunked() == chunked_header);
        if (!chunked_header && length_header) CG_FUZZ_CHECK(parser.content_length().has_value());
        if (req.version() >= 11) CG_FUZZ_CHECK(req.count(http::field::host) == 1);
        parser.eager(true);
      }
      if (used == 0 && !parser.is_done()) return 0;
    }
    if (!parser.is_done()) return 0;
  }
  return 0;
}
