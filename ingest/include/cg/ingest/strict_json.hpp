#pragma once
/// Parsing request bodies as JSON that means one thing only. Boost.JSON (1.81) accepts two things RFC 8259 leaves
/// to the reader: a key repeated in one object (it keeps the last value, so `"prompt_tokens":-1,"prompt_tokens":10`
/// would slip past validation) and a number too large for a double (`1e999` becomes infinity). Both are refused
/// here, with the JSON path of where they occur, so validation can name the field.

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cg::ingest {

/// One step of a path from the document's root: an object key or an array index.
using json_path_step = std::variant<std::string, std::size_t>;
using json_path = std::vector<json_path_step>;

/// The dotted form validation errors use: `usage.prompt_tokens_details.cached_tokens`, `events[3].model`, `[0].a`
/// (a path that starts with an index); empty for the root.
std::string format_json_path(const json_path& path, std::size_t first = 0);

/// What makes a syntactically valid document ambiguous.
struct json_fault {
  enum class kind {
    duplicate_key,      ///< `path` ends with the key that appeared a second time in its object
    non_finite_number,  ///< `path` leads to a number beyond the double range (±1e999)
  };
  kind what = kind::duplicate_key;
  json_path path;

  /// "`usage.prompt_tokens` appears more than once ...": names the path, suitable for an error message.
  std::string message() const;
};

struct strict_parse_options {
  std::size_t max_depth = 64;
  /// How many faults to report at most (the first in document order). A batch asks for one per event: faults are
  /// then also thinned to the first one under each element of the first array on their path (one per event).
  std::size_t max_faults = 1;
};

/// A parsed document, or why it is refused: `error` for text that is not JSON (syntax, too deep), else `faults`
/// (non-empty: the document is ambiguous, and `value` must not be used).
struct strict_parse_result {
  boost::json::value value;
  boost::json::error_code error;
  std::vector<json_fault> faults;

  bool ok() const noexcept { return !error && faults.empty(); }
};

/// Parses `text` whole into `storage`. The fast path costs Boost's own parse plus one count per object and a
/// finiteness test per double, then one walk over the objects built (bench/json_strict_bench.cpp measures it);
/// only a document with a fault is read a second time, to say where.
/// `temp` (may be null) is scratch space for the parser's value stack, as json::parser takes it.
strict_parse_result parse_strict_json(std::string_view text, boost::json::storage_ptr storage,
                                      const strict_parse_options& options = {}, unsigned char* temp = nullptr,
                                      std::size_t temp_size = 0);

/// The second, slow read alone: every fault in `text` in document order, as parse_strict_json reports them (the
/// text is assumed to be valid JSON; reading stops at a syntax error).
std::vector<json_fault> find_json_faults(std::string_view text, const strict_parse_options& options = {});

}  // namespace cg::ingest
