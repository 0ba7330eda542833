// Import of a Cost Guardian v0.3 (Flask) database, through migrate().
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::query_int;
using cg::storage::test::query_text;
using cg::storage::test::temp_dir;

namespace {

constexpr std::int64_t jan15_1030 = 1'705'314'600'000'000;  // 2024-01-15T10:30:00Z in µs

// What v0.3's db.py plausibly created: text timestamps, REAL costs, AUTOINCREMENT ids.
constexpr std::string_view v0_3_schema = R"sql(
CREATE TABLE ingest_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  label TEXT NOT NULL,
  token TEXT NOT NULL UNIQUE,
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  last_seen_at TEXT
);
CREATE TABLE usage_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT NOT NULL,
  model TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  estimated_cost_usd REAL,
  ingest_token_id INTEGER,
  event_id TEXT
);
CREATE TABLE api_keys (id INTEGER PRIMARY KEY, name TEXT);
)sql";

struct imported_event {
  std::int64_t ts;
  std::int64_t received_at;
  std::optional<std::int64_t> token_id;
  std::optional<std::string> event_id;
  std::string provider;
  std::string model;
  std::int64_t input;
  std::int64_t output;
  std::int64_t total;
  std::int64_t cost_nusd;
  std::string cost_source;
  std::string source;
  std::optional<std::string> meta;
};

imported_event event_with_id(database& db, std::int64_t id) {
  statement q(db,
              "SELECT ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, "
              "cost_nusd, cost_source, source, meta FROM usage_events WHERE id = ?1");
  q.bind(1, id);
  REQUIRE(q.step());
  return imported_event{q.column_int64(0),         q.column_int64(1), q.column_optional_int64(2),
                        q.column_optional_text(3), q.column_text(4),  q.column_text(5),
                        q.column_int64(6),         q.column_int64(7), q.column_int64(8),
                        q.column_int64(9),         q.column_text(10), q.column_text(11),
                        q.column_optional_text(12)};
}

std::string old_tables_fingerprint(database& db) {
  return query_text(db, "SELECT group_concat(x, '|') FROM (SELECT quote(id) || quote(label) || quote(token) || "
                        "quote(active) || quote(created_at) || quote(last_seen_at) AS x FROM ingest_tokens ORDER BY id)") +
         "#" +
         query_text(db, "SELECT group_concat(x, '|') FROM (SELECT quote(id) || quote(timestamp) || quote(model) || "
                        "quote(prompt_tokens) || quote(completion_tokens) || quote(total_tokens) || "
                        "quote(estimated_cost_usd) || quote(ingest_token_id) || quote(event_id) AS x FROM usage_log "
                        "ORDER BY id)");
}

}  // namespace

TEST_SUITE("storage") {

TEST_CASE("a v0.3 database is imported on the first migration") {
  temp_dir dir;
  database db(dir.file("usage_log.sqlite"), open_mode::read_write);
  db.exec(v0_3_schema);
  db.exec(R"sql(
    INSERT INTO ingest_tokens (id, label, token, active, created_at, last_seen_at) VALUES
      (1, 'Production App', 'tokA', 1, '2024-01-10 08:00:00', '2024-01-15T10:30:00Z'),
      (2, 'Staging', 'tokB', 0, '2024-01-11T09:00:00.250000+01:00', NULL),
      (3, 'Production App', 'tokC', 1, 'not a date', NULL);
    INSERT INTO usage_log (id, timestamp, model, prompt_tokens, completion_tokens, total_tokens, estimated_cost_usd,
                           ingest_token_id, event_id) VALUES
      (1, '2024-01-15T10:30:00Z', 'gpt-4o-mini', 10, 5, 15, 0.0000045, 1, 'evt-1'),
      (2, '2024-01-15 10:31:00', 'gpt-4o', 100, 50, NULL, 1.0000000005, 1, 'evt-2'),
      (3, 1705314600, 'gpt-4o', 1, 1, 2, NULL, 2, NULL),
      (4, '2024-01-15T11:30:00.123456789+01:00', NULL, 3, 4, 7, 0.1, 7, 'evt-x'),
      (5, 1705314600123, 'gpt-4o', 1, 2, 3, 0.000001, 1, 'evt-1'),
      (6, 1705314600.5, 'gpt-4o', 0, 0, 0, 0.0, NULL, 'evt-1'),
      (7, '2024-01-15', 'gpt-4o', 2, 2, 4, 1.0000000015, 7, '');
    INSERT INTO api_keys VALUES (1, 'legacy');
  )sql");
  const std::string before = old_tables_fingerprint(db);

  migrate(db);
  REQUIRE(schema_version(db) == latest_schema_version());

  SUBCASE("the old tables are left as they were") {
    CHECK(old_tables_fingerprint(db) == before);
    CHECK(query_int(db, "SELECT count(*) FROM api_keys") == 1);
  }

  SUBCASE("tokens keep their ids, labels and state") {
    token_store tokens(db);
    const auto list = tokens.list();
    REQUIRE(list.size() == 3);  // the placeholder for the deleted token 7 is hidden

    CHECK(list[0].id == 1);
    CHECK(list[0].label == "Production App");
    CHECK(list[0].token == "tokA");
    CHECK(list[0].active);
    CHECK(list[0].created_at_us == 1'704'873'600'000'000);
    // The later of v0.3's last_seen_at and its newest imported event (row 2, 10:31).
    CHECK(list[0].last_seen_at_us == jan15_1030 + 60'000'000);
    CHECK(list[0].usage_count == 3);  // rows 1, 2 and 5

    const auto staging = tokens.find(2);
    REQUIRE(staging);
    CHECK(staging->label == "Staging");
    CHECK_FALSE(staging->active);
    CHECK(staging->created_at_us == 1'704'960'000'250'000);  // the +01:00 offset applied
    CHECK(staging->last_seen_at_us == jan15_1030);           // from its only event
    CHECK(staging->usage_count == 1);

    // v0.3 allowed the label twice; the second one is renamed, not dropped.
    const auto third = tokens.find(3);
    REQUIRE(third);
    CHECK(third->label == "Production App (v0.3 #3)");
    CHECK(third->usage_count == 0);
    CHECK_FALSE(third->last_seen_at_us);
    CHECK(third->created_at_us > jan15_1030);  // unparsable: the time of the import

    // Token 7 was deleted in v0.3; its events point to a deleted placeholder that keeps them together.
    CHECK_FALSE(tokens.find(7));
    CHECK(query_text(db, "SELECT label FROM tracking_tokens WHERE id = 7") == "deleted v0.3 token #7");
    CHECK(query_int(db, "SELECT active FROM tracking_tokens WHERE id = 7") == 0);
    CHECK(query_int(db, "SELECT deleted_at IS NOT NULL FROM tracking_tokens WHERE id = 7") == 1);
    CHECK(query_int(db, "SELECT usage_count FROM tracking_tokens WHERE id = 7") == 2);

    // New tokens continue after the imported ids.
    CHECK(tokens.create("New", "tokNew", 1).id == 8);
  }

  SUBCASE("events keep their ids; times become µs UTC, costs nano-USD") {
    CHECK(query_int(db, "SELECT count(*) FROM usage_events") == 7);
    CHECK(query_int(db, "SELECT count(*) FROM usage_events WHERE source != 'v0.3-import'") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM usage_events WHERE price_ref != ''") == 0);

    const auto e1 = event_with_id(db, 1);
    CHECK(e1.ts == jan15_1030);
    CHECK(e1.received_at == e1.ts);
    CHECK(e1.token_id == 1);
    CHECK(e1.event_id == "evt-1");
    CHECK(e1.provider == "openai");
    CHECK(e1.model == "gpt-4o-mini");
    CHECK(e1.input == 10);
    CHECK(e1.output == 5);
    CHECK(e1.total == 15);
    CHECK(e1.cost_nusd == 4'500);
    CHECK(e1.cost_source == "client");
    CHECK(e1.source == "v0.3-import");
    CHECK_FALSE(e1.meta);

    const auto e2 = event_with_id(db, 2);
    CHECK(e2.ts == jan15_1030 + 60'000'000);  // no offset: UTC
    CHECK(e2.total == 150);                    // NULL total: prompt + completion
    CHECK(e2.cost_nusd == 1'000'000'000);      // 1.0000000005 rounds half to even, once

    const auto e3 = event_with_id(db, 3);
    CHECK(e3.ts == jan15_1030);  // unix seconds
    CHECK(e3.token_id == 2);
    CHECK_FALSE(e3.event_id);
    CHECK(e3.cost_nusd == 0);
    CHECK(e3.cost_source == "unpriced");

    const auto e4 = event_with_id(db, 4);
    CHECK(e4.ts == jan15_1030 + 123'456);  // offset applied, digits past the µs dropped
    CHECK(e4.model == "unknown");
    CHECK(e4.token_id == 7);
    CHECK(e4.cost_nusd == 100'000'000);

    // Row 5 repeats (token 1, evt-1): v0.3 counted it, so it is kept, without the now-unique key.
    const auto e5 = event_with_id(db, 5);
    CHECK(e5.ts == jan15_1030 + 123'000);  // unix milliseconds
    CHECK_FALSE(e5.event_id);
    CHECK(e5.meta == R"({"v0.3_duplicate_event_id":"evt-1"})");
    CHECK(e5.cost_nusd == 1'000);

    const auto e6 = event_with_id(db, 6);
    CHECK(e6.ts == jan15_1030 + 500'000);  // REAL seconds
    CHECK_FALSE(e6.token_id);
    CHECK(e6.event_id == "evt-1");  // no token, so no conflict
    CHECK(e6.cost_nusd == 0);
    CHECK(e6.cost_source == "client");  // a stored 0.0 is still a stored cost

    const auto e7 = event_with_id(db, 7);
    CHECK(e7.ts == jan15_1030 - (10 * 3600 + 30 * 60) * 1'000'000LL);  // a bare date is midnight UTC
    CHECK_FALSE(e7.event_id);                                         // an empty event_id is no event_id
    CHECK(e7.cost_nusd == 1'000'000'002);                             // 1.0000000015: half to even, up
  }

  SUBCASE("migrating again imports nothing twice") {
    migrate(db);
    CHECK(query_int(db, "SELECT count(*) FROM usage_events") == 7);
    CHECK(query_int(db, "SELECT count(*) FROM tracking_tokens") == 4);
  }
}

TEST_CASE("the import reads whichever of the known columns exist") {
  temp_dir dir;
  database db(dir.file("old.sqlite"), open_mode::read_write);

  SUBCASE("usage_log without tokens, with both cost columns and text numbers") {
    db.exec(R"sql(
      CREATE TABLE usage_log (timestamp TEXT, model TEXT, prompt_tokens REAL, cost_usd TEXT, estimated_cost_usd REAL);
      INSERT INTO usage_log VALUES ('2024-03-01T00:00:00Z', 'claude-3-haiku', 12.0, '0.0000022500', 0.5);
      INSERT INTO usage_log VALUES ('2024-03-01T00:00:00+0000', 'claude-3-haiku', '7', NULL, 0.5);
    )sql");
    migrate(db);
    CHECK(query_int(db, "SELECT count(*) FROM tracking_tokens") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM usage_events") == 2);
    CHECK(query_int(db, "SELECT ts FROM usage_events WHERE id = 1") == 1'709'251'200'000'000);
    CHECK(query_int(db, "SELECT ts FROM usage_events WHERE id = 2") == 1'709'251'200'000'000);
    CHECK(query_int(db, "SELECT input_tokens FROM usage_events WHERE id = 1") == 12);
    CHECK(query_int(db, "SELECT input_tokens FROM usage_events WHERE id = 2") == 7);
    CHECK(query_int(db, "SELECT output_tokens FROM usage_events WHERE id = 1") == 0);
    CHECK(query_int(db, "SELECT total_tokens FROM usage_events WHERE id = 1") == 12);
    CHECK(query_int(db, "SELECT token_id IS NULL FROM usage_events WHERE id = 1") == 1);
    CHECK(query_int(db, "SELECT cost_nusd FROM usage_events WHERE id = 1") == 2'250);  // cost_usd wins
    CHECK(query_int(db, "SELECT cost_nusd FROM usage_events WHERE id = 2") == 500'000'000);
  }
  SUBCASE("only ingest_tokens, with few columns") {
    db.exec(R"sql(
      CREATE TABLE ingest_tokens (id INTEGER PRIMARY KEY, token TEXT, active TEXT);
      INSERT INTO ingest_tokens VALUES (4, 'tok4', 'true'), (9, 'tok9', 'false'), (10, NULL, NULL);
    )sql");
    migrate(db);
    token_store tokens(db);
    const auto list = tokens.list();
    REQUIRE(list.size() == 3);
    CHECK(list[0].id == 4);
    CHECK(list[0].label == "v0.3 token 4");
    CHECK(list[0].active);
    CHECK(list[1].id == 9);
    CHECK_FALSE(list[1].active);
    CHECK(list[2].token == "v0.3-token-10");
    CHECK(list[2].active);
    CHECK(list[2].usage_count == 0);
    CHECK_FALSE(list[2].last_seen_at_us);
  }
}

TEST_CASE("an unconvertible v0.3 row stops the import and changes nothing") {
  temp_dir dir;
  database db(dir.file("usage_log.sqlite"), open_mode::read_write);
  db.exec(v0_3_schema);
  db.exec("INSERT INTO ingest_tokens (id, label, token) VALUES (1, 'a', 'tokA')");

  std::string expected;
  SUBCASE("a timestamp") {
    db.exec("INSERT INTO usage_log (id, timestamp, model, ingest_token_id) VALUES (1, '2024-01-15T10:30:00Z', 'm', 1)");
    db.exec("INSERT INTO usage_log (id, timestamp, model, ingest_token_id) VALUES (2, 'last tuesday', 'm', 1)");
    expected = "usage_log, row 2: the timestamp 'last tuesday' is neither ISO-8601 nor a unix time";
  }
  SUBCASE("a token count") {
    db.exec("INSERT INTO usage_log (id, timestamp, model, prompt_tokens) VALUES (3, '2024-01-15', 'm', 'lots')");
    expected = "usage_log, row 3: prompt_tokens 'lots' is not a whole number";
  }
  SUBCASE("a cost") {
    db.exec("INSERT INTO usage_log (id, timestamp, model, estimated_cost_usd) VALUES (4, '2024-01-15', 'm', '$1')");
    expected = "usage_log, row 4: estimated_cost_usd '$1' is not a decimal amount of USD";
  }
  const std::string before = old_tables_fingerprint(db);

  const auto error = error_of([&] { migrate(db); });
  REQUIRE(error);
  CHECK(error->extended_code() == SQLITE_MISMATCH);
  CHECK_MESSAGE(std::string(error->what()).find(expected) != std::string::npos, error->what());
  CHECK(schema_version(db) == 0);
  CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('tracking_tokens', 'usage_events')") == 0);
  CHECK(old_tables_fingerprint(db) == before);
}

}  // TEST_SUITE
