#pragma once
// Private to cg_ingest: the decimal text of numbers as the client wrote them, for money that must not go through a
// double (Boost.JSON 1.81's DOM keeps only the double).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cg::ingest::detail {

/// (key, number text) for every member of the top-level object of `body` whose key is one of `keys` and whose value
/// is a number, in body order (a repeated key appears each time; the DOM keeps the last, so callers take the last).
/// Empty when `body` is not JSON or not an object. Parses the text again without building a DOM, so call it only
/// when a double was found.
std::vector<std::pair<std::string, std::string>> top_level_number_texts(std::string_view body,
                                                                        std::initializer_list<std::string_view> keys);

}  // namespace cg::ingest::detail
