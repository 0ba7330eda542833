#include "cg/values/time.hpp"

#include <doctest/doctest.h>

#include <chrono>

TEST_SUITE("values.time") {

TEST_CASE("now_us is the system clock in unix microseconds") {
  using namespace std::chrono;
  const auto before = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  const auto now = cg::values::now_us();
  const auto after = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  CHECK(before <= now);
  CHECK(now <= after);
  CHECK(cg::values::us_per_day == 86'400 * cg::values::us_per_second);
}

}
