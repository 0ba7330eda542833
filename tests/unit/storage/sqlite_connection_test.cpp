// storage::connection on its SQLite backend: what the server, the writer and migrate-db see of the embedded default.
#include "cg/storage/connection.hpp"
#include "cg/storage/database_copy.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>

using namespace cg::storage;

namespace {

event_row event_at(std::int64_t token_id, std::int64_t ts_us, std::string event_id, std::int64_t cost_nusd) {
  event_row r;
  r.ts_us = ts_us;
  r.received_at_us = ts_us;
  r.token_id = token_id;
  r.event_id = std::move(event_id);
  r.provider = "openai";
  r.model = "gpt-4o-mini";
  r.tokens.input = 10;
  r.tokens.output = 5;
  r.tokens.total = 15;
  r.cost_nusd = cost_nusd;
  r.cost_source = "client";
  r.source = "ingest";
  return r;
}

database_location sqlite_at(const std::filesystem::path& path) {
  database_location where;
  where.sqlite_path = path;
  where.sqlite_durability = durability::normal;
  return where;
}

constexpr std::int64_t jan_2026 = 1'767'225'600'000'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t feb_2026 = 1'769'904'000'000'000;  // 2026-02-01T00:00:00Z

}  // namespace

TEST_SUITE("storage.connection") {
  TEST_CASE("a DATABASE_URL selects PostgreSQL only with its own schemes, and logs never show its password") {
    CHECK(is_postgresql_url("postgresql://u:p@h/db"));
    CHECK(is_postgresql_url("postgres://h/db"));
    CHECK_FALSE(is_postgresql_url("sqlite:/tmp/x.sqlite"));
    CHECK_FALSE(is_postgresql_url("mysql://h/db"));
    CHECK_FALSE(is_postgresql_url(""));
    CHECK(redact_url("postgresql://cg:s3cret@db.example:5432/cg") == "postgresql://cg:***@db.example:5432/cg");
    CHECK(redact_url("postgresql://cg@db/cg?password=s3cret&sslmode=require") ==
          "postgresql://cg@db/cg?password=***&sslmode=require");
    CHECK(redact_url("postgresql:///cg?host=/tmp&port=5") == "postgresql:///cg?host=/tmp&port=5");
    database_location pg;
    pg.url = "postgres://a:b@h/d";
    CHECK(pg.is_postgresql());
    CHECK(pg.describe() == "postgres://a:***@h/d");
  }

  TEST_CASE("the writer connection migrates, stores, dedupes and answers reads through the interface") {
    test::temp_dir dir;
    auto writer = open_writer(sqlite_at(dir.file("events.sqlite")));
    CHECK(writer->backend_name() == "sqlite");
    const auto token = writer->create_token("app", "tok-app", 1);
    std::vector<event_row> rows{event_at(token.id, jan_2026, "a", 100), event_at(token.id, feb_2026, "b", 200),
                                event_at(token.id, feb_2026 + 1, "a", 300)};
    const auto outcomes = writer->commit_batch(rows);
    REQUIRE(outcomes.size() == 3);
    CHECK_FALSE(outcomes[0].duplicate);
    CHECK(outcomes[2].duplicate);
    CHECK(outcomes[2].id == outcomes[0].id);

    auto reader = open_reader(sqlite_at(dir.file("events.sqlite")));
    const auto page = reader->events_page({}, {}, event_order::newest_first, std::nullopt, 10);
    REQUIRE(page.size() == 2);
    CHECK(page[0].event_id == "b");
    CHECK(reader->figures().usage_rows == 2);
    CHECK(reader->figures().active_tokens == 1);
    CHECK(reader->list_tokens().at(0).usage_count == 2);
    CHECK(reader->models() == std::vector<std::string>{"gpt-4o-mini"});
    CHECK(reader->run_cost_report({}, {}).totals.cost_nusd == 300);
    reader->check_read();
  }

  TEST_CASE("retention deletes the events before the cutoff and keeps the rest") {
    test::temp_dir dir;
    auto db = open_writer(sqlite_at(dir.file("events.sqlite")));
    const auto token = db->create_token("app", "tok-app", 1);
    std::vector<event_row> rows{event_at(token.id, jan_2026, "old", 1), event_at(token.id, feb_2026 - 1, "older", 2),
                                event_at(token.id, feb_2026, "kept", 4)};
    db->commit_batch(rows);
    const auto result = db->drop_events_before(feb_2026);
    CHECK(result.events_deleted == 2);
    const auto left = db->events_page({}, {}, event_order::oldest_first, std::nullopt, 10);
    REQUIRE(left.size() == 1);
    CHECK(left[0].event_id == "kept");
  }

  TEST_CASE("import copies tokens (deleted ones too) and events with their ids, and a re-run adds nothing") {
    test::temp_dir dir;
    auto from = open_writer(sqlite_at(dir.file("from.sqlite")));
    const auto kept = from->create_token("kept", "tok-kept", 1);
    const auto gone = from->create_token("gone", "tok-gone", 2);
    std::vector<event_row> rows{event_at(kept.id, jan_2026, "a", 10), event_at(gone.id, feb_2026, "b", 20)};
    from->commit_batch(rows);
    REQUIRE(from->remove_token(gone.id, 3));

    const auto tokens = from->all_tokens();
    REQUIRE(tokens.size() == 2);
    CHECK(tokens[1].deleted_at_us == 3);
    const auto events = from->events_page({}, {}, event_order::oldest_first, std::nullopt, 10);

    auto to = open_writer(sqlite_at(dir.file("to.sqlite")));
    CHECK(to->import_tokens(tokens) == 2);
    CHECK(to->import_events(events) == 2);
    CHECK(to->import_tokens(tokens) == 0);
    CHECK(to->import_events(events) == 0);
    CHECK(to->list_tokens().size() == 1);  // the deleted token stays deleted
    const auto copied = to->events_page({}, {}, event_order::oldest_first, std::nullopt, 10);
    REQUIRE(copied.size() == 2);
    CHECK(copied[0].id == events[0].id);
    CHECK(copied[1].token_label == "gone");
    CHECK(to->run_cost_report({}, {}).totals == from->run_cost_report({}, {}).totals);
    // The dedupe key came along: the same event sent again is a duplicate of the copied row.
    std::vector<event_row> again{event_at(kept.id, jan_2026, "a", 10)};
    const auto outcome = to->commit_batch(again);
    CHECK(outcome.at(0).duplicate);
    CHECK(outcome.at(0).id == events[0].id);
  }

  TEST_CASE("copy_database copies page by page, verifies, is safe to re-run, and notices a clash of ids") {
    test::temp_dir dir;
    auto from = open_writer(sqlite_at(dir.file("from.sqlite")));
    const auto token = from->create_token("app", "tok-app", 1);
    std::vector<event_row> rows;
    for (int i = 0; i < 25; ++i) rows.push_back(event_at(token.id, jan_2026 + i, "e" + std::to_string(i), 1000 + i));
    from->commit_batch(rows);

    auto to = open_writer(sqlite_at(dir.file("to.sqlite")));
    std::int64_t last_progress = 0;
    const auto first = copy_database(*from, *to, 10, [&](std::int64_t read) { last_progress = read; });
    CHECK(first.verified());
    CHECK(first.events_added == 25);
    CHECK(first.tokens_added == 1);
    CHECK(last_progress == 25);
    CHECK(first.source.cost_nusd == 25 * 1000 + 300);
    const auto again = copy_database(*from, *to, 10);
    CHECK(again.verified());
    CHECK(again.events_added == 0);

    // A destination that already holds other events under the copied ids is reported, never overwritten.
    auto other = open_writer(sqlite_at(dir.file("other.sqlite")));
    const auto stranger = other->create_token("stranger", "tok-stranger", 1);
    std::vector<event_row> theirs{event_at(stranger.id, feb_2026, "x", 5)};
    other->commit_batch(theirs);
    const auto clash = copy_database(*from, *other, 10);
    CHECK_FALSE(clash.verified());
    CHECK(clash.destination.tokens == 0);  // id 1 is someone else's token there
    CHECK(clash.destination.cost_nusd != clash.source.cost_nusd);
  }
}
