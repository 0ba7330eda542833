#include "cg/values/text.hpp"

#include <doctest/doctest.h>

using cg::values::trim;

TEST_SUITE("values.text") {

TEST_CASE("trims the named white space at both ends only") {
  CHECK(trim(" \t\r\n a b \f\v") == "a b");
  CHECK(trim("   ") == "");
  CHECK(trim("") == "");
  CHECK(trim("\r a \n", cg::values::blanks) == "\r a \n");
  CHECK(trim(" \ta\t ", cg::values::blanks) == "a");
  static_assert(trim("  x  ") == "x");
}

}
