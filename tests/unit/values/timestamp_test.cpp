// Every public header of cg::values first, so each compiles on its own.
#include "cg/values/json_text.hpp"
#include "cg/values/json_value_builder.hpp"
#include "cg/values/money_text.hpp"
#include "cg/values/text.hpp"
#include "cg/values/time.hpp"
#include "cg/values/timestamp.hpp"

#include <doctest/doctest.h>

using cg::values::format_timestamp;
using cg::values::lenient_iso8601_timestamp;
using cg::values::parse_timestamp;
using cg::values::strict_rfc3339_timestamp;

namespace {
constexpr std::int64_t jan_15_2024_1030 = 1'705'314'600'000'000;  // 2024-01-15T10:30:00Z
}

TEST_SUITE("values.timestamp") {

TEST_CASE("RFC 3339 as the ingest API takes it (the default rules)") {
  CHECK(parse_timestamp("2024-01-15T10:30:00Z") == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15t10:30:00z") == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15 12:30:00+02:00") == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T05:00:00-0530") == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T10:30:00.1234567Z") == jan_15_2024_1030 + 123'456);
  CHECK(parse_timestamp("2024-01-15") == jan_15_2024_1030 - 37'800'000'000);
  CHECK(parse_timestamp("0000-01-01T00:00:00Z").has_value());
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00"));          // no zone
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30Z"));            // no seconds
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00+02"));       // hour-only offset
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00.1234567890Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00,5Z"));
  CHECK_FALSE(parse_timestamp("2024-02-30T10:30:00Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T24:00:00Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:60Z"));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00Zx"));
  CHECK_FALSE(parse_timestamp(""));
}

TEST_CASE("strict RFC 3339: T, upper-case Z, extended offsets, years from 0001") {
  CHECK(parse_timestamp("2024-01-15T10:30:00Z", strict_rfc3339_timestamp) == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T12:30:00+02:00", strict_rfc3339_timestamp) == jan_15_2024_1030);
  CHECK_FALSE(parse_timestamp("2024-01-15", strict_rfc3339_timestamp));
  CHECK_FALSE(parse_timestamp("2024-01-15 10:30:00Z", strict_rfc3339_timestamp));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00z", strict_rfc3339_timestamp));
  CHECK_FALSE(parse_timestamp("2024-01-15T12:30:00+0200", strict_rfc3339_timestamp));
  CHECK_FALSE(parse_timestamp("0000-01-01T00:00:00Z", strict_rfc3339_timestamp));
}

TEST_CASE("lenient ISO-8601 as Python and SQLite write it") {
  CHECK(parse_timestamp("2024-01-15 10:30:00", lenient_iso8601_timestamp) == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T10:30", lenient_iso8601_timestamp) == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T12:30+02", lenient_iso8601_timestamp) == jan_15_2024_1030);
  CHECK(parse_timestamp("2024-01-15T10:30:00,25", lenient_iso8601_timestamp) == jan_15_2024_1030 + 250'000);
  CHECK(parse_timestamp("2024-01-15T10:30:00.123456789012Z", lenient_iso8601_timestamp) ==
        jan_15_2024_1030 + 123'456);
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00.", lenient_iso8601_timestamp));
  CHECK_FALSE(parse_timestamp("2024-01-15T10:30:00+02:", lenient_iso8601_timestamp));
}

TEST_CASE("formats UTC with Z, microseconds only when there are some, and reads back") {
  CHECK(format_timestamp(jan_15_2024_1030) == "2024-01-15T10:30:00Z");
  CHECK(format_timestamp(jan_15_2024_1030 + 123'456) == "2024-01-15T10:30:00.123456Z");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_timestamp(INT64_MAX) == "9999-12-31T23:59:59.999999Z");
  CHECK(parse_timestamp(format_timestamp(-1)) == -1);
}

}
