#pragma once
/// JSON parsing whose numbers are the values their text says (internal to cg::pricing).
///
/// Boost.JSON 1.81's own parser turns a decimal into a double with a fast algorithm that is off by one unit in
/// the last place for a sizeable share of inputs (`57.431000000000004` comes back as 57.430999999999997). This
/// parser hands every number's source text to std::from_chars instead, which rounds correctly, so the shortest
/// round-trip text of the double (std::to_chars) is again the source text for anything a shortest-round-trip
/// writer produced (Python's json, JavaScript's JSON.stringify: that is, the genai-prices feed).

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace cg::pricing::detail {

/// A reusable parser (its scratch stack survives between documents, which matters for one small document per
/// input line). Thread-safety: none; use one per thread.
class exact_json_parser {
 public:
  exact_json_parser();
  ~exact_json_parser();
  exact_json_parser(const exact_json_parser&) = delete;
  exact_json_parser& operator=(const exact_json_parser&) = delete;

  /// Parses one complete JSON text into `storage`. Integers that fit stay int64 (or uint64); every other number
  /// is the double nearest to its text. On failure returns null and sets `ec`.
  boost::json::value parse(std::string_view text, boost::json::storage_ptr storage, std::error_code& ec);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

/// One-off parse with a fresh parser, into the default memory resource.
boost::json::value parse_json_exact(std::string_view text, std::error_code& ec);

}  // namespace cg::pricing::detail
