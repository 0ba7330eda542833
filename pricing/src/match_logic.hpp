#pragma once
/// A compiled genai-prices MatchLogic clause (internal to cg::pricing).

#include "std_regex.hpp"  // first: see the note in it

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cg::pricing::detail {

/// equals / starts_with / ends_with / contains compare lower-cased text with the lower-cased operand; regex
/// searches the text case-sensitively with the pattern as written; or / and combine clauses (empty or: false,
/// empty and: true). Callers pass text that is already trimmed and lower-cased, as the data model prescribes.
/// Thread-safety: immutable after compile(); matches() may run concurrently.
class match_logic {
 public:
  /// Compiles a clause; throws price_table_error naming `path` on an unknown operator or a bad regex.
  static match_logic compile(const boost::json::value& clause, const std::string& path);

  bool matches(std::string_view normalised_text) const;

  /// The `equals` operands reachable from the root through `or` clauses only: if the text equals one of them,
  /// the whole clause is true. Used to index exact model ids without changing first-match order.
  std::vector<std::string> sufficient_equals() const;
  /// True when the clause is nothing but `equals` combined by `or`: then it is true *only* for those values.
  bool is_equals_only() const;

 private:
  enum class op : std::uint8_t { equals, starts_with, ends_with, contains, regex, any_of, all_of };
  // Nodes in pre-order; a node's children start right after it and each child's `end` points past its subtree,
  // so the tree lives in one vector with no per-node allocation besides the operand.
  struct node {
    op kind;
    std::uint32_t end;         ///< index past this node's subtree
    std::uint32_t regex_index; ///< into regexes_ when kind == regex
    std::string operand;       ///< lower-cased, except for regex patterns
  };

  void compile_into(const boost::json::value& clause, const std::string& path);
  bool eval(std::uint32_t index, std::string_view text) const;
  void collect_equals(std::uint32_t index, std::vector<std::string>& out) const;
  bool equals_only(std::uint32_t index) const;

  std::vector<node> nodes_;
  std::vector<std::regex> regexes_;
};

/// Trims ASCII whitespace and lower-cases ASCII letters (ids in the data are ASCII; other bytes pass unchanged).
std::string normalise(std::string_view text);
void lower_ascii(std::string& text) noexcept;

}  // namespace cg::pricing::detail
