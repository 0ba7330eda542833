#include "cg/storage/calendar.hpp"
#include "cg/storage/cost_report.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

// Cases name only the members they set with designated initializers; the rest are value-initialised, which GCC 12
// still reports under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace cg::storage;
using cg::storage::test::make_event;
using cg::storage::test::query_int;
using cg::storage::test::temp_dir;

namespace {

constexpr std::int64_t us_per_hour = 3'600'000'000;

std::int64_t utc(std::string_view day, int hour, int minute = 0) {
  return time_zone_ref{}.day_start(*parse_day(day)) + hour * us_per_hour + minute * 60'000'000LL;
}

time_zone_ref zone(std::string_view name) {
  auto z = time_zone_ref::find(name);
  REQUIRE(z.has_value());
  return *z;
}

struct report_fixture {
  temp_dir dir;
  database db{open_database(dir.file("cg.db"), durability::normal)};
  token_store tokens{db};
  std::int64_t alpha = tokens.create("alpha", "tok-alpha", 0).id;
  std::int64_t beta = tokens.create("beta", "tok-beta", 0).id;
  int next = 0;

  event_row event(std::int64_t token, std::int64_t ts, std::string model, std::int64_t cost) {
    auto row = make_event(token, "e" + std::to_string(next++), ts);
    row.model = std::move(model);
    row.cost_nusd = cost;
    return row;
  }
  void store(const std::vector<event_row>& rows) { event_store(db).commit_batch(rows); }
  cost_report run(cost_report_request request, std::span<const project_rule> rules = {}) {
    return run_cost_report(db, request, rules);
  }
};

std::vector<std::string> keys_of(const cost_report& r, std::size_t column) {
  std::vector<std::string> out;
  for (const auto& row : r.rows) out.push_back(row.keys[column].value_or("<null>"));
  return out;
}

}  // namespace

TEST_SUITE("storage") {

TEST_CASE("calendar: local days in Europe/Berlin around both 2025 DST changes") {
  const auto berlin = zone("Europe/Berlin");
  const auto march_30 = *parse_day("2025-03-30");
  // Spring forward: 2025-03-30 has 23 hours; it starts at 23:00 UTC the evening before (CET, +1).
  CHECK(berlin.day_start(march_30) == utc("2025-03-29", 23));
  CHECK(berlin.day_start(march_30 + 1) - berlin.day_start(march_30) == 23 * us_per_hour);
  CHECK(berlin.day_start(march_30 + 1) == utc("2025-03-30", 22));  // CEST, +2
  // Fall back: 2025-10-26 has 25 hours.
  const auto october_26 = *parse_day("2025-10-26");
  CHECK(berlin.day_start(october_26 + 1) - berlin.day_start(october_26) == 25 * us_per_hour);
  CHECK(berlin.day_start(october_26) == utc("2025-10-25", 22));
  CHECK(berlin.day_start(october_26 + 1) == utc("2025-10-26", 23));

  CHECK(berlin.day_of(utc("2025-03-29", 22, 59)) == march_30 - 1);
  CHECK(berlin.day_of(utc("2025-03-29", 23)) == march_30);
  CHECK(berlin.day_of(utc("2025-03-30", 21, 59)) == march_30);
  CHECK(berlin.day_of(utc("2025-03-30", 22)) == march_30 + 1);
  // 02:30 local happens twice on 2025-10-26 (00:30 and 01:30 UTC): both are that day.
  CHECK(berlin.day_of(utc("2025-10-26", 0, 30)) == october_26);
  CHECK(berlin.day_of(utc("2025-10-26", 1, 30)) == october_26);
  CHECK(berlin.day_of(utc("2025-10-26", 22, 59)) == october_26);
  CHECK(berlin.day_of(utc("2025-10-26", 23)) == october_26 + 1);
}

TEST_CASE("calendar: a day whose midnight does not exist starts at the transition") {
  // America/Santiago springs forward at 00:00 local (2024-09-08 00:00 -04 -> 01:00 -03).
  const auto santiago = zone("America/Santiago");
  const auto day = *parse_day("2024-09-08");
  CHECK(santiago.day_start(day) == utc("2024-09-08", 4));
  CHECK(santiago.day_of(santiago.day_start(day)) == day);
  CHECK(santiago.day_of(santiago.day_start(day) - 1) == day - 1);
}

TEST_CASE("calendar: zone names, dates, weeks and months") {
  CHECK(time_zone_ref::find("UTC")->is_utc());
  CHECK(time_zone_ref::find("Etc/UTC")->is_utc());
  CHECK(time_zone_ref::find("Asia/Kolkata").has_value());
  CHECK_FALSE(time_zone_ref::find("Mars/Olympus").has_value());
  CHECK_FALSE(time_zone_ref::find("../../etc/passwd").has_value());
  CHECK_FALSE(time_zone_ref::find("").has_value());
  CHECK_FALSE(time_zone_ref::find("Europe/Berlin\n").has_value());

  CHECK(format_day(*parse_day("2024-02-29")) == "2024-02-29");
  CHECK_FALSE(parse_day("2023-02-29").has_value());
  CHECK_FALSE(parse_day("2025-1-01").has_value());
  CHECK_FALSE(parse_day("2025-01-01T").has_value());
  CHECK_FALSE(parse_day("2025/01/01").has_value());
  CHECK(format_month(*parse_day("2025-03-30")) == "2025-03");
  CHECK(format_day(week_start(*parse_day("2025-03-30"))) == "2025-03-24");  // a Sunday: its week began Monday
  CHECK(format_day(week_start(*parse_day("2025-03-24"))) == "2025-03-24");
  CHECK(format_day(week_start(*parse_day("1970-01-01"))) == "1969-12-29");
  CHECK(format_day(month_start(*parse_day("2025-03-30"))) == "2025-03-01");
  // Kolkata is +05:30: 19:00 UTC is already the next local day.
  const auto kolkata = zone("Asia/Kolkata");
  CHECK(format_day(kolkata.day_of(utc("2025-01-01", 18, 29))) == "2025-01-01");
  CHECK(format_day(kolkata.day_of(utc("2025-01-01", 18, 30))) == "2025-01-02");
}

TEST_CASE_FIXTURE(report_fixture, "group_by day,model in Europe/Berlin puts events on their local day") {
  store({
      event(alpha, utc("2025-03-29", 22, 30), "m1", 100),  // 23:30 CET on the 29th
      event(alpha, utc("2025-03-29", 23, 30), "m1", 200),  // 00:30 CET on the 30th
      event(beta, utc("2025-03-30", 21, 30), "m2", 400),   // 23:30 CEST on the 30th
      event(beta, utc("2025-03-30", 22, 30), "m1", 800),   // 00:30 CEST on the 31st
  });
  const auto r = run({.group_by = {report_dimension::day, report_dimension::model}, .zone = zone("Europe/Berlin")});
  CHECK(keys_of(r, 0) == std::vector<std::string>{"2025-03-29", "2025-03-30", "2025-03-30", "2025-03-31"});
  CHECK(keys_of(r, 1) == std::vector<std::string>{"m1", "m1", "m2", "m1"});
  CHECK(r.rows[1].totals.cost_nusd == 200);
  CHECK(r.rows[2].totals.cost_nusd == 400);
  CHECK(r.totals.cost_nusd == 1500);
  CHECK(r.totals.requests == 4);

  // The same events in UTC fall on other days.
  const auto u = run({.group_by = {report_dimension::day}});
  CHECK(keys_of(u, 0) == std::vector<std::string>{"2025-03-29", "2025-03-30"});
  CHECK(u.rows[0].totals.cost_nusd == 300);
}

TEST_CASE_FIXTURE(report_fixture, "weeks start on Monday and months on the 1st, in local time") {
  store({
      event(alpha, utc("2025-03-23", 23, 30), "m", 1),  // Sunday 23:30 UTC = Monday 00:30 CET: week of the 24th
      event(alpha, utc("2025-03-23", 12), "m", 2),      // Sunday: week of the 17th
      event(alpha, utc("2025-03-31", 22, 30), "m", 4),  // 00:30 CEST on 1 April
  });
  const auto berlin = zone("Europe/Berlin");
  const auto weeks = run({.group_by = {report_dimension::week}, .zone = berlin});
  CHECK(keys_of(weeks, 0) == std::vector<std::string>{"2025-03-17", "2025-03-24", "2025-03-31"});
  const auto months = run({.group_by = {report_dimension::month}, .zone = berlin});
  CHECK(keys_of(months, 0) == std::vector<std::string>{"2025-03", "2025-04"});
  CHECK(months.rows[0].totals.cost_nusd == 3);
  const auto both = run({.group_by = {report_dimension::month, report_dimension::week}, .zone = berlin});
  CHECK(both.rows.size() == 3);
}

TEST_CASE_FIXTURE(report_fixture, "every dimension groups; nulls sort last; tokens carry their label") {
  auto a = event(alpha, 1'000, "m1", 10);
  a.provider = "anthropic";
  a.project = "p1";
  a.user = "u1";
  a.feature = "f1";
  a.environment = "prod";
  a.session_type = "chat";
  a.tokens.input = 7;
  a.tokens.output = 3;
  a.tokens.total = 10;
  a.tokens.cache_read = 2;
  a.tokens.cache_write = 1;
  a.tokens.reasoning = 1;
  auto b = event(beta, 2'000, "m2", 20);
  auto c = event(beta, 3'000, "m2", 40);
  store({a, b, c});
  tokens.remove(beta, 5'000);

  for (const auto d : {report_dimension::project, report_dimension::user,
                       report_dimension::feature, report_dimension::environment, report_dimension::session_type}) {
    CAPTURE(report_dimension_name(d));
    const auto r = run({.group_by = {d}});
    REQUIRE(r.rows.size() == 2);
    CHECK(r.rows[0].keys[0].has_value());
    CHECK_FALSE(r.rows[1].keys[0].has_value());  // b and c name none: one null group, last
    CHECK(r.rows[1].totals.requests == 2);
  }
  const auto by_provider = run({.group_by = {report_dimension::provider}});  // never null: '' when not named
  CHECK(keys_of(by_provider, 0) == std::vector<std::string>{"anthropic", "openai"});
  const auto by_token = run({.group_by = {report_dimension::token}});
  REQUIRE(by_token.rows.size() == 2);
  CHECK(by_token.rows[0].token_id == alpha);
  CHECK(by_token.rows[0].token_label == "alpha");
  CHECK(by_token.rows[1].token_label == "beta");  // deleted, label kept
  CHECK(by_token.rows[1].totals.cost_nusd == 60);

  const auto all = run({});
  REQUIRE(all.rows.size() == 1);
  CHECK(all.rows[0].totals == all.totals);
  CHECK(all.totals.tokens.input == 7 + 10 + 10);
  CHECK(all.totals.tokens.cache_read == 2);
  CHECK(all.totals.tokens.cache_write == 1);
  CHECK(all.totals.tokens.reasoning == 1);
  CHECK(all.totals.cost_nusd == 70);
}

TEST_CASE_FIXTURE(report_fixture, "filters apply to the report; PROJECT_PATTERNS assign projects when grouping") {
  auto a = event(alpha, 1'000, "m1", 10);
  auto b = event(beta, 2'000, "m2", 20);
  b.session_id = "nightly-3";
  auto c = event(beta, 3'000, "m2", 40);
  c.project = "own";
  store({a, b, c});
  const auto rules = parse_project_rules("al*=from-label,nightly-*=from-session");
  const auto r = run({.group_by = {report_dimension::project}}, rules);
  CHECK(keys_of(r, 0) == std::vector<std::string>{"from-label", "from-session", "own"});
  const auto filtered = run({.filter = {.project = "from-session"}, .group_by = {report_dimension::model}}, rules);
  REQUIRE(filtered.rows.size() == 1);
  CHECK(filtered.totals.cost_nusd == 20);
  CHECK(run({.filter = {.start_us = 2'000, .end_us = 3'000}}).totals.cost_nusd == 20);
}

TEST_CASE_FIXTURE(report_fixture, "totals equal the sum of the rows and the database's own sum") {
  std::vector<event_row> rows;
  for (int n = 0; n < 500; ++n)
    rows.push_back(event(n % 3 ? alpha : beta, utc("2025-10-20", 0) + n * 1'800'000'000LL, n % 2 ? "m1" : "m2",
                         1'000 + n * 37));
  store(rows);
  const auto r = run({.group_by = {report_dimension::day, report_dimension::token, report_dimension::model},
                      .zone = zone("Europe/Berlin")});
  usage_totals sum;
  for (const auto& row : r.rows) sum.add(row.totals);
  CHECK(sum == r.totals);
  CHECK(r.totals.cost_nusd == query_int(db, "SELECT sum(cost_nusd) FROM usage_events"));
  CHECK(r.totals.requests == 500);
}

TEST_CASE("usage_totals refuses to overflow") {
  usage_totals a{.cost_nusd = INT64_MAX - 1};
  CHECK_THROWS_AS(a.add({.cost_nusd = 2}), std::overflow_error);
}

TEST_CASE_FIXTURE(report_fixture, "the report scans a time range through the ts index") {
  statement explain(db, "EXPLAIN QUERY PLAN " +
                            cost_report_sql({.filter = {.start_us = 1, .end_us = 2},
                                             .group_by = {report_dimension::day, report_dimension::model}},
                                            {})
                                .text);
  explain.bind(1, std::int64_t{1}).bind(2, std::int64_t{2});
  std::string plan;
  while (explain.step()) plan += explain.column_text(3) + "\n";
  CAPTURE(plan);
  CHECK(plan.find("INDEX usage_events_ts") != std::string::npos);
  CHECK(plan.find("TEMP B-TREE") == std::string::npos);
}

}  // TEST_SUITE
