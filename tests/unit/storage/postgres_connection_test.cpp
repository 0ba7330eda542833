// The PostgreSQL backend, against a real server (see postgres_test_support.hpp). Where SQLite defines the expected
// answer (pages, filters, PROJECT_PATTERNS, reports), the same rows go into both backends and the answers must be
// equal.
#include "cg/storage/connection.hpp"
#include "cg/storage/cost_report.hpp"
#include "cg/storage/cost_store.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "event_sql.hpp"
#include "postgres/pg_schema.hpp"
#include "postgres/postgres_connection.hpp"
#include "postgres_test_support.hpp"
#include "storage_test_support.hpp"
#include "tcp_forwarder.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace cg::storage;
using cg::storage::test::make_event;
using cg::storage::test::pg_int;
using cg::storage::test::postgres_database;
using cg::storage::test::temp_dir;

namespace {

constexpr std::int64_t us_per_hour = 3'600'000'000;
constexpr std::int64_t us_per_day = 24 * us_per_hour;

std::int64_t utc(std::string_view day, int hour = 0, int minute = 0) {
  return time_zone_ref{}.day_start(*parse_day(day)) + hour * us_per_hour + minute * 60'000'000LL;
}

// connection::events_page() lives with open_writer() in connection.cpp; this file tests the backend on its own.
std::vector<stored_event> page_of(connection& c, const event_filter& filter, std::span<const project_rule> rules,
                                  event_order order, const std::optional<event_position>& after, std::size_t limit) {
  std::vector<stored_event> rows;
  c.for_each_event(filter, rules, order, after, limit, [&rows](const stored_event& e) { rows.push_back(e); });
  return rows;
}

database_location at(const postgres_database& db) { return database_location{.url = db.url()}; }

std::string describe(const stored_event& e) {
  const auto o = [](const auto& v) { return v ? fmt::format("{}", *v) : std::string("<null>"); };
  return fmt::format("id={} ts={} recv={} token={} label={} event_id={} {}/{} in={} out={} total={} cr={} cw={} "
                     "reas={} cost={} {} ref={} src={} user={} session={} stype={} project={} feature={} env={} "
                     "meta={}",
                     e.id, e.ts_us, e.received_at_us, o(e.token_id), o(e.token_label), o(e.event_id), e.provider,
                     e.model, e.tokens.input, e.tokens.output, e.tokens.total, e.tokens.cache_read,
                     e.tokens.cache_write, e.tokens.reasoning, e.cost_nusd, e.cost_source, e.price_ref, e.source,
                     o(e.user), o(e.session_id), o(e.session_type), o(e.project), o(e.feature), o(e.environment),
                     o(e.meta));
}

std::vector<std::string> describe(const std::vector<stored_event>& rows) {
  std::vector<std::string> out;
  for (const auto& e : rows) out.push_back(describe(e));
  return out;
}

std::vector<std::string> describe(const cost_report& r) {
  std::vector<std::string> out;
  const auto line = [](const usage_totals& t) {
    return fmt::format("n={} in={} out={} total={} cr={} cw={} reas={} cost={}", t.requests, t.tokens.input,
                       t.tokens.output, t.tokens.total, t.tokens.cache_read, t.tokens.cache_write, t.tokens.reasoning,
                       t.cost_nusd);
  };
  for (const auto& row : r.rows) {
    std::string keys;
    for (const auto& k : row.keys) keys += (k ? *k : "<null>") + "|";
    out.push_back(fmt::format("{} token={} label={} {}", keys, row.token_id ? std::to_string(*row.token_id) : "-",
                              row.token_label.value_or("-"), line(row.totals)));
  }
  out.push_back("TOTAL " + line(r.totals));
  return out;
}

/// The same tokens and events in a SQLite file and a PostgreSQL database, for answers that must agree.
struct twin_databases {
  postgres_database pg;
  temp_dir dir;
  database lite{open_database(dir.file("cg.db"), durability::normal)};
  std::unique_ptr<connection> writer{open_postgres_writer(at(pg))};

  explicit twin_databases(postgres_database db) : pg(std::move(db)) {}

  std::int64_t create_token(const std::string& label, const std::string& token, std::int64_t now) {
    const auto a = token_store(lite).create(label, token, now).id;
    const auto b = writer->create_token(label, token, now).id;
    REQUIRE(a == b);
    return a;
  }
  void remove_token(std::int64_t id) {
    REQUIRE(token_store(lite).remove(id, 99));
    REQUIRE(writer->remove_token(id, 99));
  }
  void store(const std::vector<event_row>& rows) {
    const auto a = event_store(lite).commit_batch(rows);
    const auto b = writer->commit_batch(rows);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      REQUIRE(a[i].id == b[i].id);
      REQUIRE(a[i].duplicate == b[i].duplicate);
    }
  }
};

std::optional<twin_databases> twins() {
  auto db = postgres_database::create();
  if (!db) return std::nullopt;
  return std::optional<twin_databases>(std::in_place, std::move(*db));
}

/// Varied rows: three months around a DST change, several tokens, models in byte order traps (case, UTF-8),
/// attributes null or not, sessions and labels the PROJECT_PATTERNS below match.
std::vector<event_row> varied_rows(const std::vector<std::int64_t>& tokens, int count, std::uint32_t seed) {
  std::mt19937 random(seed);
  const std::vector<std::string> models{"gpt-4o-mini", "claude-3-haiku", "Gpt-4o", "gpt-4o", "é-model", "z"};
  const std::vector<std::optional<std::string>> users{std::nullopt, "ana", "bob", "Ana", "ünï"};
  const std::vector<std::optional<std::string>> sessions{std::nullopt, "chat-1", "billing-run-7", "x?y", "[a]"};
  const std::vector<std::optional<std::string>> projects{std::nullopt, std::nullopt, "own", "Billing"};
  // COPY's and array literals' escapes: tab, newline, backslash, quotes, braces, a value spelled NULL.
  const std::vector<std::optional<std::string>> features{std::nullopt, "search", "summary", "a\tb\\c\nd\r",
                                                         "\"{q},", "NULL", "\\N"};
  const std::vector<std::string> sources{"server", "client", "unpriced"};
  const std::int64_t start = utc("2025-02-20");
  std::vector<event_row> rows;
  for (int i = 0; i < count; ++i) {
    const auto pick = [&](const auto& v) { return v[random() % v.size()]; };
    const std::int64_t ts = start + static_cast<std::int64_t>(random() % (70 * 96)) * 15 * 60'000'000LL +
                            static_cast<std::int64_t>(random() % 900'000'000);
    auto row = make_event(pick(tokens), i % 7 == 0 ? std::nullopt : std::optional<std::string>("ev-" + std::to_string(i)), ts);
    row.model = pick(models);
    row.provider = row.model.starts_with("claude") ? "anthropic" : "openai";
    row.user = pick(users);
    row.session_id = pick(sessions);
    row.session_type = i % 3 == 0 ? std::optional<std::string>("chat") : std::nullopt;
    row.project = pick(projects);
    row.feature = pick(features);
    row.environment = i % 2 == 0 ? std::optional<std::string>("prod") : std::optional<std::string>("dev");
    row.meta = i % 5 == 0 ? std::optional<std::string>(R"({"k":"v\"q","n":1})") : std::nullopt;
    row.tokens.input = static_cast<std::int64_t>(random() % 5000);
    row.tokens.output = static_cast<std::int64_t>(random() % 900);
    row.tokens.total = row.tokens.input + row.tokens.output;
    row.tokens.cache_read = row.tokens.input / 3;
    row.tokens.reasoning = row.tokens.output / 4;
    row.cost_nusd = static_cast<std::int64_t>(random() % 10'000'000);
    row.cost_source = pick(sources);
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::vector<project_rule> rules{{"billing-*", "billing"}, {"*-prod", "prod"}, {"x[?]y", "odd"},
                                      {"[[]a]", "bracket"}};

time_zone_ref zone(std::string_view name) {
  auto z = time_zone_ref::find(name);
  REQUIRE(z.has_value());
  return *z;
}


}  // namespace

TEST_SUITE("storage.postgres") {

TEST_CASE("postgres: gateways opening together migrate once; newer schemas are refused; readers need the schema") {
  auto db = postgres_database::create();
  if (!db) return;
  SUBCASE("two writers open at the same moment") {
    std::latch start(2);
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        try {
          auto c = open_postgres_writer(at(*db));
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(i)] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(errors[0] == "");
    CHECK(errors[1] == "");
    auto check = db->open();
    CHECK(pg_int(check, "SELECT version FROM cg_schema_version") == pg::latest_schema_version());
    CHECK(pg_int(check, "SELECT count(*) FROM cg_schema_version") == 1);
    CHECK(open_postgres_reader(at(*db))->backend_name() == "postgresql");
  }
  SUBCASE("a reader on an unmigrated database is refused") {
    const auto error = test::error_of([&] { open_postgres_reader(at(*db)); });
    REQUIRE(error);
    CHECK(std::string(error->what()).find("must be migrated") != std::string::npos);
  }
  SUBCASE("a database from a newer version is refused with a clear message") {
    open_postgres_writer(at(*db));
    db->open().exec("UPDATE cg_schema_version SET version = 99", "test");
    const auto error = test::error_of([&] { open_postgres_writer(at(*db)); });
    REQUIRE(error);
    CHECK(std::string(error->what()).find("newer Cost Guardian") != std::string::npos);
    CHECK(!error->is_unavailable());
  }
}

TEST_CASE("postgres: a reader cannot write") {
  auto db = postgres_database::create();
  if (!db) return;
  open_postgres_writer(at(*db));
  auto reader = open_postgres_reader(at(*db));
  const auto error = test::error_of([&] { reader->create_token("a", "tok-a", 1); });
  REQUIRE(error);
  CHECK(std::string(error->what()).find("read-only") != std::string::npos);
}

TEST_CASE("postgres: commit_batch stores, deduplicates across batches and within one, and counts token usage") {
  auto db = postgres_database::create();
  if (!db) return;
  postgres_options options;
  SUBCASE("COPY") { options.insert_method = postgres_insert_method::copy; }
  SUBCASE("INSERT … unnest") { options.insert_method = postgres_insert_method::unnest; }
  auto writer = open_postgres_writer(at(*db), options);
  const auto token = writer->create_token("alpha", "tok-alpha", 1).id;
  const auto other = writer->create_token("beta", "tok-beta", 1).id;
  const std::int64_t ts = utc("2025-03-10", 12);

  const auto first = writer->commit_batch(std::vector{make_event(token, "a", ts), make_event(token, "b", ts + 1),
                                                      make_event(other, "a", ts + 2)});
  REQUIRE(first.size() == 3);
  CHECK(!first[0].duplicate);
  CHECK(!first[1].duplicate);
  CHECK(!first[2].duplicate);  // the same event_id under another token is another event
  CHECK(first[1].id > first[0].id);

  auto repeat = make_event(token, "a", ts + 5);
  auto late = make_event(token, "c", ts + 6);
  late.received_at_us = ts + 999'000;
  const auto second = writer->commit_batch(std::vector{repeat, late, make_event(token, "c", ts + 7),
                                                       make_event(token, std::nullopt, ts + 8),
                                                       make_event(token, std::nullopt, ts + 8)});
  REQUIRE(second.size() == 5);
  CHECK(second[0].duplicate);
  CHECK(second[0].id == first[0].id);
  CHECK(!second[1].duplicate);
  CHECK(second[2].duplicate);  // within the batch: the first occurrence's id
  CHECK(second[2].id == second[1].id);
  CHECK(!second[3].duplicate);  // no event_id: never deduplicated
  CHECK(!second[4].duplicate);
  CHECK(second[3].id != second[4].id);

  CHECK(writer->max_event_id() == second[4].id);
  const auto tokens = writer->list_tokens();
  REQUIRE(tokens.size() == 2);
  CHECK(tokens[0].usage_count == 5);  // a, b, c and the two without id
  CHECK(tokens[0].last_seen_at_us == ts + 999'000);
  CHECK(tokens[1].usage_count == 1);
  const auto f = writer->figures();
  CHECK(f.usage_rows == 6);
  CHECK(f.active_tokens == 2);
  CHECK(f.last_received_at_us == ts + 8 + 1'000);
  writer->check_read();

  // Text that needs escaping in COPY's format and in array literals comes back byte for byte.
  auto awkward = make_event(token, "quote\"back\\slash", ts + 20);
  awkward.feature = "a\tb\\c\nd\r";
  awkward.user = "NULL";
  awkward.session_id = "\\N";
  awkward.meta = R"({"k":"{x,y}\"z"})";
  awkward.model = "é ü \u2603";
  const auto stored_awkward = writer->commit_batch(std::vector{awkward});
  const auto back = page_of(*writer, {.start_us = ts + 20, .end_us = ts + 21}, {}, event_order::oldest_first,
                            std::nullopt, 10);
  REQUIRE(back.size() == 1);
  CHECK(back[0].id == stored_awkward[0].id);
  CHECK(back[0].event_id == awkward.event_id);
  CHECK(back[0].feature == awkward.feature);
  CHECK(back[0].user == awkward.user);
  CHECK(back[0].session_id == awkward.session_id);
  CHECK(back[0].meta == awkward.meta);
  CHECK(back[0].model == awkward.model);
  CHECK(!back[0].project);
  CHECK(writer->commit_batch(std::vector{awkward})[0].duplicate);
  const auto nul = test::error_of([&] {
    auto bad = make_event(token, "nul", ts);
    bad.user = std::string("a\0b", 3);
    writer->commit_batch(std::vector{bad});
  });
  REQUIRE(nul);
  CHECK(std::string(nul->what()).find("NUL") != std::string::npos);

  // A failed batch stores nothing: a token that does not exist violates the foreign key.
  const auto error = test::error_of([&] { writer->commit_batch(std::vector{make_event(999, "zz", ts)}); });
  REQUIRE(error);
  CHECK(!error->is_unavailable());
  CHECK(writer->figures().usage_rows == 7);
  auto check = db->open();
  CHECK(pg_int(check, "SELECT count(*) FROM event_keys") == 5);
}

TEST_CASE("postgres: two gateways committing the same keys at the same moment store each once") {
  auto db = postgres_database::create();
  if (!db) return;
  auto a = open_postgres_writer(at(*db));
  auto b = open_postgres_writer(at(*db));
  const auto token = a->create_token("alpha", "tok-alpha", 1).id;
  constexpr int keys = 300;
  constexpr int rounds = 5;
  for (int round = 0; round < rounds; ++round) {
    // Each gateway sends every key, in its own order and batch boundaries: without a common lock order they would
    // deadlock; without the key table's constraint both would store.
    std::vector<std::vector<event_row>> batches(2);
    for (int g = 0; g < 2; ++g) {
      for (int k = 0; k < keys; ++k)
        batches[static_cast<std::size_t>(g)].push_back(
            make_event(token, fmt::format("r{}-k{}", round, k), utc("2025-03-01") + k));
      std::shuffle(batches[static_cast<std::size_t>(g)].begin(), batches[static_cast<std::size_t>(g)].end(),
                   std::mt19937(static_cast<std::uint32_t>(round * 2 + g)));
    }
    std::vector<std::vector<insert_outcome>> outcomes(2);
    std::vector<std::string> errors(2);
    std::latch start(2);
    std::vector<std::thread> threads;
    for (int g = 0; g < 2; ++g) {
      threads.emplace_back([&, g] {
        auto& gateway = g == 0 ? a : b;
        const auto& rows = batches[static_cast<std::size_t>(g)];
        start.arrive_and_wait();
        try {
          for (std::size_t at_row = 0; at_row < rows.size(); at_row += 100) {
            const auto part = gateway->commit_batch(std::span(rows).subspan(at_row, std::min<std::size_t>(100, rows.size() - at_row)));
            outcomes[static_cast<std::size_t>(g)].insert(outcomes[static_cast<std::size_t>(g)].end(), part.begin(), part.end());
          }
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(g)] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    REQUIRE(errors[0] == "");
    REQUIRE(errors[1] == "");
    std::map<std::string, std::vector<insert_outcome>> by_key;
    for (int g = 0; g < 2; ++g)
      for (std::size_t i = 0; i < batches[static_cast<std::size_t>(g)].size(); ++i)
        by_key[*batches[static_cast<std::size_t>(g)][i].event_id].push_back(outcomes[static_cast<std::size_t>(g)][i]);
    REQUIRE(by_key.size() == static_cast<std::size_t>(keys));
    int mismatches = 0;
    for (const auto& [key, pair] : by_key) {
      const bool one_created = pair.size() == 2 && pair[0].duplicate != pair[1].duplicate;
      if (!one_created || pair[0].id != pair[1].id) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
  auto check = db->open();
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events") == keys * rounds);
  CHECK(pg_int(check, "SELECT count(*) FROM event_keys") == keys * rounds);
  CHECK(pg_int(check, "SELECT usage_count FROM tracking_tokens") == keys * rounds);
}

TEST_CASE("postgres: monthly partitions are made ahead, for backfills on demand, and retention drops months") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  auto check = db->open();
  const auto partitions = [&] {
    const auto r = check.exec("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                              "WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1",
                              "test");
    std::vector<std::string> names;
    for (int i = 0; i < r.rows(); ++i) names.emplace_back(r.text(i, 0));
    return names;
  };
  // Opening made the months around now.
  CHECK(partitions().size() == 4);

  // The previous, the current and the next two months.
  writer->prepare_months(utc("2025-01-15"));
  for (const auto* name : {"usage_events_2024_12", "usage_events_2025_01", "usage_events_2025_02",
                           "usage_events_2025_03"})
    CHECK(std::ranges::count(partitions(), std::string(name)) == 1);

  const auto token = writer->create_token("alpha", "tok-alpha", 1).id;
  // A backfill from years ago, month edges on both sides, and the months prepared above.
  const std::vector<event_row> rows{
      make_event(token, "old", utc("2019-07-04", 3)),      make_event(token, "edge-", utc("2025-01-01") - 1),
      make_event(token, "edge", utc("2025-01-01")),        make_event(token, "feb", utc("2025-02-14", 9)),
      make_event(token, "mar", utc("2025-03-31", 23, 59)), make_event(token, "apr", utc("2025-04-01"))};
  const auto outcomes = writer->commit_batch(rows);
  CHECK(std::ranges::none_of(outcomes, [](const insert_outcome& o) { return o.duplicate; }));
  CHECK(std::ranges::count(partitions(), std::string("usage_events_2019_07")) == 1);
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events_2024_12") == 1);
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events_2025_01") == 1);
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events_2025_03") == 1);

  // Another gateway created a month behind this one's back: the insert copes.
  check.exec("CREATE TABLE usage_events_2018_01 PARTITION OF usage_events FOR VALUES FROM (" +
                 std::to_string(utc("2018-01-01")) + ") TO (" + std::to_string(utc("2018-02-01")) + ")",
             "test");
  CHECK(!writer->commit_batch(std::vector{make_event(token, "y2018", utc("2018-01-09"))})[0].duplicate);

  // Another gateway's retention dropped a month this one knows: its next insert there recreates it.
  {
    auto other = open_postgres_writer(at(*db));
    CHECK(other->drop_events_before(utc("2018-02-01")).months_dropped == std::vector<std::string>{"2018-01"});
    CHECK(!writer->commit_batch(std::vector{make_event(token, "y2018-again", utc("2018-01-10"))})[0].duplicate);
    CHECK(pg_int(check, "SELECT count(*) FROM usage_events_2018_01") == 1);
  }

  // Retention before 2025-02: the 2018, 2019, 2024-12 and 2025-01 partitions go whole.
  const auto dropped = writer->drop_events_before(utc("2025-02-01"));
  CHECK(dropped.events_deleted == 4);
  CHECK(dropped.months_dropped == std::vector<std::string>{"2018-01", "2019-07", "2024-12", "2025-01"});
  CHECK(std::ranges::count(partitions(), std::string("usage_events_2019_07")) == 0);
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events") == 3);
  CHECK(pg_int(check, "SELECT count(*) FROM event_keys") == 3);
  // Their keys went with them: the same key may be stored again (into a recreated month).
  CHECK(!writer->commit_batch(std::vector{make_event(token, "old", utc("2019-07-04", 3))})[0].duplicate);
  // A cutoff inside a month deletes that month's earlier rows one by one.
  const auto partial = writer->drop_events_before(utc("2025-02-20"));
  CHECK(partial.events_deleted == 2);  // "old" again and "feb"
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events") == 2);
}

TEST_CASE("postgres: a new month's partition does not wait for a long read of usage_events") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto token = writer->create_token("alpha", "tok-a", 1).id;
  // A report in progress: a transaction that has read usage_events and holds its lock until it ends.
  auto report = db->open();
  report.exec("BEGIN", "test");
  report.exec("SELECT count(*) FROM usage_events", "test");
  const auto start = std::chrono::steady_clock::now();
  CHECK(!writer->commit_batch(std::vector{make_event(token, "backfill", utc("2016-02-29", 12))})[0].duplicate);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  report.exec("COMMIT", "test");
  auto check = db->open();
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events_2016_02") == 1);
}

TEST_CASE("postgres: retention finishes a month whose concurrent detach was interrupted") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto token = writer->create_token("alpha", "tok-a", 1).id;
  writer->commit_batch(std::vector{make_event(token, "old", utc("2019-07-04")), make_event(token, "new", utc("2025-03-01"))});
  // A detach that waits for a reader's transaction and is cancelled half-way, as a stopped retention run would be.
  auto reader = db->open();
  reader.exec("BEGIN", "test");
  reader.exec("SELECT count(*) FROM usage_events", "test");
  auto detacher = db->open();
  detacher.exec("SET statement_timeout = '300ms'", "test");
  CHECK(test::error_of([&] {
    detacher.exec("ALTER TABLE usage_events DETACH PARTITION usage_events_2019_07 CONCURRENTLY", "test");
  }));
  reader.exec("COMMIT", "test");
  auto check = db->open();
  REQUIRE(pg_int(check, "SELECT count(*) FROM pg_inherits WHERE inhdetachpending") == 1);

  const auto dropped = writer->drop_events_before(utc("2020-01-01"));
  CHECK(dropped.months_dropped == std::vector<std::string>{"2019-07"});
  CHECK(dropped.events_deleted == 1);
  CHECK(pg_int(check, "SELECT count(*) FROM pg_class WHERE relname = 'usage_events_2019_07'") == 0);
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events") == 1);
}

TEST_CASE("postgres: tracking tokens: create, list, deactivate, delete, reuse a deleted label, unique violations") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto a = writer->create_token("alpha", "tok-a", 10);
  CHECK(a.label == "alpha");
  CHECK(a.active);
  CHECK(a.created_at_us == 10);
  CHECK(!a.last_seen_at_us);
  const auto duplicate_label = test::error_of([&] { writer->create_token("alpha", "tok-other", 11); });
  REQUIRE(duplicate_label);
  CHECK(duplicate_label->is_unique_violation());
  CHECK(!duplicate_label->is_unavailable());
  const auto duplicate_token = test::error_of([&] { writer->create_token("other", "tok-a", 11); });
  REQUIRE(duplicate_token);
  CHECK(duplicate_token->is_unique_violation());

  CHECK(writer->set_token_active(a.id, false));
  CHECK(!writer->list_tokens()[0].active);
  CHECK(writer->remove_token(a.id, 20));
  CHECK(!writer->remove_token(a.id, 21));
  CHECK(!writer->set_token_active(a.id, true));
  CHECK(writer->list_tokens().empty());
  const auto again = writer->create_token("alpha", "tok-a2", 30);  // the label is free again
  CHECK(again.id != a.id);
  const auto all = writer->all_tokens();
  REQUIRE(all.size() == 2);
  CHECK(all[0].deleted_at_us == 20);
  CHECK(!all[0].active);
  CHECK(!all[1].deleted_at_us);
  CHECK(writer->figures().active_tokens == 1);
}

TEST_CASE("postgres: pages, filters, PROJECT_PATTERNS and models read exactly what SQLite reads") {
  auto t = twins();
  if (!t) return;
  const auto alpha = t->create_token("billing-api", "tok-a", 1);
  const auto beta = t->create_token("search-prod", "tok-b", 1);
  const auto gamma = t->create_token("misc", "tok-c", 1);
  const auto rows = varied_rows({alpha, beta, gamma}, 600, 7);
  for (std::size_t i = 0; i < rows.size(); i += 150) t->store({rows.begin() + static_cast<long>(i), rows.begin() + static_cast<long>(i + 150)});
  t->remove_token(gamma);  // its events keep the label
  auto reader = open_postgres_reader(at(t->pg));
  event_reader lite(t->lite, rules);

  std::vector<event_filter> filters(1);
  filters.push_back({.start_us = utc("2025-03-01"), .end_us = utc("2025-04-01")});
  filters.push_back({.token_id = beta});
  filters.push_back({.model = "gpt-4o"});
  filters.push_back({.provider = "anthropic", .environment = "prod"});
  filters.push_back({.project = "billing"});
  filters.push_back({.project = "prod"});
  filters.push_back({.project = "odd"});
  filters.push_back({.project = "bracket"});
  filters.push_back({.user = "ünï"});
  filters.push_back({.feature = "search", .session_type = "chat"});
  filters.push_back({.session_id = "chat-1"});
  filters.push_back({.max_id = 300});
  for (const auto& filter : filters) {
    for (const auto order : {event_order::newest_first, event_order::oldest_first}) {
      CAPTURE(filter.project.value_or(""));
      // Whole range in one page, then the same walked in small keyset pages.
      const auto expected = lite.page(filter, order, std::nullopt, 10'000);
      CHECK(describe(page_of(*reader, filter, rules, order, std::nullopt, 10'000)) == describe(expected));
      std::vector<stored_event> walked;
      std::optional<event_position> after;
      for (;;) {
        const auto page = page_of(*reader, filter, rules, order, after, 37);
        walked.insert(walked.end(), page.begin(), page.end());
        if (page.size() < 37) break;
        after = event_position{page.back().ts_us, page.back().id};
      }
      CHECK(describe(walked) == describe(expected));
    }
  }
  CHECK(page_of(*reader, {}, rules, event_order::oldest_first, std::nullopt, SIZE_MAX).size() == rows.size());
  CHECK(reader->models() == lite.models());
  CHECK(reader->max_event_id() == lite.max_id());
  // Rows with equal ts page by id.
  std::vector<event_row> same_ts;
  for (int i = 0; i < 5; ++i) same_ts.push_back(make_event(alpha, "tie-" + std::to_string(i), utc("2025-03-05")));
  t->store(same_ts);
  const event_filter ties{.start_us = utc("2025-03-05"), .end_us = utc("2025-03-05") + 1};
  const auto first = page_of(*reader, ties, rules, event_order::oldest_first, std::nullopt, 2);
  REQUIRE(first.size() == 2);
  const auto rest = page_of(*reader, ties, rules, event_order::oldest_first, event_position{first[1].ts_us, first[1].id}, 10);
  CHECK(describe(rest) == describe(lite.page(ties, event_order::oldest_first, event_position{first[1].ts_us, first[1].id}, 10)));
  CHECK(rest.size() == 3);
}

TEST_CASE("postgres: PROJECT_PATTERNS globs match exactly what SQLite's GLOB matches") {
  auto db = postgres_database::create();
  if (!db) return;
  temp_dir dir;
  database lite(dir.file("glob.db"), open_mode::read_write);
  auto pg = db->open();
  const std::vector<std::string> globs{
      "billing-*", "*-prod", "a?c", "[abc]x", "[^abc]x", "[a-c]*", "[]]", "[]-a]", "[a-]", "[-a]", "[z-a]", "[^z-a]",
      "[", "ab[c", "*.*", "a\\b", "(x)+", "[[]", "[\\]", "é?", "[à-ü]", "a*b*c", "", "*", "^$", "[!a]", "[a-c-e]",
      "[^]]", "x[?]y", "[*]", "a.c", "{a}", "a|b", "[]", "[^]", "?", "[:alpha:]", "[[:alpha:]]", "$", "[^-]"};
  const std::vector<std::string> texts{
      "billing-api", "api-prod", "abc", "ax", "bx", "dx", "]", "-", "a", "z", "b", "[", "ab[c", "x.y", "a\\b", "(x)+",
      "é1", "ü", "ê", "aXbYc", "", "^$", "!", "d", "e", "A", "line\nbreak", "x?y", "xzy", "*", "abc.", "aXc", "{a}",
      "a|b", "\\", ":", "ab", "é", "c", "$", "alpha", "a-"};
  int differences = 0;
  for (const auto& glob : globs) {
    const std::string regex = detail::glob_to_regex(glob);
    for (const auto& text : texts) {
      statement q(lite, "SELECT ?1 GLOB ?2");
      q.bind(1, text).bind(2, glob);
      q.step();
      const bool expected = q.column_int64(0) != 0;
      const bool got = pg.exec("SELECT $1::text COLLATE \"C\" ~ $2::text",
                               pg::query_params().add(text).add(regex), "glob")
                           .boolean(0, 0);
      if (got != expected) {
        ++differences;
        MESSAGE(fmt::format("glob '{}' (regex '{}') on '{}': SQLite {}, PostgreSQL {}", glob, regex, text, expected,
                            got));
      }
    }
  }
  CHECK(differences == 0);
}

TEST_CASE("postgres: the cost report equals SQLite's for every grouping and zone") {
  auto t = twins();
  if (!t) return;
  const auto alpha = t->create_token("billing-api", "tok-a", 1);
  const auto beta = t->create_token("search-prod", "tok-b", 1);
  const auto gamma = t->create_token("misc", "tok-c", 1);
  const auto rows = varied_rows({alpha, beta, gamma}, 800, 11);
  t->store(rows);
  // Around 1900, Amsterdam was 19 min 32 s ahead of UTC: local days start off the quarter hour there.
  std::vector<event_row> old;
  for (int i = 0; i < 40; ++i) old.push_back(make_event(alpha, "old-" + std::to_string(i), utc("1900-05-01") + i * 7 * 60'000'000LL * 11));
  t->store(old);
  t->remove_token(gamma);
  auto reader = open_postgres_reader(at(t->pg));

  using d = report_dimension;
  const std::vector<std::vector<report_dimension>> groupings{
      {}, {d::day}, {d::week}, {d::month}, {d::model}, {d::token}, {d::project}, {d::user, d::day},
      {d::provider, d::feature, d::environment, d::session_type}, {d::month, d::token, d::model},
      {d::token, d::week}, {d::project, d::user}};
  const std::vector<std::string> zones{"UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns",
                                       "Pacific/Chatham", "Europe/Amsterdam"};
  const std::vector<event_filter> filters{{}, {.start_us = utc("2025-03-20"), .end_us = utc("2025-04-10")},
                                          {.project = "billing"}, {.token_id = gamma}};
  for (const auto& filter : filters) {
    for (const auto& zone_name : zones) {
      for (const auto& group_by : groupings) {
        const cost_report_request request{.filter = filter, .group_by = group_by, .zone = zone(zone_name)};
        CAPTURE(zone_name);
        CAPTURE(group_by.size());
        const auto expected = run_cost_report(t->lite, request, rules);
        CHECK(describe(reader->run_cost_report(request, rules)) == describe(expected));
      }
    }
  }
  // An empty range: no rows, zero totals, in both.
  const cost_report_request none{.filter = {.start_us = 0, .end_us = 1}, .group_by = {}, .zone = {}};
  CHECK(describe(reader->run_cost_report(none, rules)) == describe(run_cost_report(t->lite, none, rules)));
}

TEST_CASE("postgres: a report sum beyond 64 bits throws overflow_error and leaves the connection usable") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto token = writer->create_token("alpha", "tok-a", 1).id;
  auto a = make_event(token, "a", utc("2025-03-01"));
  auto b = make_event(token, "b", utc("2025-03-02"));
  a.cost_nusd = b.cost_nusd = INT64_MAX / 2 + 10;
  writer->commit_batch(std::vector{a, b});
  const cost_report_request request{.filter = {}, .group_by = {report_dimension::month}, .zone = {}};
  CHECK_THROWS_AS(writer->run_cost_report(request, {}), std::overflow_error);
  const cost_report_request by_day{.filter = {}, .group_by = {report_dimension::day}, .zone = {}};
  CHECK_THROWS_AS(writer->run_cost_report(by_day, {}), std::overflow_error);  // overflows when merging totals
  CHECK(writer->max_event_id() > 0);
}

TEST_CASE("postgres: reprice reads server/unpriced rows by id and never rewrites a client's cost") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto alpha = writer->create_token("alpha", "tok-a", 1).id;
  const auto beta = writer->create_token("beta", "tok-b", 1).id;
  std::vector<event_row> rows;
  for (int i = 0; i < 10; ++i) {
    auto row = make_event(i % 2 == 0 ? alpha : beta, "e" + std::to_string(i), utc("2025-03-01") + i * us_per_day);
    row.cost_source = i % 3 == 0 ? "client" : i % 3 == 1 ? "server" : "unpriced";
    rows.push_back(row);
  }
  const auto ids = writer->commit_batch(rows);
  const reprice_filter all{.start_us = utc("2025-01-01"), .end_us = utc("2026-01-01")};
  const auto page1 = writer->reprice_page(all, 0, 3);
  REQUIRE(page1.size() == 3);
  CHECK(page1[0].id == ids[1].id);
  CHECK(page1[1].id == ids[2].id);
  CHECK(page1[2].id == ids[4].id);
  CHECK(page1[0].price_ref == rows[1].price_ref);
  const auto page2 = writer->reprice_page(all, page1.back().id, 100);
  CHECK(page2.size() == 3);
  CHECK(writer->reprice_page({.start_us = all.start_us, .end_us = all.end_us, .token_id = beta}, 0, 100).size() == 3);
  CHECK(writer->reprice_page({.start_us = utc("2025-03-03"), .end_us = utc("2025-03-06")}, 0, 100).size() == 2);

  const std::vector<cost_update> updates{{ids[0].id, 1, "server", "p/x"}, {ids[1].id, 2, "server", "p/y"},
                                         {ids[2].id, 3, "unpriced", ""}};
  CHECK(writer->apply_costs(updates) == 2);  // the client row (ids[0]) is left alone
  const auto stored = page_of(*writer, {}, {}, event_order::oldest_first, std::nullopt, 3);
  CHECK(stored[0].cost_nusd == rows[0].cost_nusd);
  CHECK(stored[0].cost_source == "client");
  CHECK(stored[1].cost_nusd == 2);
  CHECK(stored[1].price_ref == "p/y");
  CHECK(stored[2].cost_source == "unpriced");
}

TEST_CASE("postgres: imports keep ids, fill the dedupe keys, move the sequences and can be re-run") {
  auto t = twins();
  if (!t) return;
  // The source: a SQLite database with a deleted token and events with and without keys.
  const auto alpha = token_store(t->lite).create("alpha", "tok-a", 5).id;
  const auto beta = token_store(t->lite).create("beta", "tok-b", 6).id;
  REQUIRE(token_store(t->lite).remove(beta, 7));
  event_store(t->lite).commit_batch(varied_rows({alpha, beta}, 250, 3));
  std::vector<tracking_token_row> tokens;
  statement q(t->lite, "SELECT id, label, token, active, created_at, last_seen_at, usage_count, deleted_at "
                       "FROM tracking_tokens ORDER BY id");
  while (q.step()) {
    tokens.push_back({q.column_int64(0), q.column_text(1), q.column_text(2), q.column_int64(3) != 0,
                      q.column_int64(4), q.column_optional_int64(5), q.column_int64(6), q.column_optional_int64(7)});
  }
  const auto events = event_reader(t->lite).page({}, event_order::oldest_first, std::nullopt, 10'000);

  CHECK(t->writer->import_tokens(tokens) == 2);
  CHECK(t->writer->import_tokens(tokens) == 0);
  for (std::size_t i = 0; i < events.size(); i += 100) {
    CHECK(t->writer->import_events(std::span(events).subspan(i, std::min<std::size_t>(100, events.size() - i))) ==
          static_cast<std::int64_t>(std::min<std::size_t>(100, events.size() - i)));
  }
  CHECK(t->writer->import_events(events) == 0);  // re-run: nothing new
  const auto all = t->writer->all_tokens();
  REQUIRE(all.size() == 2);
  CHECK(all[1].deleted_at_us == 7);
  CHECK(describe(page_of(*t->writer, {}, {}, event_order::oldest_first, std::nullopt, 10'000)) == describe(events));
  // Keys came along: the same event sent again is a duplicate of the imported row.
  const auto keyed = std::ranges::find_if(events, [](const stored_event& e) { return e.event_id.has_value(); });
  REQUIRE(keyed != events.end());
  const auto again = t->writer->commit_batch(std::vector{make_event(*keyed->token_id, *keyed->event_id, keyed->ts_us)});
  CHECK(again[0].duplicate);
  CHECK(again[0].id == keyed->id);
  // Sequences moved past the imported ids.
  const auto fresh = t->writer->commit_batch(std::vector{make_event(alpha, "brand-new", utc("2025-03-03"))});
  CHECK(fresh[0].id > events.back().id);
  CHECK(t->writer->create_token("gamma", "tok-g", 9).id > beta);
}

TEST_CASE("postgres: reset_usage, the health probe and figures") {
  auto db = postgres_database::create();
  if (!db) return;
  auto writer = open_postgres_writer(at(*db));
  const auto token = writer->create_token("alpha", "tok-a", 1).id;
  writer->commit_batch(std::vector{make_event(token, "a", utc("2025-03-01")), make_event(token, "b", utc("2025-04-01"))});
  writer->write_probe(123);
  writer->write_probe(456);
  auto check = db->open();
  CHECK(pg_int(check, "SELECT written_at FROM health_probe") == 456);
  CHECK(pg_int(check, "SELECT length(filler) FROM health_probe") == 64 * 1024);
  CHECK(writer->reset_usage() == 2);
  CHECK(writer->figures().usage_rows == 0);
  CHECK(pg_int(check, "SELECT count(*) FROM event_keys") == 0);
  const auto tokens = writer->list_tokens();
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0].usage_count == 0);
  CHECK(!tokens[0].last_seen_at_us);
  CHECK(!writer->commit_batch(std::vector{make_event(token, "a", utc("2025-03-01"))})[0].duplicate);
}

TEST_CASE("postgres: an unreachable server is kind::unavailable, quickly, and a dropped connection comes back") {
  SUBCASE("nothing listens on the port") {
    const database_location nowhere{.url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"};
    const auto error = test::error_of([&] { open_postgres_writer(nowhere); });
    REQUIRE(error);
    CHECK(error->is_unavailable());
    CHECK(std::string(error->what()).find("127.0.0.1") != std::string::npos);
  }
  SUBCASE("the server ends the connection; the next calls reconnect") {
    auto db = postgres_database::create();
    if (!db) return;
    auto writer = open_postgres_writer(at(*db));
    auto reader = open_postgres_reader(at(*db));
    const auto token = writer->create_token("alpha", "tok-a", 1).id;
    auto admin = db->open();
    const auto kill_all = [&] {
      admin.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid()",
                 "test");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    };
    kill_all();
    // The first statement finds the connection dead: nothing of the call reached the server, so it reconnects and
    // runs the call again.
    CHECK(!writer->commit_batch(std::vector{make_event(token, "a", utc("2025-03-01"))})[0].duplicate);
    CHECK(reader->max_event_id() > 0);
    kill_all();
    CHECK(writer->list_tokens().size() == 1);
    CHECK(reader->list_tokens().size() == 1);
  }
}

TEST_CASE("postgres: while the server is away calls fail fast with kind::unavailable, and work once it is back") {
  auto db = postgres_database::create();
  if (!db) return;
  const auto target = test::redirect(db->url(), 0);
  test::tcp_forwarder server(target.host, target.port);
  const database_location via{.url = test::redirect(db->url(), server.port()).conninfo};
  auto writer = open_postgres_writer(via);
  auto reader = open_postgres_reader(via);
  const auto token = writer->create_token("alpha", "tok-a", 1).id;

  server.stop();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    const auto write = test::error_of([&] {
      writer->commit_batch(std::vector{make_event(token, "while-down", utc("2025-03-01"))});
    });
    REQUIRE(write);
    CHECK(write->is_unavailable());
    const auto read = test::error_of([&] { reader->max_event_id(); });
    REQUIRE(read);
    CHECK(read->is_unavailable());
  }
  // Refused connects and the backoff in between: no call waits.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));

  server.start();
  // Back within one backoff period (at most 5 s).
  bool written = false;
  bool read = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
  while ((!written || !read) && std::chrono::steady_clock::now() < deadline) {
    try {
      if (!written) written = !writer->commit_batch(std::vector{make_event(token, "after", utc("2025-03-01"))})[0].duplicate;
      if (!read) read = reader->max_event_id() > 0;
    } catch (const storage_error& e) {
      REQUIRE(e.is_unavailable());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  CHECK(written);
  CHECK(read);
  // Nothing of the failed batches was stored.
  auto check = db->open();
  CHECK(pg_int(check, "SELECT count(*) FROM usage_events") == 1);
}

// Not run by default: `CG_TEST_POSTGRES_URL=… unit_storage -ts=storage-bench --no-skip` (docs/benchmarks.md).
TEST_CASE("postgres commit_batch throughput: INSERT … unnest against COPY" * doctest::test_suite("storage-bench") *
          doctest::skip()) {
  // The shape of storage-bench's SQLite case (event_store_test.cpp): batches of rows with growing timestamps,
  // each with a new event_id, a user, a project and meta; each method in a fresh database, twice, alternating.
  const auto rows_of = [](std::int64_t token, int batches, int batch_size) {
    const std::int64_t t0 = utc("2025-01-01");
    std::vector<std::vector<event_row>> work(static_cast<std::size_t>(batches));
    for (int b = 0; b < batches; ++b) {
      for (int i = 0; i < batch_size; ++i) {
        const int n = b * batch_size + i;
        event_row row = make_event(token, "chatcmpl-" + std::to_string(n), t0 + n * 1'000LL);
        row.user = "user-" + std::to_string(i % 50);
        row.project = "project";
        row.meta = R"({"request":"abc","n":1})";
        work[static_cast<std::size_t>(b)].push_back(std::move(row));
      }
    }
    return work;
  };
  for (const auto& [batches, batch_size] : {std::pair{100, 1000}, std::pair{2000, 25}}) {
    for (const auto method : {postgres_insert_method::unnest, postgres_insert_method::copy,
                              postgres_insert_method::unnest, postgres_insert_method::copy}) {
      auto db = postgres_database::create();
      if (!db) return;
      auto writer = open_postgres_writer(at(*db), postgres_options{.insert_method = method});
      const auto token = writer->create_token("bench", "tok-bench", 1).id;
      const auto work = rows_of(token, batches, batch_size);
      writer->commit_batch(work[0]);  // creates the month's partition outside the measurement
      const auto start = std::chrono::steady_clock::now();
      for (std::size_t b = 1; b < work.size(); ++b) writer->commit_batch(work[b]);
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      const auto rows = static_cast<double>((batches - 1) * batch_size);
      MESSAGE(fmt::format("{}: {:.0f} rows/s in {}-row batches ({:.2f} ms per batch)",
                          method == postgres_insert_method::copy ? "COPY" : "INSERT … unnest", rows / elapsed.count(),
                          batch_size, elapsed.count() * 1000 / (batches - 1)));
      CHECK(writer->figures().usage_rows == batches * batch_size);
    }
  }
}

}  // TEST_SUITE
