#include "cg/values/money_text.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string_view>

using cg::values::decimal_fault;
using cg::values::decimal_parts;
using cg::values::read_json_decimal;

namespace {

std::optional<std::int64_t> nano(std::string_view text) {
  decimal_parts parts;
  if (read_json_decimal(text, parts) != decimal_fault::none) return std::nullopt;
  return cg::values::to_nano_usd(parts);
}

decimal_fault fault(std::string_view text, std::int64_t max_exponent = INT64_MAX) {
  decimal_parts parts;
  return read_json_decimal(text, parts, max_exponent);
}

}  // namespace

TEST_SUITE("values.money_text") {

TEST_CASE("decimal text to nano-USD, exactly, rounded once half to even") {
  CHECK(nano("0") == 0);
  CHECK(nano("-0") == 0);
  CHECK(nano("1") == 1'000'000'000);
  CHECK(nano("0.0000045") == 4'500);
  CHECK(nano("4.5e-06") == 4'500);
  CHECK(nano("-3") == -3'000'000'000);
  CHECK(nano("0.0000000005") == 0);   // half: to the even 0
  CHECK(nano("0.0000000015") == 2);   // half: to the even 2
  CHECK(nano("0.00000000050001") == 1);
  CHECK(nano("1e-400") == 0);
  CHECK(nano("9223372036.854775807") == INT64_MAX);
  CHECK_FALSE(nano("9223372036.854775808"));
  CHECK_FALSE(nano("1e30"));
  CHECK(nano("0e999999999") == 0);
}

TEST_CASE("the JSON number grammar, faults named in the order they are checked") {
  CHECK(fault("") == decimal_fault::empty);
  CHECK(fault("+1") == decimal_fault::not_a_number);
  CHECK(fault(".5") == decimal_fault::not_a_number);
  CHECK(fault("01") == decimal_fault::leading_zero);
  CHECK(fault("1.") == decimal_fault::no_fraction_digits);
  CHECK(fault("1e") == decimal_fault::empty_exponent);
  CHECK(fault("1e401", 400) == decimal_fault::exponent_out_of_range);
  CHECK(fault("1e-401x", 400) == decimal_fault::exponent_out_of_range);
  CHECK(fault("1e400", 400) == decimal_fault::none);
  CHECK(fault("1 ") == decimal_fault::not_a_number);
  decimal_parts parts;
  REQUIRE(read_json_decimal("-12.50e3", parts) == decimal_fault::none);
  CHECK(parts.negative);
  CHECK(parts.integer == "12");
  CHECK(parts.fraction == "50");
  CHECK(parts.exponent == 3);
  CHECK_FALSE(parts.is_zero());
}

TEST_CASE("nano-USD back to exact decimal text") {
  CHECK(cg::values::format_usd(2250) == "0.000002250");
  CHECK(cg::values::format_usd(-5) == "-0.000000005");
  CHECK(cg::values::format_usd(INT64_MIN) == "-9223372036.854775808");
}

}
