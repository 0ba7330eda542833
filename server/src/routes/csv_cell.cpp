#include "routes/csv_cell.hpp"

namespace cg::server {

namespace {

// Spreadsheets skip leading whitespace before a formula and accept the full-width forms of its signs (Excel reads
// U+FF1D "＝1+1" as "=1+1" under East Asian input settings), so those starts are neutralised too.
bool starts_formula(std::string_view value) {
  if (value.empty()) return false;
  const char c = value.front();
  if (c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r' || c == '\n' || c == ' ') return true;
  // U+FF1D ＝, U+FF0B ＋, U+FF0D －, U+FF20 ＠ in UTF-8: EF BC 9D, EF BC 8B, EF BC 8D, EF BC A0.
  for (const std::string_view full_width : {"\xEF\xBC\x9D", "\xEF\xBC\x8B", "\xEF\xBC\x8D", "\xEF\xBC\xA0"})
    if (value.starts_with(full_width)) return true;
  return false;
}

}  // namespace

void append_text_cell(std::string& out, std::string_view value) {
  const bool neutralise = starts_formula(value);
  const bool quote = value.find_first_of("\",\r\n") != std::string_view::npos;
  if (!quote) {
    if (neutralise) out += '\'';
    out += value;
    return;
  }
  out += '"';
  if (neutralise) out += '\'';
  for (const char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_text_cell(std::string& out, const std::string& value) { append_text_cell(out, std::string_view(value)); }

void append_text_cell(std::string& out, const std::optional<std::string>& value) {
  if (value) append_text_cell(out, *value);
}

}  // namespace cg::server
