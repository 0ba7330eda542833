#pragma once
// The web dashboard's files, embedded in the binary at build time (dashboard/embed.cmake): the page, its scripts and
// style sheet, and the chart library from npm. No HTTP here: the server decides headers and encodings.

#include <cstddef>
#include <span>
#include <string_view>

namespace cg::dashboard {

/// One embedded file. Every field points into static storage: an asset lives as long as the program.
struct asset {
  std::string_view name;          ///< the name it is served under below /dashboard/ ("app.0123456789ab.js"); the
                                  ///< page itself is "index.html" and is served at /dashboard
  std::string_view content_type;  ///< "text/javascript; charset=utf-8"
  std::string_view etag;          ///< strong ETag of `body`, quoted: "\"3f...\""
  std::string_view gzip_etag;     ///< strong ETag of the gzip encoding (a different representation, another tag)
  bool immutable;                 ///< the name carries a hash of the content: the same name never changes bytes
  std::string_view body;          ///< the bytes
  std::string_view gzip_body;     ///< `body` gzip-compressed (-9) at build time; empty when that is not smaller
};

/// The page (index.html), which references every other asset by its hashed name.
const asset& page() noexcept;

/// The asset served under `name`, or nullptr. The page is found too ("index.html").
const asset* find(std::string_view name) noexcept;

/// Every embedded asset, the page first.
std::span<const asset> all() noexcept;

}  // namespace cg::dashboard
