#include "cg/storage/event_query.hpp"
#include "cg/storage/project_rules.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "event_sql.hpp"
#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <set>
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

constexpr std::int64_t t0 = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z
constexpr std::int64_t us_per_hour = 3'600'000'000;

struct reader_fixture {
  temp_dir dir;
  database db{open_database(dir.file("cg.db"), durability::normal)};
  token_store tokens{db};
  std::int64_t alpha = tokens.create("billing-api", "tok-alpha", t0).id;
  std::int64_t beta = tokens.create("search-prod", "tok-beta", t0).id;

  void store(std::vector<event_row> rows) {
    event_store events(db);
    events.commit_batch(rows);
  }

  // Every line of EXPLAIN QUERY PLAN for a built query, joined.
  std::string plan(const bound_sql& query) {
    statement explain(db, "EXPLAIN QUERY PLAN " + query.text);
    query.bind_to(explain);
    std::string out;
    while (explain.step()) out += explain.column_text(3) + "\n";
    return out;
  }
};

event_row event_at(std::int64_t token, int n, std::int64_t ts) {
  auto row = make_event(token, "evt-" + std::to_string(n), ts);
  row.model = n % 2 == 0 ? "gpt-4o-mini" : "claude-3-haiku";
  return row;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("storage") {

TEST_CASE("parse_project_rules reads glob=project lists and refuses malformed entries") {
  const auto rules = parse_project_rules(" billing-*=billing , *-prod = prod ");
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].glob == "billing-*");
  CHECK(rules[0].project == "billing");
  CHECK(rules[1].glob == "*-prod");
  CHECK(rules[1].project == "prod");
  CHECK(parse_project_rules("").empty());
  CHECK(parse_project_rules("  ").empty());
  CHECK_THROWS_AS(parse_project_rules("billing-*"), std::invalid_argument);
  CHECK_THROWS_AS(parse_project_rules("=billing"), std::invalid_argument);
  CHECK_THROWS_AS(parse_project_rules("a=b,,c=d"), std::invalid_argument);
  CHECK_THROWS_AS(parse_project_rules("a=b=c"), std::invalid_argument);
  CHECK_THROWS_AS(parse_project_rules("a=" + std::string(257, 'p')), std::invalid_argument);
}

TEST_CASE("page_sql binds every value and never writes one into the SQL text") {
  event_filter f;
  f.model = "x'); DROP TABLE usage_events; --";
  f.user = "robert'--";
  f.project = "p";
  f.start_us = 17;
  f.token_id = 4242;
  const std::vector<project_rule> rules{{"evil'*", "pro'ject"}};
  const auto q = page_sql(f, rules, event_order::newest_first, event_position{99, 123456}, 500);
  CHECK_FALSE(contains(q.text, "DROP"));
  CHECK_FALSE(contains(q.text, "robert"));
  CHECK_FALSE(contains(q.text, "evil"));
  CHECK_FALSE(contains(q.text, "4242"));
  CHECK_FALSE(contains(q.text, "123456"));
  CHECK_FALSE(contains(q.text, "500"));
  CHECK(std::count(q.text.begin(), q.text.end(), '?') == static_cast<long>(q.params.size()));
  CHECK(std::find(q.params.begin(), q.params.end(), bound_sql::value{std::string("robert'--")}) != q.params.end());
}

TEST_CASE_FIXTURE(reader_fixture, "pages come out in (ts, id) order both ways, without duplicates or gaps") {
  // Many events share a timestamp: the id breaks the ties, so a page boundary inside a tie loses nothing.
  std::vector<event_row> rows;
  for (int n = 0; n < 257; ++n) rows.push_back(event_at(n % 3 == 0 ? alpha : beta, n, t0 + (n / 7) * us_per_hour));
  store(rows);
  event_reader reader(db);

  for (const auto order : {event_order::newest_first, event_order::oldest_first}) {
    CAPTURE(static_cast<int>(order));
    std::vector<stored_event> all;
    std::optional<event_position> after;
    for (;;) {
      auto page = reader.page({}, order, after, 10);
      if (page.empty()) break;
      after = event_position{page.back().ts_us, page.back().id};
      all.insert(all.end(), page.begin(), page.end());
    }
    REQUIRE(all.size() == 257);
    std::set<std::int64_t> ids;
    for (const auto& e : all) ids.insert(e.id);
    CHECK(ids.size() == 257);
    for (std::size_t i = 1; i < all.size(); ++i) {
      const auto a = std::pair{all[i - 1].ts_us, all[i - 1].id};
      const auto b = std::pair{all[i].ts_us, all[i].id};
      if (order == event_order::newest_first)
        CHECK(a > b);
      else
        CHECK(a < b);
    }
  }
}

TEST_CASE_FIXTURE(reader_fixture, "every filter narrows the rows; rows carry every field and the token label") {
  auto a = event_at(alpha, 1, t0);
  a.provider = "openai";
  a.user = "u-1";
  a.session_id = "s-1";
  a.session_type = "chat";
  a.project = "own";
  a.feature = "summary";
  a.environment = "prod";
  a.meta = R"({"k":1})";
  a.tokens.cache_read = 3;
  auto b = event_at(beta, 2, t0 + us_per_hour);
  b.provider = "anthropic";
  b.user = "u-2";
  b.session_id = "s-2";
  b.session_type = "agent";
  b.feature = "search";
  b.environment = "dev";
  store({a, b});
  event_reader reader(db);
  const auto only = [&](event_filter f) {
    std::vector<std::int64_t> ids;
    for (const auto& e : reader.page(f, event_order::oldest_first, std::nullopt, 100)) ids.push_back(e.ts_us);
    return ids;
  };
  const std::vector<std::int64_t> first{t0}, second{t0 + us_per_hour}, both{t0, t0 + us_per_hour}, none{};

  CHECK(only({}) == both);
  CHECK(only({.start_us = t0 + 1}) == second);
  CHECK(only({.end_us = t0 + 1}) == first);
  CHECK(only({.token_id = beta}) == second);
  CHECK(only({.model = "claude-3-haiku"}) == first);  // n = 1 is odd
  CHECK(only({.provider = "anthropic"}) == second);
  CHECK(only({.project = "own"}) == first);
  CHECK(only({.user = "u-2"}) == second);
  CHECK(only({.feature = "summary"}) == first);
  CHECK(only({.environment = "dev"}) == second);
  CHECK(only({.session_type = "chat"}) == first);
  CHECK(only({.session_id = "s-2"}) == second);
  CHECK(only({.model = "claude-3-haiku", .user = "u-2"}) == none);

  const auto rows = reader.page({.token_id = alpha}, event_order::newest_first, std::nullopt, 10);
  REQUIRE(rows.size() == 1);
  const auto& e = rows[0];
  CHECK(e.token_label == "billing-api");
  CHECK(e.event_id == "evt-1");
  CHECK(e.provider == "openai");
  CHECK(e.tokens.cache_read == 3);
  CHECK(e.cost_nusd == 4'500);
  CHECK(e.meta == R"({"k":1})");
  CHECK(e.project == "own");
  CHECK(e.source == "ingest");
}

TEST_CASE_FIXTURE(reader_fixture, "PROJECT_PATTERNS: the event's own project, else the label, else the session") {
  auto own = event_at(alpha, 1, t0);
  own.project = "own";
  auto by_label = event_at(alpha, 2, t0 + 1);
  auto by_session = event_at(beta, 3, t0 + 2);
  by_session.session_id = "nightly-batch-7";
  auto unmatched = event_at(beta, 4, t0 + 3);
  store({own, by_label, by_session, unmatched});
  const std::vector<project_rule> rules = parse_project_rules("billing-*=billing,nightly-*=batch");
  event_reader reader(db, rules);

  const auto rows = reader.page({}, event_order::oldest_first, std::nullopt, 10);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].project == "own");
  CHECK(rows[1].project == "billing");
  CHECK(rows[2].project == "batch");
  CHECK_FALSE(rows[3].project.has_value());
  CHECK(reader.page({.project = "billing"}, event_order::oldest_first, std::nullopt, 10).size() == 1);
  CHECK(reader.page({.project = "batch"}, event_order::oldest_first, std::nullopt, 10).size() == 1);
  // Nothing was written: the rules apply when reading.
  CHECK(query_int(db, "SELECT count(*) FROM usage_events WHERE project IS NOT NULL") == 1);
}

TEST_CASE_FIXTURE(reader_fixture, "a deleted token's events keep its label") {
  store({event_at(alpha, 1, t0)});
  tokens.remove(alpha, t0 + 5);
  event_reader reader(db);
  const auto rows = reader.page({}, event_order::newest_first, std::nullopt, 10);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].token_label == "billing-api");
}

TEST_CASE_FIXTURE(reader_fixture, "models lists each model once, sorted; max_id tracks the newest row") {
  event_reader reader(db);
  CHECK(reader.models().empty());
  CHECK(reader.max_id() == 0);
  std::vector<event_row> rows;
  for (int n = 0; n < 20; ++n) rows.push_back(event_at(alpha, n, t0 + n));
  rows[5].model = "a-first";
  rows[6].model = "z-last";
  store(rows);
  CHECK(reader.models() == std::vector<std::string>{"a-first", "claude-3-haiku", "gpt-4o-mini", "z-last"});
  CHECK(reader.max_id() == query_int(db, "SELECT max(id) FROM usage_events"));
}

TEST_CASE_FIXTURE(reader_fixture, "max_id pins a filter to the rows stored before it was taken") {
  store({event_at(alpha, 1, t0)});
  event_reader reader(db);
  const event_filter pinned{.max_id = reader.max_id()};
  store({event_at(alpha, 2, t0 - 1)});
  CHECK(reader.page(pinned, event_order::oldest_first, std::nullopt, 10).size() == 1);
  CHECK(reader.page({}, event_order::oldest_first, std::nullopt, 10).size() == 2);
}

TEST_CASE_FIXTURE(reader_fixture, "reset_usage deletes every event, keeps tokens and zeroes their usage") {
  std::vector<event_row> rows;
  for (int n = 0; n < 30; ++n) rows.push_back(event_at(n % 2 == 0 ? alpha : beta, n, t0 + n));
  store(rows);
  REQUIRE(tokens.find(alpha)->usage_count == 15);
  CHECK(reset_usage(db) == 30);
  CHECK(query_int(db, "SELECT count(*) FROM usage_events") == 0);
  CHECK(tokens.list().size() == 2);
  CHECK(tokens.find(alpha)->usage_count == 0);
  CHECK_FALSE(tokens.find(alpha)->last_seen_at_us.has_value());
  CHECK(reset_usage(db) == 0);
}

// A page deep into a time range must start at its position, not at the edge of the range: with two lower (or upper)
// bounds on ts, SQLite seeks with only one of them, and seeking with the range's made every page rescan the rows
// before it (an export of 2 million rows ran at 15,000 rows/s).
TEST_CASE_FIXTURE(reader_fixture, "a deep page inside a time range costs what the first page costs") {
  std::vector<event_row> rows;
  for (int n = 0; n < 20'000; ++n) rows.push_back(event_at(n % 2 ? alpha : beta, n, t0 + n * 1'000'000LL));
  store(rows);
  const event_filter range{.start_us = t0, .end_us = t0 + 30'000 * 1'000'000LL};
  for (const auto order : {event_order::oldest_first, event_order::newest_first}) {
    CAPTURE(static_cast<int>(order));
    const auto steps = [&](const std::optional<event_position>& after) {
      const auto query = page_sql(range, {}, order, after, 100);
      statement stmt(db, query.text);
      query.bind_to(stmt);
      int n = 0;
      while (stmt.step()) ++n;
      CHECK(n == 100);
      return sqlite3_stmt_status(stmt.handle(), SQLITE_STMTSTATUS_VM_STEP, 0);
    };
    const auto first = steps(std::nullopt);
    const std::int64_t deep_ts = order == event_order::oldest_first ? t0 + 19'000 * 1'000'000LL
                                                                    : t0 + 1'000 * 1'000'000LL;
    const auto deep = steps(event_position{deep_ts, 1'000'000});
    CHECK(deep < 2 * first);
    const auto text = page_sql(range, {}, order, event_position{deep_ts, 5}, 100).text;
    CHECK(std::count(text.begin(), text.end(), '<') + std::count(text.begin(), text.end(), '>') == 4);
  }
}

// The hot admin queries must be served by an index, in index order: no full scan, no sort of the matching rows.
// (EXPLAIN QUERY PLAN without ANALYZE statistics, as a fresh production database has none.)
TEST_CASE_FIXTURE(reader_fixture, "the page and model queries use an index and never sort") {
  std::vector<event_row> rows;
  for (int n = 0; n < 50; ++n) rows.push_back(event_at(alpha, n, t0 + n));
  store(rows);
  const std::optional<event_position> deep = event_position{t0 + 25, 26};

  struct expectation {
    event_filter filter;
    std::string_view index;
  };
  const std::vector<expectation> cases{
      {{}, "usage_events_ts"},
      {{.start_us = t0, .end_us = t0 + 10}, "usage_events_ts"},
      {{.model = "gpt-4o-mini"}, "usage_events_model_ts"},
      {{.start_us = t0, .model = "gpt-4o-mini"}, "usage_events_model_ts"},
      {{.token_id = alpha}, "usage_events_token_ts"},
      {{.session_id = "s-1"}, "usage_events_session_ts"},
      {{.user = "u-1"}, "usage_events_user_ts"},
      {{.provider = "openai", .feature = "x"}, "usage_events_ts"},
  };
  for (const auto& c : cases) {
    for (const auto order : {event_order::newest_first, event_order::oldest_first}) {
      for (const auto& after : {std::optional<event_position>{}, deep}) {
        const auto p = plan(page_sql(c.filter, {}, order, after, 500));
        CAPTURE(p);
        CHECK(contains(p, std::string("INDEX ") + std::string(c.index)));
        CHECK_FALSE(contains(p, "TEMP B-TREE"));
        CHECK_FALSE(contains(p, "SCAN e\n"));
      }
    }
  }
  const std::vector<project_rule> rules{{"billing-*", "billing"}};
  CHECK_FALSE(contains(plan(page_sql({.project = "billing"}, rules, event_order::newest_first, deep, 500)),
                       "TEMP B-TREE"));

  statement explain(db, "EXPLAIN QUERY PLAN " + std::string(distinct_models_sql()));
  std::string p;
  while (explain.step()) p += explain.column_text(3) + "\n";
  CAPTURE(p);
  CHECK(contains(p, "usage_events_model_ts"));
  CHECK_FALSE(contains(p, "SCAN usage_events\n"));
}

// reprice pages by id: each page seeks the rowid past the last one and stops at its limit, also for one token
// (through the token index every page would sort all of the token's events).
TEST_CASE_FIXTURE(reader_fixture, "the reprice page walks the rowid and never sorts") {
  const reprice_filter all{.start_us = t0, .end_us = t0 + us_per_hour};
  const reprice_filter one_token{.start_us = t0, .end_us = t0 + us_per_hour, .token_id = alpha};
  for (const auto& filter : {all, one_token}) {
    const auto p = plan(detail::reprice_page_sql(detail::sql_dialect::sqlite, filter, 26, 500));
    CAPTURE(p);
    CHECK(contains(p, "INTEGER PRIMARY KEY (rowid>?)"));
    CHECK_FALSE(contains(p, "TEMP B-TREE"));
  }
}

}  // TEST_SUITE
