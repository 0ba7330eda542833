#include "http/http_framing.hpp"

#include <boost/beast/core/string.hpp>

namespace cg::server {

namespace beast = boost::beast;

namespace {

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// Why a request's framing cannot be trusted, empty when it can. Checked as soon as the headers are parsed, before a
// byte of the body is read: a message whose length two parties could read differently is how requests are smuggled
// past a proxy, so it is refused and the connection closed (the bytes after it are never read as a request).
//  - RFC 9112 §6.1/§6.3: Transfer-Encoding must be exactly one `chunked`. Beast takes `identity`, `gzip`,
//    `xchunked` or `chunked, chunked` as "no body", so the body would be parsed as the next request; it also reads
//    `gzip, chunked` as chunked, a coding we would never undo. With Content-Length as well, the two disagree on
//    the length. An HTTP/1.0 message cannot be chunked at all.
//  - RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
std::string framing_problem(const request& req) {
  if (req.version() >= 11) {
    const auto hosts = req.count(http::field::host);
    if (hosts == 0) return "an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)";
    if (hosts > 1) return "more than one Host header (RFC 9112 §3.2)";
  }
  const auto codings = req.count(http::field::transfer_encoding);
  if (codings == 0) return {};
  if (req.version() < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request (RFC 9112 §6.1)";
  if (req.count(http::field::content_length) > 0)
    return "Transfer-Encoding and Content-Length together (RFC 9112 §6.1)";
  if (codings > 1 || !beast::iequals(trim_ows(req[http::field::transfer_encoding]), "chunked"))
    return "Transfer-Encoding must be exactly 'chunked' (RFC 9112 §6.1)";
  return {};
}

}  // namespace cg::server
