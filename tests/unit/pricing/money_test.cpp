#include "cg/pricing/money.hpp"

#include <doctest/doctest.h>

#include <limits>

TEST_SUITE("pricing.money") {

TEST_CASE("format_usd writes exact decimal text with nine decimals") {
  using cg::pricing::format_usd;
  CHECK(format_usd(0) == "0.000000000");
  CHECK(format_usd(2250) == "0.000002250");
  CHECK(format_usd(-5) == "-0.000000005");
  CHECK(format_usd(1'000'000'000) == "1.000000000");
  CHECK(format_usd(-1'000'000'000) == "-1.000000000");
  CHECK(format_usd(1'234'567'890'123) == "1234.567890123");
  CHECK(format_usd(999'999'999) == "0.999999999");
  CHECK(format_usd(std::numeric_limits<cg::pricing::nano_usd>::max()) == "9223372036.854775807");
  CHECK(format_usd(std::numeric_limits<cg::pricing::nano_usd>::min()) == "-9223372036.854775808");
}

TEST_CASE("to_double_usd is the nearest double to the exact amount") {
  using cg::pricing::to_double_usd;
  CHECK(to_double_usd(0) == 0.0);
  CHECK(to_double_usd(2250) == 0.00000225);
  CHECK(to_double_usd(-5) == -0.000000005);
  CHECK(to_double_usd(8'080'000) == 0.00808);
  CHECK(to_double_usd(1'234'567'890'123) == 1234.567890123);
  CHECK(to_double_usd(std::numeric_limits<cg::pricing::nano_usd>::max()) == 9223372036.854775807);
  CHECK(to_double_usd(std::numeric_limits<cg::pricing::nano_usd>::min()) == -9223372036.854775808);
}

}  // TEST_SUITE
