// RETENTION_MONTHS' cutoff: whole UTC months, counted back from the month holding "now".
#include "app/database_upkeep.hpp"

#include <doctest/doctest.h>

using cg::server::retention_cutoff_us;

TEST_SUITE("server.database_upkeep") {
  TEST_CASE("the cutoff is the first microsecond of the month N months before the current one") {
    constexpr std::int64_t nov_25_2026 = 1'795'595'200'000'000;  // 2026-11-25T08:26:40Z
    CHECK(retention_cutoff_us(nov_25_2026, 0) == 1'793'491'200'000'000);  // 2026-11-01
    CHECK(retention_cutoff_us(nov_25_2026, 3) == 1'785'542'400'000'000);  // 2026-08-01
    CHECK(retention_cutoff_us(nov_25_2026, 11) == 1'764'547'200'000'000); // 2025-12-01 (across a year)
    constexpr std::int64_t mar_1_2024 = 1'709'251'200'000'000;            // 2024-03-01T00:00:00Z exactly
    CHECK(retention_cutoff_us(mar_1_2024, 1) == 1'706'745'600'000'000);   // 2024-02-01
  }
}
