#include "cg/values/json_text.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using cg::values::append_json_string;
using cg::values::is_valid_utf8;

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

TEST_SUITE("values.json_text") {

TEST_CASE("escapes quotes, backslashes and control characters; copies valid UTF-8") {
  CHECK(quoted("a\"b\\c") == R"("a\"b\\c")");
  CHECK(quoted("\n\r\t") == R"("\n\r\t")");
  CHECK(quoted(std::string_view("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
  CHECK(quoted("€ 😀 é") == "\"€ 😀 é\"");
  CHECK(quoted("") == "\"\"");
}

TEST_CASE("every ill-formed sequence becomes U+FFFD, one per maximal subpart") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(quoted("/nosuch\xff") == "\"/nosuch" + fffd + "\"");
  CHECK(quoted("\xff\xfe") == "\"" + fffd + fffd + "\"");
  CHECK(quoted("\xC0\xAF") == "\"" + fffd + fffd + "\"");          // overlong: C0 is never a lead byte
  CHECK(quoted("\xED\xA0\x80") == "\"" + fffd + fffd + fffd + "\"");  // a surrogate
  CHECK(quoted("\xF4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // over U+10FFFF
  CHECK(quoted("\xE2\x82x") == "\"" + fffd + "x\"");               // truncated, then ASCII
  CHECK(quoted("\xF0\x9F\x98") == "\"" + fffd + "\"");             // truncated at the end
  CHECK(quoted("\x80") == "\"" + fffd + "\"");                     // a stray continuation byte
  for (const char* bad : {"\xff", "\xC0\xAF", "\xED\xA0\x80", "\xE2\x82x", "\x80"}) {
    CHECK_FALSE(is_valid_utf8(bad));
    CHECK(is_valid_utf8(quoted(bad)));
  }
  CHECK(is_valid_utf8("€ 😀 é"));
}

}
