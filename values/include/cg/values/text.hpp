#pragma once
/// Trimming text. Which characters count as white space differs by source (an HTTP header allows only spaces and
/// tabs around a value), so each caller names its set; the sets the product uses are here.

#include <string_view>

namespace cg::values {

/// Space and horizontal tab: HTTP's optional white space (RFC 9110) and a list's padding.
inline constexpr std::string_view blanks = " \t";
/// The white space of C's isspace in the "C" locale.
inline constexpr std::string_view ascii_whitespace = " \t\n\r\f\v";

/// `text` without the leading and trailing characters that are in `whitespace`.
constexpr std::string_view trim(std::string_view text, std::string_view whitespace = ascii_whitespace) noexcept {
  const auto first = text.find_first_not_of(whitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(whitespace) - first + 1);
}

}  // namespace cg::values
