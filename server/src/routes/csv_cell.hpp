#pragma once
// One CSV text cell, RFC 4180 quoting and formula neutralising: the part of the export that sees client text. No
// Beast here, so the fuzz target (tests/fuzz/csv_cell_fuzz.cpp) links just this.

#include <optional>
#include <string>
#include <string_view>

namespace cg::server {

/// Appends one text cell (no separator). A cell that a spreadsheet would run as a formula — one starting with `=`,
/// `+`, `-`, `@`, a tab, a carriage return, a line feed, a space, or the full-width `＝ ＋ － ＠` (U+FF1D, U+FF0B,
/// U+FF0D, U+FF20) — gets a leading `'` (OWASP's advice), so it shows as the text it is.
/// Then, per RFC 4180, a cell holding `"`, `,`, CR or LF is quoted with its quotes doubled. Null is an empty cell.
void append_text_cell(std::string& out, std::string_view value);
void append_text_cell(std::string& out, const std::string& value);
void append_text_cell(std::string& out, const std::optional<std::string>& value);

}  // namespace cg::server
