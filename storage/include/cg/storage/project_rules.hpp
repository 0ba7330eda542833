#pragma once
/// PROJECT_PATTERNS: which project an event belongs to when the event itself names none.

#include <string>
#include <string_view>
#include <vector>

namespace cg::storage {

/// One `glob=project` entry. Glob syntax is SQLite's GLOB: `*` any run of characters, `?` one character, `[...]` a
/// set; case-sensitive. Rules are applied when reading (reports, filters, rows), never written into the events.
struct project_rule {
  std::string glob;
  std::string project;
};

/// Parses `billing-*=billing,*-prod=prod` (entries separated by commas, spaces around them ignored; an empty text
/// is no rules). A glob cannot contain `,` or `=`. Throws std::invalid_argument naming the bad entry.
std::vector<project_rule> parse_project_rules(std::string_view text);

}  // namespace cg::storage
