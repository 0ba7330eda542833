// The upgrade from Cost Guardian v0.3 / v0.2 (the Flask app), through migrate() and open_database(). The old
// databases are built from tests/support/v03/*.sql: the old app's own statements, in its order.
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"
#include "cg/storage/v03_import.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>
#include <string>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::query_int;
using cg::storage::test::query_text;
using cg::storage::test::temp_dir;

namespace {

std::string support_sql(const std::string& name) {
  std::ifstream in(std::string(CG_TEST_SUPPORT_DIR) + "/v03/" + name);
  REQUIRE_MESSAGE(in, "cannot read tests/support/v03/" << name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A v0.3 file: v0.2's tables, then what v0.3 ran on them.
void create_v03(database& db) {
  db.exec(support_sql("v02_schema.sql"));
  db.exec(support_sql("v03_migration.sql"));
}

// The kinds of rows the old app wrote: int() counts, float() costs, ISO times with Z, an offset, or none, and
// DATETIME('now') text; /log rows with source 'legacy' and no token or event id; a hard-deleted token's rows (Python's
// sqlite3 leaves foreign keys off, so its ON DELETE SET NULL never fired and the rows kept the dangling id).
constexpr std::string_view v03_rows = R"sql(
PRAGMA foreign_keys = OFF;
INSERT INTO ingest_tokens (label, token, active, created_at, last_seen_at) VALUES
  ('Production App', 'tokA', 1, '2024-01-10 08:00:00', '2024-01-15T10:30:00Z'),
  ('Staging', 'tokB', 0, '2024-01-11 09:00:00', NULL),
  ('Gone', 'tokGone', 1, '2024-01-11 09:00:00', NULL);
INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens, estimatedCostUSD,
                       ingest_token_id, source, event_id) VALUES
  ('2024-01-15T10:30:00Z', 'gpt-4o-mini', 1200, 350, 1550, 0.1 + 0.2, 1, 'ingest', 'chatcmpl-1'),
  ('2024-01-15T10:31:00', 'gpt-4o', 100, 50, 150, 1.0000000005, 1, 'ingest', 'chatcmpl-2'),
  ('2024-01-15 11:30:00', 'gpt-4o-mini', 12, 34, 46, 0.0000222, NULL, 'legacy', NULL),
  ('2024-01-15T12:30:00+02:00', 'gpt-4o', 7, 0, 7, 1.5e-9, 3, 'ingest', 'chatcmpl-3'),
  ('2024-01-15T10:30:00.123456Z', '  ', 0, 0, 0, 0.0, 2, 'ingest', 'chatcmpl-4'),
  ('2024-01-16 00:00:00', 'gpt-4o-mini', 5, 5, 10, NULL, NULL, 'legacy', NULL);
DELETE FROM ingest_tokens WHERE id = 3;
PRAGMA foreign_keys = ON;
)sql";

constexpr std::int64_t jan15_1030 = 1'705'314'600'000'000;  // 2024-01-15T10:30:00Z in µs

struct stored_row {
  std::int64_t ts, input, output, total, cost_nusd;
  std::optional<std::int64_t> token_id;
  std::optional<std::string> event_id;
  std::string model, cost_source, source;
};

stored_row row_with_id(database& db, std::int64_t id) {
  statement q(db,
              "SELECT ts, input_tokens, output_tokens, total_tokens, cost_nusd, token_id, event_id, model, "
              "cost_source, source FROM usage_events WHERE id = ?1");
  q.bind(1, id);
  REQUIRE(q.step());
  return {q.column_int64(0),          q.column_int64(1),          q.column_int64(2), q.column_int64(3),
          q.column_int64(4),          q.column_optional_int64(5), q.column_optional_text(6),
          q.column_text(7),           q.column_text(8),           q.column_text(9)};
}

std::string old_tables_fingerprint(database& db) {
  return query_text(db, "SELECT group_concat(x, '|') FROM (SELECT quote(id) || quote(label) || quote(token) || "
                        "quote(active) || quote(created_at) || quote(last_seen_at) AS x FROM ingest_tokens "
                        "ORDER BY id)") +
         "#" +
         query_text(db, "SELECT group_concat(x, '|') FROM (SELECT quote(id) || quote(timestamp) || quote(model) || "
                        "quote(promptTokens) || quote(completionTokens) || quote(totalTokens) || "
                        "quote(estimatedCostUSD) || quote(ingest_token_id) || quote(source) || quote(event_id) AS x "
                        "FROM usage_log ORDER BY id)");
}

}  // namespace

TEST_SUITE("storage") {

TEST_CASE("a v0.3 database keeps every count, cost, time, token and event id") {
  temp_dir dir;
  database db(dir.file("usage_log.sqlite"), open_mode::read_write);
  create_v03(db);
  db.exec(v03_rows);
  const std::string before = old_tables_fingerprint(db);

  std::optional<v03_report> report;
  migration_observer observer;
  observer.on_v03_report = [&](const v03_report& r) { report = r; };
  migrate(db, observer);
  REQUIRE(schema_version(db) == latest_schema_version());
  REQUIRE(report);

  SUBCASE("the report adds up, old and new side by side") {
    CHECK(report->action == v03_action::imported);
    CHECK(report->generation == "v0.3");
    CHECK(report->consistent());
    CHECK(report->before == report->after);
    CHECK(report->before.tokens == 2);
    CHECK(report->before.rows == 6);
    CHECK(report->before.counts.input == 1200 + 100 + 12 + 7 + 5);
    CHECK(report->before.counts.output == 350 + 50 + 34 + 5);
    CHECK(report->before.counts.total == 1550 + 150 + 46 + 7 + 10);
    CHECK(report->before.cost_nusd == 300'000'000 + 1'000'000'000 + 22'200 + 2);
    CHECK(report->before.unpriced_rows == 1);
    CHECK(report->before.rows_by_source == std::map<std::string, std::int64_t>{{"ingest", 4}, {"log", 2}});
    CHECK(report->placeholder_tokens == 1);
    CHECK(report->unknown_columns.empty());
    // The REAL sum may differ from the per-row rounding by at most half a nano-USD a row.
    CHECK(std::abs(report->old_cost_real_sum * 1e9 - static_cast<double>(report->before.cost_nusd)) <= 0.5 * 6 + 1e-3);
    REQUIRE(report->notes.size() == 1);
    CHECK(report->notes[0].find("api_keys") != std::string::npos);
  }

  SUBCASE("the old tables are left as they were") { CHECK(old_tables_fingerprint(db) == before); }

  SUBCASE("each row, field by field") {
    const auto r1 = row_with_id(db, 1);
    CHECK(r1.ts == jan15_1030);
    CHECK(r1.model == "gpt-4o-mini");
    CHECK(r1.input == 1200);
    CHECK(r1.output == 350);
    CHECK(r1.total == 1550);
    CHECK(r1.cost_nusd == 300'000'000);  // 0.1 + 0.2 = 0.30000000000000004, rounded once
    CHECK(r1.cost_source == "v0.3-import");
    CHECK(r1.source == "ingest");
    CHECK(r1.token_id == 1);
    CHECK(r1.event_id == "chatcmpl-1");

    const auto r2 = row_with_id(db, 2);
    CHECK(r2.ts == jan15_1030 + 60'000'000);  // naive: UTC
    CHECK(r2.cost_nusd == 1'000'000'000);     // 1.0000000005: half to even, down

    const auto r3 = row_with_id(db, 3);  // a /log row
    CHECK(r3.ts == jan15_1030 + 3'600'000'000);  // DATETIME('now') text
    CHECK(r3.source == "log");
    CHECK_FALSE(r3.token_id);
    CHECK_FALSE(r3.event_id);
    CHECK(r3.cost_nusd == 22'200);

    const auto r4 = row_with_id(db, 4);  // its token was deleted in v0.3
    CHECK(r4.ts == jan15_1030);          // +02:00 applied
    CHECK(r4.cost_nusd == 2);            // 1.5e-9: half to even, up
    CHECK(r4.token_id == 3);
    CHECK(query_text(db, "SELECT label FROM tracking_tokens WHERE id = 3") == "deleted v0.3 token #3");
    CHECK(query_int(db, "SELECT deleted_at IS NOT NULL FROM tracking_tokens WHERE id = 3") == 1);

    const auto r5 = row_with_id(db, 5);
    CHECK(r5.ts == jan15_1030 + 123'456);
    CHECK(r5.model == "unknown");  // blank in the old table
    CHECK(r5.cost_nusd == 0);
    CHECK(r5.cost_source == "v0.3-import");  // a stored 0.0 is still a stored cost

    const auto r6 = row_with_id(db, 6);
    CHECK(r6.cost_nusd == 0);
    CHECK(r6.cost_source == "unpriced");  // no cost in the old row: `reprice` can price it
  }

  SUBCASE("tokens keep their ids, labels and state") {
    token_store tokens(db);
    const auto list = tokens.list();
    REQUIRE(list.size() == 2);
    CHECK(list[0].token == "tokA");
    CHECK(list[0].label == "Production App");
    CHECK(list[0].usage_count == 2);
    CHECK_FALSE(list[1].active);
    CHECK(list[1].created_at_us == 1'704'963'600'000'000);
  }

  SUBCASE("migrating again changes nothing, and verifying again agrees") {
    migrate(db);
    CHECK(query_int(db, "SELECT count(*) FROM usage_events") == 6);
    const auto again = verify_v03(db);
    CHECK(again.action == v03_action::verified);
    CHECK(again.consistent());
    CHECK(again.after == report->after);
  }
}

TEST_CASE("a v0.2 database: usage_log without the v0.3 columns, and api_keys") {
  temp_dir dir;
  database db(dir.file("v02.sqlite"), open_mode::read_write);
  db.exec(support_sql("v02_schema.sql"));
  db.exec(R"sql(
    INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens, estimatedCostUSD)
      VALUES ('2024-03-01T00:00:00Z', 'gpt-4o-mini', 10, 20, 30, 0.000015),
             ('2024-03-02 00:00:00', 'gpt-4o', 1, 2, NULL, 0.5);
    INSERT INTO api_keys (label, enc_key) VALUES ('old key', x'00');
  )sql");
  std::optional<v03_report> report;
  migration_observer observer;
  observer.on_v03_report = [&](const v03_report& r) { report = r; };
  migrate(db, observer);
  REQUIRE(report);
  CHECK(report->generation == "v0.2");
  CHECK(report->consistent());
  CHECK(report->before.tokens == 0);
  CHECK(report->before.rows_by_source == std::map<std::string, std::int64_t>{{"ingest", 2}});
  CHECK(report->before.cost_nusd == 500'015'000);
  CHECK(query_int(db, "SELECT total_tokens FROM usage_events WHERE id = 2") == 3);  // NULL total: prompt + completion
  CHECK(query_int(db, "SELECT count(*) FROM tracking_tokens") == 0);
  CHECK(query_int(db, "SELECT count(*) FROM api_keys") == 1);
}

TEST_CASE("the import never guesses: a missing column or an unreadable value stops it, changing nothing") {
  temp_dir dir;
  database db(dir.file("usage_log.sqlite"), open_mode::read_write);
  std::string expected;
  SUBCASE("a column the old app always had") {
    db.exec("CREATE TABLE usage_log (id INTEGER PRIMARY KEY, timestamp TEXT, model TEXT, promptTokens INTEGER, "
            "totalTokens INTEGER, estimatedCostUSD REAL)");
    expected = "usage_log: it has no column completionTokens";
  }
  SUBCASE("a count") {
    create_v03(db);
    db.exec("INSERT INTO usage_log (timestamp, model, promptTokens) VALUES ('2024-01-15', 'm', 'lots')");
    expected = "usage_log, column promptTokens, row 1: 'lots' is not a whole number";
  }
  SUBCASE("a count with a fraction") {
    create_v03(db);
    db.exec("INSERT INTO usage_log (timestamp, model, completionTokens) VALUES ('2024-01-15', 'm', 2.5)");
    expected = "usage_log, column completionTokens, row 1: '2.5' is not a whole number";
  }
  SUBCASE("a cost") {
    create_v03(db);
    db.exec("INSERT INTO usage_log (timestamp, model, estimatedCostUSD) VALUES ('2024-01-15', 'm', '$1')");
    expected = "usage_log, column estimatedCostUSD, row 1: '$1' is not a decimal amount of USD";
  }
  SUBCASE("a time") {
    create_v03(db);
    db.exec("INSERT INTO usage_log (timestamp, model) VALUES ('last tuesday', 'm')");
    expected = "usage_log, column timestamp, row 1: 'last tuesday' is neither ISO-8601 nor a unix time";
  }
  SUBCASE("a source") {
    create_v03(db);
    db.exec("INSERT INTO usage_log (timestamp, model, source) VALUES ('2024-01-15', 'm', 'fax')");
    expected = "usage_log, column source, row 1: 'fax' is neither 'ingest' nor 'legacy'";
  }
  const auto error = error_of([&] { migrate(db); });
  REQUIRE(error);
  CHECK(error->extended_code() == SQLITE_MISMATCH);
  CHECK_MESSAGE(std::string(error->what()).find(expected) != std::string::npos, error->what());
  CHECK(std::string(error->what()).find('\n') == std::string::npos);  // one line
  // From version 0 every step is one transaction: the file is as it was, and the next start imports afresh.
  CHECK(schema_version(db) == 0);
  CHECK(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('tracking_tokens', 'usage_events')") == 0);
}

TEST_CASE("unknown extra columns are listed, not fatal") {
  temp_dir dir;
  database db(dir.file("usage_log.sqlite"), open_mode::read_write);
  create_v03(db);
  db.exec("ALTER TABLE usage_log ADD COLUMN region TEXT");
  db.exec("INSERT INTO usage_log (timestamp, model, promptTokens, region) VALUES ('2024-01-15', 'm', 3, 'eu')");
  std::optional<v03_report> report;
  migration_observer observer;
  observer.on_v03_report = [&](const v03_report& r) { report = r; };
  migrate(db, observer);
  REQUIRE(report);
  CHECK(report->unknown_columns == std::vector<std::string>{"usage_log.region"});
  CHECK(report->consistent());
}

TEST_CASE("a file an earlier release converted without counts and costs is repaired from the old table") {
  temp_dir dir;
  const auto path = dir.file("usage_log.sqlite");
  {
    database db(path, open_mode::read_write);
    create_v03(db);
    db.exec(v03_rows);
    migrate(db);
    // What the release before schema step 4 left: its step 1 looked for snake_case columns, found none, and stored
    // every row with zero counts (a NULL total became prompt + completion = 0), no cost (`unpriced`) and source
    // `v0.3-import`; its schema went up to version 3.
    db.exec("UPDATE usage_events SET input_tokens = 0, output_tokens = 0, total_tokens = 0, cost_nusd = 0, "
            "cost_source = 'unpriced', source = 'v0.3-import'; PRAGMA user_version = 3;");
    db.exec("DELETE FROM usage_events WHERE id = 6");  // and one row was deleted since
  }
  std::optional<v03_report> report;
  migration_observer observer;
  observer.on_v03_report = [&](const v03_report& r) { report = r; };
  database db = open_database(path, durability::normal, observer);
  REQUIRE(report);
  CHECK(report->action == v03_action::repaired);
  CHECK(report->rows_changed == 5);
  CHECK(report->rows_missing == 1);
  CHECK(report->rows_mismatched == 0);
  CHECK_FALSE(report->consistent());  // a deleted row cannot come back, and the summary says so
  CHECK(report->after.rows == 5);
  CHECK(report->after.cost_nusd == 300'000'000 + 1'000'000'000 + 22'200 + 2);
  const auto r1 = row_with_id(db, 1);
  CHECK(r1.input == 1200);
  CHECK(r1.total == 1550);
  CHECK(r1.cost_source == "v0.3-import");
  CHECK(row_with_id(db, 3).source == "log");
  // The copy beside the file is the converted-but-unrepaired database, as it was.
  REQUIRE_FALSE(report->backup.empty());
  CHECK(report->backup == dir.file("usage_log.sqlite.v0.3-backup"));
  database backup(report->backup, open_mode::read_only);
  CHECK(schema_version(backup) == 3);
  CHECK(query_int(backup, "SELECT sum(input_tokens) FROM usage_events") == 0);
}

TEST_CASE("open_database copies a v0.3 file beside itself before it changes it") {
  temp_dir dir;
  const auto path = dir.file("usage_log.sqlite");
  {
    database db(path, open_mode::read_write);
    db.exec("PRAGMA journal_mode = DELETE");  // the old app's rollback journal
    create_v03(db);
    db.exec(v03_rows);
  }
  (void)open_database(path, durability::normal);
  const auto backup = dir.file("usage_log.sqlite.v0.3-backup");
  REQUIRE(std::filesystem::exists(backup));
  database old(backup, open_mode::read_only);
  CHECK(schema_version(old) == 0);
  CHECK(query_int(old, "SELECT count(*) FROM sqlite_master WHERE name = 'usage_events'") == 0);
  CHECK(query_text(old, "PRAGMA journal_mode") == "delete");
  CHECK(query_int(old, "SELECT sum(promptTokens) FROM usage_log") == 1324);
  // An upgraded file needs no second copy.
  (void)open_database(path, durability::normal);
  CHECK_FALSE(std::filesystem::exists(dir.file("usage_log.sqlite.v0.3-backup.2")));
}

}  // TEST_SUITE
