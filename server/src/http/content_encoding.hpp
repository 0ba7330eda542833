#pragma once
// Request bodies sent with a Content-Encoding (POST /ingest/batch accepts gzip): which encodings are understood,
// and inflating gzip with a hard bound on the output, so a small compressed body cannot expand into gigabytes.

#include <cstddef>
#include <string>
#include <string_view>

namespace cg::server {

enum class body_encoding {
  identity,     ///< no Content-Encoding, or `identity`
  gzip,         ///< `gzip` (or its old alias `x-gzip`)
  unsupported,  ///< anything else, including a list of several codings: 415
};

/// Reads a Content-Encoding header value (case-insensitive, surrounding spaces ignored).
body_encoding parse_content_encoding(std::string_view header) noexcept;

/// The result of inflate_gzip: `body` is meaningful only when `status == ok`.
struct inflate_result {
  enum class outcome { ok, too_large, corrupt };
  outcome status = outcome::corrupt;
  std::string body;
};

/// Inflates a gzip body (RFC 1952; several concatenated members, as `cat a.gz b.gz` makes, are one body). Stops
/// with `too_large` as soon as the output would exceed `max_bytes`: memory and time stay bounded by the limit,
/// however well the input compresses. `corrupt`: not gzip, a bad checksum, truncated, or trailing garbage.
inflate_result inflate_gzip(std::string_view compressed, std::size_t max_bytes);

}  // namespace cg::server
