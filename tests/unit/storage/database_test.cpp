// Every public header of cg::storage first, so each compiles on its own.
#include "cg/storage/calendar.hpp"
#include "cg/storage/cost_report.hpp"
#include "cg/storage/database.hpp"
#include "cg/storage/event_columns.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/event_row.hpp"
#include "cg/storage/event_store.hpp"
#include "cg/storage/project_rules.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>
#include <utility>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::query_int;
using cg::storage::test::query_text;
using cg::storage::test::temp_dir;

TEST_SUITE("storage") {

TEST_CASE("a read-write connection applies the project's pragmas") {
  temp_dir dir;

  SUBCASE("durability full") {
    database db(dir.file("cg.db"), open_mode::read_write, durability::full);
    CHECK(std::filesystem::exists(dir.file("cg.db")));
    CHECK(query_text(db, "PRAGMA journal_mode") == "wal");
    CHECK(query_int(db, "PRAGMA synchronous") == 2);  // FULL
    CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
    CHECK(query_int(db, "PRAGMA busy_timeout") == 5000);
    CHECK(query_int(db, "PRAGMA temp_store") == 2);  // MEMORY
    CHECK(query_int(db, "PRAGMA cache_size") == -16384);
    CHECK(db.path() == dir.file("cg.db"));
  }
  SUBCASE("durability normal") {
    database db(dir.file("cg.db"), open_mode::read_write, durability::normal);
    CHECK(query_text(db, "PRAGMA journal_mode") == "wal");
    CHECK(query_int(db, "PRAGMA synchronous") == 1);  // NORMAL
  }
}

TEST_CASE("a read-only connection reads, never writes") {
  temp_dir dir;
  {
    database writer(dir.file("cg.db"), open_mode::read_write);
    writer.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)");
  }
  database reader(dir.file("cg.db"), open_mode::read_only);
  CHECK(query_text(reader, "PRAGMA journal_mode") == "wal");  // WAL is a property of the file
  CHECK(query_int(reader, "SELECT x FROM t") == 42);
  CHECK(query_int(reader, "PRAGMA foreign_keys") == 1);
  CHECK(query_int(reader, "PRAGMA cache_size") == -2048);  // readers scan or seek: a small cache is enough
  const auto error = error_of([&] { reader.exec("INSERT INTO t VALUES (1)"); });
  REQUIRE(error);
  CHECK((error->extended_code() & 0xff) == SQLITE_READONLY);
}

TEST_CASE("opening fails clearly") {
  temp_dir dir;

  SUBCASE("the directory does not exist") {
    const auto error = error_of([&] { database db(dir.file("missing/cg.db"), open_mode::read_write); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CANTOPEN);
    CHECK(std::string(error->what()).find("does not exist") != std::string::npos);
    CHECK(std::string(error->what()).find("missing") != std::string::npos);
  }
  SUBCASE("a read-only database that does not exist") {
    const auto error = error_of([&] { database db(dir.file("nothing.db"), open_mode::read_only); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CANTOPEN);
    CHECK(std::string(error->what()).find("nothing.db") != std::string::npos);
  }
  SUBCASE("a file that is not a database") {
    {
      std::FILE* file = std::fopen(dir.file("junk.db").c_str(), "wb");
      REQUIRE(file != nullptr);
      const std::string junk(4096, 'x');
      std::fwrite(junk.data(), 1, junk.size(), file);
      std::fclose(file);
    }
    const auto error = error_of([&] { database db(dir.file("junk.db"), open_mode::read_write); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_NOTADB);
  }
}

TEST_CASE("errors keep the extended code, SQLite's message and the SQL") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);

  SUBCASE("exec") {
    const auto error = error_of([&] { db.exec("CREATE TABL oops (x)"); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_ERROR);
    const std::string what = error->what();
    CHECK(what.find("CREATE TABL oops") != std::string::npos);
    CHECK(what.find("syntax error") != std::string::npos);
    CHECK(what.find("cg.db") != std::string::npos);
  }
  SUBCASE("prepare") {
    const auto error = error_of([&] { statement s(db, "SELECT * FROM no_such_table"); });
    REQUIRE(error);
    CHECK(std::string(error->what()).find("no such table: no_such_table") != std::string::npos);
  }
  SUBCASE("step: a unique violation") {
    db.exec("CREATE TABLE t (x INTEGER UNIQUE)");
    statement insert(db, "INSERT INTO t (x) VALUES (?1)");
    insert.bind(1, 7);
    insert.step();
    insert.reset();
    insert.bind(1, 7);
    const auto error = error_of([&] { insert.step(); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_UNIQUE);
    CHECK(error->is_unique_violation());
    CHECK(std::string(error->what()).find("INSERT INTO t") != std::string::npos);
    // The failed statement was reset by step(), so it can be used again.
    insert.reset();
    insert.bind(1, 8);
    CHECK_FALSE(insert.step());
    CHECK(query_int(db, "SELECT count(*) FROM t") == 2);
  }
  SUBCASE("a foreign key is not a unique violation") {
    db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id))");
    const auto error = error_of([&] { db.exec("INSERT INTO child VALUES (5)"); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
    CHECK_FALSE(error->is_unique_violation());
  }
  SUBCASE("two statements in one prepare") {
    const auto error = error_of([&] { statement s(db, "SELECT 1; SELECT 2"); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_MISUSE);
  }
}

TEST_CASE("statement binds and reads every supported type") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);
  statement s(db, "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11");
  const std::string owned = "owned string";
  const std::optional<std::string> some_text = "optional";
  const std::optional<std::int64_t> some_int = 99;
  s.bind(1, std::int64_t{-5})
      .bind(2, 3)  // an int literal picks the integer overload
      .bind(3, "literal")
      .bind(4, owned)
      .bind(5, std::string_view("view"))
      .bind(6, std::nullopt)
      .bind(7, some_text)
      .bind(8, std::optional<std::string>{})
      .bind(9, some_int)
      .bind(10, std::optional<std::int64_t>{})
      .bind(11, "");
  REQUIRE(s.step());
  CHECK(s.column_int64(0) == -5);
  CHECK(s.column_int64(1) == 3);
  CHECK(s.column_text(2) == "literal");
  CHECK(s.column_text(3) == "owned string");
  CHECK(s.column_text(4) == "view");
  CHECK(s.column_is_null(5));
  CHECK(s.column_optional_text(5) == std::nullopt);
  CHECK(s.column_optional_text(6) == "optional");
  CHECK(s.column_is_null(7));
  CHECK(s.column_optional_int64(8) == 99);
  CHECK(s.column_optional_int64(9) == std::nullopt);
  CHECK_FALSE(s.column_is_null(10));  // "" is text, not NULL
  CHECK(s.column_text(10).empty());
  CHECK_FALSE(s.step());

  SUBCASE("reset clears the bindings") {
    s.reset();
    REQUIRE(s.step());
    CHECK(s.column_is_null(0));
  }
  SUBCASE("rewind keeps them") {
    s.rewind();
    REQUIRE(s.step());
    CHECK(s.column_int64(0) == -5);
  }
  SUBCASE("bind copies text; bind_static reads the caller's") {
    statement t(db, "SELECT ?1, ?2");
    std::string copied = "before";
    std::string kept = "before";
    t.bind(1, copied).bind_static(2, kept);
    copied[0] = 'B';
    kept[0] = 'B';
    REQUIRE(t.step());
    CHECK(t.column_text(0) == "before");
    CHECK(t.column_text(1) == "Before");
  }
  SUBCASE("text survives a round trip byte for byte") {
    const std::string tricky = std::string("zero\0byte", 9) + " \xC3\xA9 \"quote\"";
    statement t(db, "SELECT ?1, length(CAST(?1 AS BLOB))");
    t.bind(1, tricky);
    REQUIRE(t.step());
    CHECK(t.column_text(0) == tricky);
    CHECK(t.column_int64(1) == static_cast<std::int64_t>(tricky.size()));
  }
}

TEST_CASE("moving a database or a statement moves the handle") {
  temp_dir dir;
  database a(dir.file("a.db"), open_mode::read_write);
  sqlite3* handle = a.handle();
  database b(std::move(a));
  CHECK(a.handle() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is what is tested
  CHECK(b.handle() == handle);
  CHECK(b.path() == dir.file("a.db"));

  database c(dir.file("c.db"), open_mode::read_write);
  c = std::move(b);  // closes c's own connection
  CHECK(c.handle() == handle);
  CHECK(query_text(c, "PRAGMA journal_mode") == "wal");

  statement s(c, "SELECT 7");
  statement t(std::move(s));
  CHECK(s.handle() == nullptr);  // NOLINT(bugprone-use-after-move)
  REQUIRE(t.step());
  CHECK(t.column_int64(0) == 7);
  statement u(c, "SELECT 8");
  u = std::move(t);
  t = std::move(u);
  t.reset();
  REQUIRE(t.step());
  CHECK(t.column_int64(0) == 7);
}

TEST_CASE("transaction") {
  temp_dir dir;
  database db(dir.file("cg.db"), open_mode::read_write);
  db.exec("CREATE TABLE t (x INTEGER)");

  SUBCASE("commit keeps the changes") {
    {
      transaction tx(db);
      CHECK(db.in_transaction());
      db.exec("INSERT INTO t VALUES (1)");
      tx.commit();
      CHECK_FALSE(db.in_transaction());
    }
    CHECK(query_int(db, "SELECT count(*) FROM t") == 1);
  }
  SUBCASE("the destructor rolls back what was not committed") {
    {
      transaction tx(db);
      db.exec("INSERT INTO t VALUES (1)");
    }
    CHECK_FALSE(db.in_transaction());
    CHECK(query_int(db, "SELECT count(*) FROM t") == 0);
  }
  SUBCASE("an exception unwinding through it rolls back") {
    const auto error = error_of([&] {
      transaction tx(db);
      db.exec("INSERT INTO t VALUES (1)");
      db.exec("INSERT INTO no_such_table VALUES (1)");
      tx.commit();
    });
    CHECK(error);
    CHECK_FALSE(db.in_transaction());
    CHECK(query_int(db, "SELECT count(*) FROM t") == 0);
  }
  SUBCASE("a failing COMMIT rolls back and throws") {
    db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id))");
    db.exec("PRAGMA defer_foreign_keys = ON");  // the violation is then reported by COMMIT
    const auto error = error_of([&] {
      transaction tx(db);
      db.exec("INSERT INTO t VALUES (1)");
      db.exec("INSERT INTO child VALUES (5)");
      tx.commit();
    });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
    CHECK(std::string(error->what()).find("COMMIT") != std::string::npos);
    CHECK_FALSE(db.in_transaction());
    CHECK(query_int(db, "SELECT count(*) FROM t") == 0);
  }
  SUBCASE("BEGIN IMMEDIATE takes the write lock at once") {
    database other(dir.file("cg.db"), open_mode::read_write);
    sqlite3_busy_timeout(other.handle(), 0);  // fail fast instead of waiting 5 s
    transaction tx(db);
    const auto error = error_of([&] { transaction second(other); });
    REQUIRE(error);
    CHECK((error->extended_code() & 0xff) == SQLITE_BUSY);
    // A reader still reads (WAL).
    database reader(dir.file("cg.db"), open_mode::read_only);
    CHECK(query_int(reader, "SELECT count(*) FROM t") == 0);
  }
}

}  // TEST_SUITE
