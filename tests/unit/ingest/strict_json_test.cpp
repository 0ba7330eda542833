// parse_strict_json, find_json_faults and format_json_path (strict_json.hpp).
#include "cg/ingest/strict_json.hpp"

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace {

using cg::ingest::format_json_path;
using cg::ingest::json_fault;
using cg::ingest::json_path;
using cg::ingest::parse_strict_json;
using cg::ingest::strict_parse_options;
using cg::ingest::strict_parse_result;

strict_parse_result parse(std::string_view text, std::size_t max_faults = 1) {
  strict_parse_options options;
  options.max_faults = max_faults;
  return parse_strict_json(text, {}, options);
}

/// The paths of the faults in `text`, dotted, joined with spaces.
std::string fault_paths(std::string_view text, std::size_t max_faults = 1) {
  const auto result = parse(text, max_faults);
  REQUIRE_FALSE(result.error);
  std::string out;
  for (const auto& fault : result.faults) {
    if (!out.empty()) out += ' ';
    out += format_json_path(fault.path);
  }
  return out;
}

}  // namespace

TEST_SUITE("ingest.strict_json") {

TEST_CASE("a document without repeats or non-finite numbers parses as Boost's own parser would") {
  for (std::string_view text : {R"({"a":1,"b":[1,2,{"a":2}],"c":{"a":{"a":3}},"d":"x\u0041"})", "[]", "{}", "42",
                                R"([{"k":1},{"k":1}])", R"({"":1," ":2})", "1e-999", R"([1.5,-0.0,1e308])"}) {
    INFO(text);
    const auto result = parse(text);
    CHECK(result.ok());
    CHECK(boost::json::serialize(result.value) == boost::json::serialize(boost::json::parse(text)));
  }
}

TEST_CASE("a repeated key is found wherever it is, named by its path") {
  CHECK(fault_paths(R"({"a":1,"a":2})") == "a");
  CHECK(fault_paths(R"({"a":{"b":1,"c":2,"b":3}})") == "a.b");
  CHECK(fault_paths(R"({"a":[{"b":1},{"c":{"d":1,"d":1}}]})") == "a[1].c.d");
  CHECK(fault_paths(R"([0,{"x":1,"x":1}])") == "[1].x");
  CHECK(fault_paths(R"({"k\u0065y":1,"key":2})") == "key");  // an escape spells the same key
  const auto result = parse(R"({"a":1,"a":2})");
  REQUIRE(result.faults.size() == 1);
  CHECK(result.faults[0].what == json_fault::kind::duplicate_key);
  CHECK(result.faults[0].message() == "a is given more than once in its object; each key may appear only once");
}

TEST_CASE("a number beyond the double range is found, named by its path") {
  CHECK(fault_paths(R"({"a":1e999})") == "a");
  CHECK(fault_paths(R"({"a":[1,2,-1e999]})") == "a[2]");
  CHECK(fault_paths("1e999").empty());
  const auto root = parse("1e999");
  REQUIRE(root.faults.size() == 1);
  CHECK(root.faults[0].what == json_fault::kind::non_finite_number);
  const auto nested = parse(R"({"cost":1e400})");
  REQUIRE(nested.faults.size() == 1);
  CHECK(nested.faults[0].message() == "cost must be a finite number (it is beyond the range of a double)");
}

TEST_CASE("NaN and Infinity are syntax errors, not faults") {
  for (std::string_view text : {"NaN", "[Infinity]", R"({"a":-Infinity})"}) {
    const auto result = parse(text);
    CHECK(result.error);
    CHECK(result.faults.empty());
  }
}

TEST_CASE("faults come in document order, one per element of the first array, up to max_faults") {
  const std::string batch = R"({"events":[{"a":1,"a":1,"b":1e999},{"c":1},{"d":[1e999,1e999]}],"x":1,"x":2})";
  CHECK(fault_paths(batch, 10) == "events[0].a events[2].d[0] x");
  CHECK(fault_paths(batch, 2) == "events[0].a events[2].d[0]");
  CHECK(fault_paths(batch, 1) == "events[0].a");
  CHECK(fault_paths(R"({"x":1,"x":2,"x":3})", 10) == "x x");  // outside arrays every repeat counts
}

TEST_CASE("syntax errors and depth are reported as errors") {
  CHECK(parse("{").error);
  CHECK(parse("{} {}").error == boost::json::error::extra_data);
  strict_parse_options shallow;
  shallow.max_depth = 2;
  CHECK(parse_strict_json("[[[1]]]", {}, shallow).error == boost::json::error::too_deep);
}

TEST_CASE("an object of many keys is checked in linear time, and its one repeat found") {
  std::string text = "{";
  for (int i = 0; i < 50'000; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += R"("k0":0})";
  CHECK(fault_paths(text) == "k0");
}

TEST_CASE("format_json_path") {
  CHECK(format_json_path({}).empty());
  CHECK(format_json_path(json_path{std::string("events"), std::size_t{3}, std::string("model")}) ==
        "events[3].model");
  CHECK(format_json_path(json_path{std::size_t{0}, std::string("a")}) == "[0].a");
  CHECK(format_json_path(json_path{std::string("events"), std::size_t{3}, std::string("model")}, 2) == "model");
}

}  // TEST_SUITE
