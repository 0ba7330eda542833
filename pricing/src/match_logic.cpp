#include "match_logic.hpp"

#include "cg/pricing/price_table.hpp"
#include "cg/values/text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cg::pricing::detail {

void lower_ascii(std::string& text) noexcept {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::string normalise(std::string_view text) {
  std::string out{values::trim(text)};
  lower_ascii(out);
  return out;
}

match_logic match_logic::compile(const boost::json::value& clause, const std::string& path) {
  match_logic logic;
  logic.compile_into(clause, path);
  return logic;
}

void match_logic::compile_into(const boost::json::value& clause, const std::string& path) {
  const auto* object = clause.if_object();
  if (object == nullptr || object->size() != 1) {
    throw price_table_error(fmt::format("{}: a match clause must be an object with exactly one operator", path));
  }
  const auto& [key, operand] = *object->begin();
  const std::string_view name{key};
  const std::string operand_path = fmt::format("{}.{}", path, name);

  static constexpr std::pair<std::string_view, op> string_ops[] = {
      {"equals", op::equals}, {"starts_with", op::starts_with}, {"ends_with", op::ends_with},
      {"contains", op::contains}, {"regex", op::regex}};
  for (const auto& [op_name, kind] : string_ops) {
    if (name != op_name) continue;
    const auto* text = operand.if_string();
    if (text == nullptr) throw price_table_error(fmt::format("{}: operand must be a string", operand_path));
    node n{kind, 0, 0, std::string{std::string_view{*text}}};
    if (kind == op::regex) {
      try {
        // ECMAScript is the grammar the data's patterns are written for; compiled once here, never per lookup.
        regexes_.emplace_back(n.operand, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error& error) {
        throw price_table_error(
            fmt::format("{}: invalid regular expression '{}': {}", operand_path, n.operand, error.what()));
      }
      n.regex_index = static_cast<std::uint32_t>(regexes_.size() - 1);
    } else {
      // Operands are compared as written apart from case (no trimming: a space in an operand would be data).
      lower_ascii(n.operand);
    }
    n.end = static_cast<std::uint32_t>(nodes_.size() + 1);
    nodes_.push_back(std::move(n));
    return;
  }

  if (name == "or" || name == "and") {
    const auto* clauses = operand.if_array();
    if (clauses == nullptr) {
      throw price_table_error(fmt::format("{}: operand must be an array of match clauses", operand_path));
    }
    const auto self = nodes_.size();
    nodes_.push_back(node{name == "or" ? op::any_of : op::all_of, 0, 0, {}});
    for (std::size_t i = 0; i < clauses->size(); ++i) {
      compile_into((*clauses)[i], fmt::format("{}[{}]", operand_path, i));
    }
    nodes_[self].end = static_cast<std::uint32_t>(nodes_.size());
    return;
  }
  throw price_table_error(fmt::format("{}: unknown match operator '{}'", path, name));
}

bool match_logic::matches(std::string_view normalised_text) const {
  return !nodes_.empty() && eval(0, normalised_text);
}

bool match_logic::eval(std::uint32_t index, std::string_view text) const {
  const node& n = nodes_[index];
  switch (n.kind) {
    case op::equals:
      return text == n.operand;
    case op::starts_with:
      return text.starts_with(n.operand);
    case op::ends_with:
      return text.ends_with(n.operand);
    case op::contains:
      return text.find(n.operand) != std::string_view::npos;
    case op::regex:
      return std::regex_search(text.begin(), text.end(), regexes_[n.regex_index]);
    case op::any_of:
      for (auto child = index + 1; child < n.end; child = nodes_[child].end) {
        if (eval(child, text)) return true;
      }
      return false;
    case op::all_of:
      for (auto child = index + 1; child < n.end; child = nodes_[child].end) {
        if (!eval(child, text)) return false;
      }
      return true;
  }
  return false;
}

std::vector<std::string> match_logic::sufficient_equals() const {
  std::vector<std::string> out;
  if (!nodes_.empty()) collect_equals(0, out);
  return out;
}

void match_logic::collect_equals(std::uint32_t index, std::vector<std::string>& out) const {
  const node& n = nodes_[index];
  if (n.kind == op::equals) {
    out.push_back(n.operand);
  } else if (n.kind == op::any_of) {
    for (auto child = index + 1; child < n.end; child = nodes_[child].end) collect_equals(child, out);
  }
}

bool match_logic::is_equals_only() const { return !nodes_.empty() && equals_only(0); }

bool match_logic::equals_only(std::uint32_t index) const {
  const node& n = nodes_[index];
  if (n.kind == op::equals) return true;
  if (n.kind != op::any_of) return false;
  for (auto child = index + 1; child < n.end; child = nodes_[child].end) {
    if (!equals_only(child)) return false;
  }
  return true;
}

}  // namespace cg::pricing::detail
