#include "cg/values/json_value_builder.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

#include <string_view>

namespace {

namespace json = boost::json;

/// A reader that adds to one callback: it counts the keys as they go by.
class key_counter : public cg::values::json_value_builder {
 public:
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) {
    ++keys;
    return json_value_builder::on_key(s, n, ec);
  }
  std::size_t keys = 0;
};

}  // namespace

TEST_SUITE("values.json_value_builder") {

TEST_CASE("builds the value json::parse builds, and a derived reader sees the callbacks it hides") {
  constexpr std::string_view text = R"({"a":[1,-2,18446744073709551615,0.5,"s",true,null,{}],"b":{"c":"d"}})";
  json::basic_parser<key_counter> parser(json::parse_options{});
  json::error_code ec;
  parser.handler().stack().reset({});
  parser.write_some(false, text.data(), text.size(), ec);
  REQUIRE_FALSE(ec);
  CHECK(parser.handler().stack().release() == json::parse(text));
  CHECK(parser.handler().keys == 3);
}

}
