#pragma once
/// The one JSON string writer of the product: response bodies, the access log, the price CLI's answers and the
/// JSON a v0.3 import writes all go through it, so none can emit a byte sequence that is not UTF-8, whatever a
/// client put in a path, query, header or old database.

#include <string>
#include <string_view>

namespace cg::values {

/// Appends `text` as a quoted JSON string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or `\u00XX`,
/// and every byte sequence that is not well-formed UTF-8 (a stray continuation byte, a truncated sequence, an
/// overlong form, a surrogate, a code point over U+10FFFF) replaced by U+FFFD, one per maximal invalid subpart as
/// the Unicode standard recommends. Valid UTF-8 is copied unchanged.
void append_json_string(std::string& out, std::string_view text);

/// The same quoted string as a value of its own.
std::string json_string(std::string_view text);

/// True when `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace cg::values
