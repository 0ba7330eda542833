// top_level_number_texts of number_text.hpp: a handler for Boost.JSON's SAX parser that remembers the text of the
// numbers it is asked for and ignores everything else.

#include "number_text.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <limits>

namespace cg::ingest::detail {

namespace {

namespace json = boost::json;

class number_text_handler {
 public:
  static constexpr std::size_t max_object_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_array_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_key_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_string_size = std::numeric_limits<std::size_t>::max();

  explicit number_text_handler(std::initializer_list<std::string_view> keys) : keys_(keys) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return enter(); }
  bool on_object_end(std::size_t, json::error_code&) { return leave(); }
  bool on_array_begin(json::error_code& ec) {
    if (depth_ == 0) return fail(ec);  // the top level must be an object
    return enter();
  }
  bool on_array_end(std::size_t, json::error_code&) { return leave(); }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    if (depth_ == 1) key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view part, std::size_t, json::error_code&) {
    if (depth_ == 1) {
      key_.append(part.data(), part.size());
      wanted_ = std::ranges::find(keys_, std::string_view(key_)) != keys_.end();
      if (!wanted_) key_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return value_done(); }
  bool on_number_part(json::string_view part, json::error_code&) {
    if (capturing()) number_.append(part.data(), part.size());
    return true;
  }
  bool on_int64(std::int64_t, json::string_view last, json::error_code&) { return number_done(last); }
  bool on_uint64(std::uint64_t, json::string_view last, json::error_code&) { return number_done(last); }
  bool on_double(double, json::string_view last, json::error_code&) { return number_done(last); }
  bool on_bool(bool, json::error_code&) { return value_done(); }
  bool on_null(json::error_code&) { return value_done(); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  std::vector<std::pair<std::string, std::string>> found;

 private:
  bool capturing() const noexcept { return depth_ == 1 && wanted_; }
  bool enter() {
    if (depth_ == 1) value_done();  // an object or array as the value of a key: not a number
    ++depth_;
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  bool value_done() {
    if (depth_ == 1) {
      wanted_ = false;
      key_.clear();
      number_.clear();
    }
    return true;
  }
  bool number_done(json::string_view last) {
    if (capturing()) {
      number_.append(last.data(), last.size());
      found.emplace_back(std::move(key_), std::move(number_));
    }
    return value_done();
  }
  static bool fail(json::error_code& ec) {
    ec = json::error::syntax;
    return false;
  }

  std::initializer_list<std::string_view> keys_;
  std::size_t depth_ = 0;
  bool wanted_ = false;
  std::string key_;
  std::string number_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> top_level_number_texts(std::string_view body,
                                                                        std::initializer_list<std::string_view> keys) {
  json::parse_options options;
  options.max_depth = 64;
  json::basic_parser<number_text_handler> parser(options, keys);
  json::error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  if (ec) return {};
  return std::move(parser.handler().found);
}

}  // namespace cg::ingest::detail
