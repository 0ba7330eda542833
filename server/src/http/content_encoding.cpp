#include "http/content_encoding.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace cg::server {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

/// Owns a z_stream set up for gzip; inflateEnd in the destructor, whatever path leaves the function.
/// Thread-safety: one per call, never shared.
class gzip_stream {
 public:
  gzip_stream() {
    // 16 + MAX_WBITS: gzip framing only (a raw zlib stream is not what Content-Encoding: gzip means).
    ok_ = inflateInit2(&z_, 16 + MAX_WBITS) == Z_OK;
  }
  ~gzip_stream() {
    if (ok_) inflateEnd(&z_);
  }
  gzip_stream(const gzip_stream&) = delete;
  gzip_stream& operator=(const gzip_stream&) = delete;

  bool ok() const noexcept { return ok_; }
  z_stream& z() noexcept { return z_; }

 private:
  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

body_encoding parse_content_encoding(std::string_view header) noexcept {
  const auto first = header.find_first_not_of(" \t");
  if (first == std::string_view::npos) return body_encoding::identity;
  header = header.substr(first, header.find_last_not_of(" \t") - first + 1);
  if (iequals(header, "identity")) return body_encoding::identity;
  if (iequals(header, "gzip") || iequals(header, "x-gzip")) return body_encoding::gzip;
  return body_encoding::unsupported;
}

inflate_result inflate_gzip(std::string_view compressed, std::size_t max_bytes) {
  inflate_result result;
  gzip_stream stream;
  if (!stream.ok() || compressed.empty()) return result;
  z_stream& z = stream.z();
  // zlib's API takes non-const input and 32-bit lengths; bodies are bounded far below 4 GiB by the session.
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());

  std::array<char, 64 * 1024> chunk{};
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    const int rc = inflate(&z, Z_NO_FLUSH);
    const std::size_t produced = chunk.size() - z.avail_out;
    if (result.body.size() + produced > max_bytes) {
      result.status = inflate_result::outcome::too_large;
      result.body.clear();
      return result;
    }
    result.body.append(chunk.data(), produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      // Another gzip member follows (RFC 1952 allows several): carry on with the same output.
      if (inflateReset(&z) != Z_OK) return {};
      continue;
    }
    // No progress: the input ended inside a member (truncated). Anything else is bad data, a bad checksum or
    // trailing garbage (Z_DATA_ERROR), or no memory.
    if (rc == Z_BUF_ERROR && produced == 0) return {};
    if (rc != Z_OK && rc != Z_BUF_ERROR) return {};
  }
  result.status = inflate_result::outcome::ok;
  return result;
}

}  // namespace cg::server
