#pragma once
// The one JSON string writer of the server: response bodies (to_json_text) and the access log both go through it,
// so neither can emit a byte sequence that is not UTF-8, whatever a client put in a path, query or header.

#include <string>
#include <string_view>

namespace cg::server {

/// Appends `text` as a quoted JSON string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or `\u00XX`,
/// and every byte sequence that is not well-formed UTF-8 (a stray continuation byte, a truncated sequence, an
/// overlong form, a surrogate, a code point over U+10FFFF) replaced by U+FFFD, one per maximal invalid subpart as
/// the Unicode standard recommends. Valid UTF-8 is copied unchanged.
void append_json_string(std::string& out, std::string_view text);

/// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace cg::server
