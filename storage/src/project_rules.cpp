#include "cg/storage/project_rules.hpp"

#include "cg/values/text.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace cg::storage {

namespace {

std::string_view trim(std::string_view s) { return values::trim(s, values::blanks); }

// The same limit as an attribution field an event may carry.
constexpr std::size_t project_max = 256;

}  // namespace

std::vector<project_rule> parse_project_rules(std::string_view text) {
  std::vector<project_rule> rules;
  if (trim(text).empty()) return rules;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = text.find(',', pos);
    const auto end = comma == std::string_view::npos ? text.size() : comma;
    const auto entry = trim(text.substr(pos, end - pos));
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument(fmt::format("PROJECT_PATTERNS entry '{}' is not glob=project", entry));
    const auto glob = trim(entry.substr(0, eq));
    const auto project = trim(entry.substr(eq + 1));
    if (glob.empty() || project.empty() || project.find('=') != std::string_view::npos)
      throw std::invalid_argument(fmt::format("PROJECT_PATTERNS entry '{}' is not glob=project", entry));
    if (project.size() > project_max)
      throw std::invalid_argument(
          fmt::format("PROJECT_PATTERNS entry '{}': a project name has at most {} bytes", entry, project_max));
    rules.push_back({std::string(glob), std::string(project)});
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return rules;
}

}  // namespace cg::storage
