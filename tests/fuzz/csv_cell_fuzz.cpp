// A CSV text cell from any client text: read back per RFC 4180 it is the text itself (or the text behind one `'`),
// it never ends the row or the cell early, and no spreadsheet would take it for a formula.
#include "fuzz_support.hpp"

#include "routes/csv_cell.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

/// Reads one RFC 4180 field that must span the whole of `cell`; nullopt when it does not.
std::optional<std::string> read_cell(std::string_view cell) {
  if (cell.empty() || cell.front() != '"') {
    if (cell.find_first_of("\",\r\n") != std::string_view::npos) return std::nullopt;
    return std::string(cell);
  }
  std::string out;
  std::size_t i = 1;
  for (;;) {
    if (i >= cell.size()) return std::nullopt;  // no closing quote
    if (cell[i] == '"') {
      if (i + 1 < cell.size() && cell[i + 1] == '"') {
        out += '"';
        i += 2;
        continue;
      }
      return i + 1 == cell.size() ? std::optional(out) : std::nullopt;  // the closing quote ends the cell
    }
    out += cell[i++];
  }
}

bool looks_like_formula(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : std::string_view("=+-@\t\r\n ")) {
    if (text.front() == c) return true;
  }
  for (const std::string_view wide : {"\xEF\xBC\x9D", "\xEF\xBC\x8B", "\xEF\xBC\x8D", "\xEF\xBC\xA0"}) {
    if (text.starts_with(wide)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  std::string cell;
  cg::server::append_text_cell(cell, value);
  const auto read = read_cell(cell);
  CG_FUZZ_CHECK(read.has_value());
  if (looks_like_formula(value)) {
    CG_FUZZ_CHECK(*read == "'" + std::string(value));
  } else {
    CG_FUZZ_CHECK(*read == value);
  }
  CG_FUZZ_CHECK(!looks_like_formula(*read) || read->front() == '\'');
  return 0;
}
