#include "cg/storage/schema.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <set>
#include <string>
#include <vector>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::query_int;
using cg::storage::test::temp_dir;

namespace {

std::set<std::string> schema_objects(database& db, const std::string& type) {
  statement query(db, "SELECT name FROM sqlite_master WHERE type = ?1");
  query.bind(1, type);
  std::set<std::string> names;
  while (query.step()) names.insert(query.column_text(0));
  return names;
}

std::vector<std::string> schema_sql(database& db) {
  statement query(db, "SELECT coalesce(sql, '') FROM sqlite_master ORDER BY type, name");
  std::vector<std::string> sql;
  while (query.step()) sql.push_back(query.column_text(0));
  return sql;
}

/// The EXPLAIN QUERY PLAN lines of `sql`, joined.
std::string query_plan(database& db, const std::string& sql) {
  statement query(db, "EXPLAIN QUERY PLAN " + sql);
  std::string plan;
  while (query.step()) plan += query.column_text(3) + "\n";
  return plan;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("storage") {

TEST_CASE("migrating an empty database creates the whole schema") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);
  CHECK(schema_version(db) == 0);
  migrate(db);

  CHECK(latest_schema_version() >= 1);
  CHECK(schema_version(db) == latest_schema_version());
  CHECK(query_int(db, "PRAGMA user_version") == latest_schema_version());

  const auto tables = schema_objects(db, "table");
  CHECK(tables.contains("tracking_tokens"));
  CHECK(tables.contains("usage_events"));
  CHECK_FALSE(tables.contains("usage_log"));  // nothing to import here

  const auto indexes = schema_objects(db, "index");
  CHECK(indexes.contains("tracking_tokens_live_label"));
  CHECK(indexes.contains("usage_events_ts"));
  CHECK(indexes.contains("usage_events_model_ts"));
  CHECK(indexes.contains("usage_events_token_ts"));

  // The columns other modules rely on.
  statement info(db, "SELECT name FROM pragma_table_info('usage_events')");
  std::set<std::string> columns;
  while (info.step()) columns.insert(info.column_text(0));
  for (const char* name : {"id", "ts", "received_at", "token_id", "event_id", "provider", "model", "input_tokens",
                           "output_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens",
                           "reasoning_tokens", "cost_nusd", "cost_source", "price_ref", "source", "user",
                           "session_id", "session_type", "project", "feature", "environment", "meta"}) {
    CHECK_MESSAGE(columns.contains(name), name);
  }

  SUBCASE("the tables are STRICT") {
    db.exec("INSERT INTO tracking_tokens (label, token, created_at) VALUES ('a', 't', 1)");
    const auto error = error_of([&] {
      db.exec("INSERT INTO usage_events (ts, received_at, token_id, model, cost_source, source) "
              "VALUES ('yesterday', 1, 1, 'm', 'server', 'ingest')");
    });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_DATATYPE);
  }
  SUBCASE("events need an existing token") {
    const auto error = error_of([&] {
      db.exec("INSERT INTO usage_events (ts, received_at, token_id, model, cost_source, source) "
              "VALUES (1, 1, 12345, 'm', 'server', 'ingest')");
    });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
  }
}

TEST_CASE("the hot filters use an index") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);
  migrate(db);

  const std::string by_token = query_plan(db, "SELECT * FROM usage_events WHERE token_id = ?1 AND ts BETWEEN ?2 AND ?3");
  CHECK_MESSAGE(contains(by_token, "USING INDEX usage_events_token_ts (token_id=? AND ts>? AND ts<?)"), by_token);

  const std::string by_model = query_plan(db, "SELECT * FROM usage_events WHERE model = ?1 AND ts BETWEEN ?2 AND ?3");
  CHECK_MESSAGE(contains(by_model, "USING INDEX usage_events_model_ts (model=? AND ts>? AND ts<?)"), by_model);

  const std::string by_time = query_plan(db, "SELECT * FROM usage_events WHERE ts BETWEEN ?1 AND ?2 ORDER BY ts DESC");
  CHECK_MESSAGE(contains(by_time, "USING INDEX usage_events_ts (ts>? AND ts<?)"), by_time);
  CHECK_MESSAGE(!contains(by_time, "TEMP B-TREE"), by_time);

  const std::string dedupe = query_plan(db, "SELECT id FROM usage_events WHERE token_id = ?1 AND event_id = ?2");
  CHECK_MESSAGE(contains(dedupe, "(token_id=? AND event_id=?)"), dedupe);

  const std::string live_tokens = query_plan(db, "SELECT id FROM tracking_tokens WHERE token = ?1");
  CHECK_MESSAGE(contains(live_tokens, "(token=?)"), live_tokens);
}

TEST_CASE("migrating twice is a no-op") {
  temp_dir dir;
  {
    database db(dir.file("cg.db"), open_mode::read_write);
    migrate(db);
    db.exec("INSERT INTO tracking_tokens (label, token, created_at) VALUES ('kept', 'tok', 1)");
  }
  database db(dir.file("cg.db"), open_mode::read_write);
  const auto before = schema_sql(db);
  migrate(db);
  migrate(db);
  CHECK(schema_sql(db) == before);
  CHECK(schema_version(db) == latest_schema_version());
  CHECK(query_int(db, "SELECT count(*) FROM tracking_tokens") == 1);
}

TEST_CASE("a version-1 database is brought to the latest version with its data kept") {
  temp_dir dir;
  {
    database db(dir.file("cg.db"), open_mode::read_write);
    migrate(db);
    db.exec("INSERT INTO tracking_tokens (label, token, active, created_at) VALUES ('app', 'tok', 1, 1)");
    // Back to what version 1 wrote: no health_probe table (v2), no session and user indexes (v3).
    db.exec("DROP TABLE health_probe; DROP INDEX usage_events_session_ts; DROP INDEX usage_events_user_ts; "
            "PRAGMA user_version = 1");
  }
  database db(dir.file("cg.db"), open_mode::read_write);
  CHECK(schema_version(db) == 1);
  migrate(db);
  CHECK(schema_version(db) == latest_schema_version());
  CHECK(schema_objects(db, "table").contains("health_probe"));
  CHECK(schema_objects(db, "index").contains("usage_events_session_ts"));
  CHECK(query_int(db, "SELECT count(*) FROM tracking_tokens WHERE token = 'tok'") == 1);
}

TEST_CASE("a database from a newer Cost Guardian is refused") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);
  migrate(db);
  const int newer = latest_schema_version() + 1;
  db.exec("PRAGMA user_version = " + std::to_string(newer));

  const auto error = error_of([&] { migrate(db); });
  REQUIRE(error);
  const std::string what = error->what();
  CHECK_MESSAGE(contains(what, "written by a newer Cost Guardian"), what);
  CHECK_MESSAGE(contains(what, "understands up to version " + std::to_string(latest_schema_version())), what);
  CHECK_MESSAGE(contains(what, "schema version " + std::to_string(newer)), what);
  CHECK(schema_version(db) == newer);  // untouched

  CHECK(error_of([&] { require_current_schema(db); }));
  CHECK(error_of([&] { (void)open_database(dir.file("cg.db")); }));
}

TEST_CASE("read-only connections check the version instead of migrating") {
  temp_dir dir;
  { database created(dir.file("cg.db"), open_mode::read_write); }  // an empty database at version 0
  {
    database reader(dir.file("cg.db"), open_mode::read_only);
    const auto error = error_of([&] { require_current_schema(reader); });
    REQUIRE(error);
    CHECK(contains(error->what(), "must be migrated"));
    CHECK(error_of([&] { migrate(reader); }));  // cannot write
  }
  database writer = open_database(dir.file("cg.db"), durability::normal);
  CHECK(schema_version(writer) == latest_schema_version());
  CHECK(query_int(writer, "PRAGMA synchronous") == 1);
  database reader(dir.file("cg.db"), open_mode::read_only);
  CHECK_NOTHROW(require_current_schema(reader));
  CHECK_NOTHROW(migrate(reader));  // nothing to do, so nothing to write
}

}  // TEST_SUITE
