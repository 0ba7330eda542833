#include "exact_json.hpp"

#include "cg/values/json_value_builder.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <charconv>

namespace cg::pricing::detail {
namespace {

namespace json = boost::json;

/// Builds a json::value exactly as Boost's own parser does, except that doubles come from the number's text.
class exact_value_builder : public values::json_value_builder {
 public:
  explicit exact_value_builder(json::storage_ptr storage) : json_value_builder(std::move(storage)) {}

  void reset(json::storage_ptr storage) { stack().reset(std::move(storage)); }
  json::value release() { return stack().release(); }

  // A number split across input buffers arrives in parts; the parser is always given the whole text, so this
  // only happens for callers that stream, and the parts are collected to be safe.
  bool on_number_part(json::string_view s, json::error_code&) {
    number_prefix_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view tail, json::error_code& ec) {
    number_prefix_.clear();
    return json_value_builder::on_int64(i, tail, ec);
  }
  bool on_uint64(std::uint64_t u, json::string_view tail, json::error_code& ec) {
    number_prefix_.clear();
    return json_value_builder::on_uint64(u, tail, ec);
  }
  bool on_double(double, json::string_view tail, json::error_code& ec) {
    std::string_view text{tail.data(), tail.size()};
    if (!number_prefix_.empty()) {
      number_prefix_.append(tail.data(), tail.size());
      text = number_prefix_;
    }
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    number_prefix_.clear();
    if (error != std::errc{} || end != text.data() + text.size()) {
      // Out of double range (1e400, or 1e-400 underflowing): a price or a count like that is not meant.
      ec = json::error::exponent_overflow;
      return false;
    }
    return json_value_builder::on_double(value, tail, ec);
  }

 private:
  std::string number_prefix_;
};

}  // namespace

struct exact_json_parser::state {
  json::basic_parser<exact_value_builder> parser{json::parse_options{}, json::storage_ptr{}};
};

exact_json_parser::exact_json_parser() : state_(std::make_unique<state>()) {}

exact_json_parser::~exact_json_parser() = default;

boost::json::value exact_json_parser::parse(std::string_view text, boost::json::storage_ptr storage,
                                            std::error_code& ec) {
  auto& parser = state_->parser;
  parser.reset();
  parser.handler().reset(std::move(storage));
  json::error_code jec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), jec);
  if (!jec && used < text.size()) jec = json::error::extra_data;
  if (jec) {
    ec = jec;
    parser.handler().reset({});  // drop a half-built document
    return nullptr;
  }
  ec.clear();
  return parser.handler().release();
}

boost::json::value parse_json_exact(std::string_view text, std::error_code& ec) {
  exact_json_parser parser;
  return parser.parse(text, {}, ec);
}

}  // namespace cg::pricing::detail
