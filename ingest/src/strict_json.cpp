// parse_strict_json and find_json_faults of cg/ingest/strict_json.hpp.
//
// Two readers over Boost.JSON's basic_parser. The fast one builds the document exactly as json::parser does (a
// value_stack) and only counts: the keys the parser reported, and whether a double came out infinite. Boost's
// object keeps the last of repeated keys, so a document with a repeated key holds fewer members than keys were
// read; comparing the two after the parse tells whether anything was repeated without remembering a single key.
// Only then does the slow reader run, which remembers every key of every open object and the path to each value,
// to say where. bench/json_strict_bench.cpp compares this with checking every key as it arrives (slower on a real
// event body) and with the unchecked parse.

#include "cg/ingest/strict_json.hpp"

#include "cg/values/json_value_builder.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <fmt/format.h>

#include <cmath>
#include <unordered_set>

namespace cg::ingest {

namespace json = boost::json;

namespace {

/// The fast reader: Boost's own DOM builder plus two counters. Not reusable across documents.
class counting_value_builder : public values::json_value_builder {
 public:
  counting_value_builder(unsigned char* temp, std::size_t temp_size) : json_value_builder({}, temp, temp_size) {}

  std::size_t keys_read() const noexcept { return keys_; }
  bool saw_non_finite() const noexcept { return non_finite_; }

  bool on_object_end(std::size_t n, json::error_code& ec) {
    keys_ += n;
    return json_value_builder::on_object_end(n, ec);
  }
  bool on_double(double d, json::string_view text, json::error_code& ec) {
    // Boost turns a literal beyond the double range into ±infinity; JSON itself has no NaN or Infinity.
    non_finite_ |= !std::isfinite(d);
    return json_value_builder::on_double(d, text, ec);
  }

 private:
  std::size_t keys_ = 0;
  bool non_finite_ = false;
};

/// Members of every object in `v`. Recursion is bounded by the parser's max_depth.
std::size_t object_members(const json::value& v) noexcept {
  std::size_t n = 0;
  if (const json::object* obj = v.if_object()) {
    n += obj->size();
    for (const auto& member : *obj) {
      const json::value& child = member.value();
      if (child.is_structured()) n += object_members(child);
    }
  } else if (const json::array* arr = v.if_array()) {
    for (const json::value& child : *arr)
      if (child.is_structured()) n += object_members(child);
  }
  return n;
}

/// The slow reader: builds nothing, remembers the keys of each open object and the path to the current value, and
/// records faults in document order.
class fault_finder {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  fault_finder(std::vector<json_fault>& out, std::size_t max_faults) : out_(out), max_faults_(max_faults) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    frames_.push_back({true, {}});
    path_.emplace_back(std::string());
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    close_container();
    return true;
  }
  bool on_array_begin(json::error_code&) {
    frames_.push_back({false, {}});
    path_.emplace_back(std::size_t{0});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    close_container();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    const bool repeated = !frames_.back().keys.insert(key_).second;
    path_.back() = std::move(key_);
    key_.clear();
    if (repeated) record(json_fault::kind::duplicate_key);
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return value_done(); }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return value_done(); }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return value_done(); }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (!std::isfinite(d)) record(json_fault::kind::non_finite_number);
    return value_done();
  }
  bool on_bool(bool, json::error_code&) { return value_done(); }
  bool on_null(json::error_code&) { return value_done(); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct frame {
    bool is_object;
    std::unordered_set<std::string> keys;  // a hash set: a hostile body of 100,000 keys stays linear
  };

  /// A value ended: in an array, the path moves on to the next index.
  bool value_done() {
    if (!frames_.empty() && !frames_.back().is_object) ++std::get<std::size_t>(path_.back());
    return true;
  }

  void close_container() {
    frames_.pop_back();
    path_.pop_back();
    value_done();
  }

  /// The path up to and including the first array index: one event of a batch.
  static std::size_t group_length(const json_path& path) {
    for (std::size_t i = 0; i < path.size(); ++i)
      if (std::holds_alternative<std::size_t>(path[i])) return i + 1;
    return path.size();
  }

  static bool same_group(const json_path& a, const json_path& b) {
    const std::size_t n = group_length(a);
    if (n == a.size() || n != group_length(b)) return false;  // outside any array: every fault counts
    return std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin());
  }

  void record(json_fault::kind what) {
    if (out_.size() >= max_faults_) return;
    if (!out_.empty() && same_group(out_.back().path, path_)) return;
    out_.push_back({what, path_});
  }

  std::vector<json_fault>& out_;
  std::size_t max_faults_;
  std::vector<frame> frames_;
  json_path path_;  // one step per open container: the key or index of the value being read in it
  std::string key_;
};

json::parse_options parse_options_for(const strict_parse_options& options) {
  json::parse_options parse;
  parse.max_depth = options.max_depth;
  return parse;
}

}  // namespace

std::string format_json_path(const json_path& path, std::size_t first) {
  std::string out;
  for (std::size_t i = first; i < path.size(); ++i) {
    if (const auto* key = std::get_if<std::string>(&path[i])) {
      if (!out.empty()) out += '.';
      out += *key;
    } else {
      out += fmt::format("[{}]", std::get<std::size_t>(path[i]));
    }
  }
  return out;
}

std::string json_fault::message() const {
  const std::string where = format_json_path(path);
  if (what == kind::duplicate_key) {
    if (where.empty()) return "a key is given more than once in an object; each key may appear only once";
    return fmt::format("{} is given more than once in its object; each key may appear only once", where);
  }
  if (where.empty()) return "the body is a number beyond the range of a double (not finite)";
  return fmt::format("{} must be a finite number (it is beyond the range of a double)", where);
}

std::vector<json_fault> find_json_faults(std::string_view text, const strict_parse_options& options) {
  std::vector<json_fault> faults;
  json::basic_parser<fault_finder> parser(parse_options_for(options), faults, options.max_faults);
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return faults;
}

strict_parse_result parse_strict_json(std::string_view text, json::storage_ptr storage,
                                      const strict_parse_options& options, unsigned char* temp,
                                      std::size_t temp_size) {
  json::basic_parser<counting_value_builder> parser(parse_options_for(options), temp, temp_size);
  auto& builder = parser.handler();
  builder.stack().reset(std::move(storage));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (ec) return {nullptr, ec, {}};
  // Constructed, never assigned, into the result: assigning a json::value to one of another memory resource
  // copies it element by element (measured: twice the cost of the parse itself).
  strict_parse_result result{builder.stack().release(), {}, {}};
  if (builder.saw_non_finite() || object_members(result.value) != builder.keys_read()) {
    result.faults = find_json_faults(text, options);
    // The counts differ only when a key repeats, which the slow reader cannot miss; should it ever disagree, the
    // document is still refused rather than read with a value silently dropped.
    if (result.faults.empty()) result.faults.push_back({json_fault::kind::duplicate_key, {}});
  }
  return result;
}

}  // namespace cg::ingest
