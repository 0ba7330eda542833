#pragma once
/// The genai-prices unit registry: usage keys, price keys, `per`, and the dimension sets that nest them
/// (internal to cg::pricing).

#include <boost/json/value.hpp>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cg::pricing::detail {

/// The registry has 59 units; the cap keeps per-quote scratch space on the stack and ancestor sets in a bitset.
inline constexpr std::size_t max_units = 128;
/// Distinct `dimension=value` pairs across the registry (about 30 today).
inline constexpr std::size_t max_dimension_values = 128;
using dimension_set = std::bitset<max_dimension_values>;

enum class direction : std::uint8_t { none, input, output };

struct unit {
  std::string usage_key;  ///< what a caller reports: `input_tokens`, `cache_write_1h_tokens`, `web_searches`...
  std::string price_key;  ///< what the table prices: `input_mtok`, `cache_write_1h_mtok`, `web_searches_kcount`...
  std::int64_t per = 1;   ///< a price covers this many usage units
  std::vector<std::pair<std::string, std::string>> dimensions;  ///< sorted by name
  direction dir = direction::none;
  /// `requests`: its quantity is always exactly 1, whatever the caller reports.
  bool single_request = false;
};

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};
template <class Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

/// Thread-safety: immutable after from_json().
class unit_registry {
 public:
  /// Reads the `units` object of the project's format; throws price_table_error naming `path`.
  static unit_registry from_json(const boost::json::value& units, const std::string& path);

  std::size_t size() const noexcept { return units_.size(); }
  const unit& at(std::size_t index) const { return units_.at(index); }
  std::optional<std::size_t> find_usage_key(std::string_view usage_key) const;
  std::optional<std::size_t> find_price_key(std::string_view price_key) const;
  /// A is an ancestor of B when A's dimension set is a strict subset of B's (B counts a part of what A counts).
  bool is_strict_ancestor(std::size_t a, std::size_t b) const { return descendants_.at(a).test(b); }
  /// The unit's `dimension=value` pairs as a set: the join of two units is the union of their sets.
  const dimension_set& dimensions_of(std::size_t index) const { return dimension_sets_.at(index); }

 private:
  std::vector<unit> units_;
  string_map<std::size_t> by_usage_key_;
  string_map<std::size_t> by_price_key_;
  std::vector<std::bitset<max_units>> descendants_;
  std::vector<dimension_set> dimension_sets_;
};

}  // namespace cg::pricing::detail
