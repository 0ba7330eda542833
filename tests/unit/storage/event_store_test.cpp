#include "cg/storage/event_store.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <string>
#include <vector>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::make_event;
using cg::storage::test::query_int;
using cg::storage::test::temp_dir;

namespace {

constexpr std::int64_t t0 = 1'705'314'600'000'000;

struct store_fixture {
  temp_dir dir;
  database db{open_database(dir.file("cg.db"), durability::normal)};
  token_store tokens{db};
  std::int64_t alpha = tokens.create("alpha", "tok-alpha", t0).id;
  std::int64_t beta = tokens.create("beta", "tok-beta", t0).id;
  event_store events{db};

  std::int64_t usage_count(std::int64_t token) { return tokens.find(token)->usage_count; }
  std::optional<std::int64_t> last_seen(std::int64_t token) { return tokens.find(token)->last_seen_at_us; }
};

}  // namespace

TEST_SUITE("storage") {

TEST_CASE_FIXTURE(store_fixture, "commit_batch stores every field and returns ids in order") {
  event_row full = make_event(alpha, "evt-full", t0);
  full.tokens.cache_read = 3;
  full.tokens.cache_write = 2;
  full.tokens.reasoning = 1;
  full.user = "u-1";
  full.session_id = "s-1";
  full.session_type = "chat";
  full.project = "proj";
  full.feature = "summary";
  full.environment = "prod";
  full.meta = R"({"k":"v"})";
  const std::vector<event_row> rows{full, make_event(beta, "evt-2", t0 + 1), make_event(alpha, std::nullopt, t0 + 2)};

  const auto outcomes = events.commit_batch(rows);
  REQUIRE(outcomes.size() == 3);
  CHECK_FALSE(outcomes[0].duplicate);
  CHECK_FALSE(outcomes[1].duplicate);
  CHECK_FALSE(outcomes[2].duplicate);
  CHECK(outcomes[0].id < outcomes[1].id);
  CHECK(outcomes[1].id < outcomes[2].id);
  CHECK(events.count() == 3);

  statement q(db,
              "SELECT ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, "
              "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, price_ref, source, "
              "user, session_id, session_type, project, feature, environment, meta FROM usage_events WHERE id = ?1");
  q.bind(1, outcomes[0].id);
  REQUIRE(q.step());
  CHECK(q.column_int64(0) == full.ts_us);
  CHECK(q.column_int64(1) == full.received_at_us);
  CHECK(q.column_int64(2) == alpha);
  CHECK(q.column_optional_text(3) == "evt-full");
  CHECK(q.column_text(4) == "openai");
  CHECK(q.column_text(5) == "gpt-4o-mini-2024-07-18");
  CHECK(q.column_int64(6) == 10);
  CHECK(q.column_int64(7) == 5);
  CHECK(q.column_int64(8) == 15);
  CHECK(q.column_int64(9) == 3);
  CHECK(q.column_int64(10) == 2);
  CHECK(q.column_int64(11) == 1);
  CHECK(q.column_int64(12) == 4'500);
  CHECK(q.column_text(13) == "server");
  CHECK(q.column_text(14) == "openai/gpt-4o-mini@2024-07-18");
  CHECK(q.column_text(15) == "ingest");
  CHECK(q.column_optional_text(16) == "u-1");
  CHECK(q.column_optional_text(17) == "s-1");
  CHECK(q.column_optional_text(18) == "chat");
  CHECK(q.column_optional_text(19) == "proj");
  CHECK(q.column_optional_text(20) == "summary");
  CHECK(q.column_optional_text(21) == "prod");
  CHECK(q.column_optional_text(22) == R"({"k":"v"})");

  q.reset();
  q.bind(1, outcomes[2].id);
  REQUIRE(q.step());
  CHECK(q.column_is_null(3));   // no event_id
  CHECK(q.column_is_null(16));  // no attribution
  CHECK(q.column_is_null(22));  // no meta
}

TEST_CASE_FIXTURE(store_fixture, "an empty batch does nothing") {
  CHECK(events.commit_batch({}).empty());
  CHECK(events.count() == 0);
}

TEST_CASE_FIXTURE(store_fixture, "duplicates return the first id") {
  const auto first = events.commit_batch(std::vector{make_event(alpha, "evt-1", t0), make_event(alpha, "evt-2", t0)});
  REQUIRE(first.size() == 2);

  SUBCASE("of a row committed earlier") {
    event_row repeat = make_event(alpha, "evt-1", t0 + 5'000'000);
    repeat.model = "different-model";  // the key decides, not the content
    const auto again = events.commit_batch(std::vector{repeat, make_event(alpha, "evt-3", t0)});
    REQUIRE(again.size() == 2);
    CHECK(again[0].duplicate);
    CHECK(again[0].id == first[0].id);
    CHECK_FALSE(again[1].duplicate);
    CHECK(events.count() == 3);
    CHECK(usage_count(alpha) == 3);  // the repeat counted nothing
  }
  SUBCASE("of a row earlier in the same batch") {
    const auto batch = events.commit_batch(std::vector{make_event(alpha, "evt-9", t0), make_event(beta, "evt-9", t0),
                                                       make_event(alpha, "evt-9", t0), make_event(alpha, "evt-2", t0)});
    REQUIRE(batch.size() == 4);
    CHECK_FALSE(batch[0].duplicate);
    CHECK_FALSE(batch[1].duplicate);  // same event_id, other token: another event
    CHECK(batch[1].id != batch[0].id);
    CHECK(batch[2].duplicate);
    CHECK(batch[2].id == batch[0].id);
    CHECK(batch[3].duplicate);
    CHECK(batch[3].id == first[1].id);
    CHECK(events.count() == 4);
    CHECK(usage_count(alpha) == 3);
    CHECK(usage_count(beta) == 1);
  }
  SUBCASE("but events without event_id are never duplicates") {
    const auto batch = events.commit_batch(
        std::vector{make_event(alpha, std::nullopt, t0), make_event(alpha, std::nullopt, t0)});
    const auto batch2 = events.commit_batch(std::vector{make_event(alpha, std::nullopt, t0)});
    CHECK_FALSE(batch[0].duplicate);
    CHECK_FALSE(batch[1].duplicate);
    CHECK_FALSE(batch2[0].duplicate);
    CHECK(batch[0].id != batch[1].id);
    CHECK(events.count() == 5);
    CHECK(usage_count(alpha) == 5);
  }
}

TEST_CASE_FIXTURE(store_fixture, "usage_count and last_seen_at follow the new rows") {
  CHECK(usage_count(alpha) == 0);
  CHECK_FALSE(last_seen(alpha));

  event_row late = make_event(alpha, "a", t0);
  late.received_at_us = t0 + 900;
  event_row early = make_event(alpha, "b", t0);
  early.received_at_us = t0 + 100;
  event_row other = make_event(beta, "c", t0);
  other.received_at_us = t0 + 50;
  events.commit_batch(std::vector{late, other, early});

  CHECK(usage_count(alpha) == 2);
  CHECK(last_seen(alpha) == t0 + 900);  // the latest received_at of its new rows
  CHECK(usage_count(beta) == 1);
  CHECK(last_seen(beta) == t0 + 50);

  SUBCASE("a clock that steps back does not move last_seen_at back") {
    event_row older = make_event(alpha, "d", t0);
    older.received_at_us = t0 - 1'000'000;
    events.commit_batch(std::vector{older});
    CHECK(usage_count(alpha) == 3);
    CHECK(last_seen(alpha) == t0 + 900);
  }
  SUBCASE("a batch of duplicates only touches nothing") {
    event_row repeat = make_event(alpha, "a", t0);
    repeat.received_at_us = t0 + 5'000'000;
    events.commit_batch(std::vector{repeat});
    CHECK(usage_count(alpha) == 2);
    CHECK(last_seen(alpha) == t0 + 900);
  }
}

TEST_CASE_FIXTURE(store_fixture, "a failing batch stores nothing") {
  events.commit_batch(std::vector{make_event(alpha, "kept", t0)});
  REQUIRE(events.count() == 1);
  REQUIRE(usage_count(alpha) == 1);

  SUBCASE("a token that does not exist") {
    const auto error = error_of([&] {
      events.commit_batch(std::vector{make_event(alpha, "new-1", t0), make_event(beta, "new-2", t0),
                                      make_event(424242, "new-3", t0), make_event(alpha, "new-4", t0)});
    });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_CONSTRAINT_FOREIGNKEY);
  }
  SUBCASE("a full disk half-way (SQLITE_FULL)") {
    // Leave room for a few pages only: the batch outgrows it part of the way through.
    const std::int64_t pages = query_int(db, "PRAGMA page_count");
    db.exec("PRAGMA max_page_count = " + std::to_string(pages + 8));
    std::vector<event_row> rows;
    for (int i = 0; i < 200; ++i) {
      rows.push_back(make_event(i % 2 == 0 ? alpha : beta, "big-" + std::to_string(i), t0 + i));
      rows.back().meta = "\"" + std::string(2'000, 'x') + "\"";
    }
    const auto error = error_of([&] { events.commit_batch(rows); });
    REQUIRE(error);
    CHECK(error->extended_code() == SQLITE_FULL);
    CHECK(std::string(error->what()).find("full") != std::string::npos);
    db.exec("PRAGMA max_page_count = 1073741823");
  }

  CHECK_FALSE(db.in_transaction());
  CHECK(events.count() == 1);
  CHECK(usage_count(alpha) == 1);
  CHECK(usage_count(beta) == 0);
  CHECK(last_seen(alpha) == t0 + 1'000);

  // The store is usable again, and the rolled-back keys are free.
  const auto retry = events.commit_batch(std::vector{make_event(alpha, "new-1", t0), make_event(beta, "big-1", t0)});
  CHECK_FALSE(retry[0].duplicate);
  CHECK_FALSE(retry[1].duplicate);
  CHECK(events.count() == 3);
}

TEST_CASE_FIXTURE(store_fixture, "the store survives reopening the database") {
  const auto ids = events.commit_batch(std::vector{make_event(alpha, "persist", t0)});
  database reopened(dir.file("cg.db"), open_mode::read_write);
  event_store again(reopened);
  const auto repeat = again.commit_batch(std::vector{make_event(alpha, "persist", t0)});
  CHECK(repeat[0].duplicate);
  CHECK(repeat[0].id == ids[0].id);
}

// Not run by default: `unit_storage -ts=storage-bench --no-skip`.
TEST_CASE("commit_batch throughput" * doctest::test_suite("storage-bench") * doctest::skip()) {
  for (const durability d : {durability::full, durability::normal}) {
    temp_dir dir;
    database db = open_database(dir.file("bench.db"), d);
    token_store tokens(db);
    const std::int64_t token = tokens.create("bench", "tok-bench", t0).id;
    event_store events(db);

    constexpr int batches = 100;
    constexpr int batch_size = 1'000;
    std::vector<std::vector<event_row>> work(batches);
    for (int b = 0; b < batches; ++b) {
      for (int i = 0; i < batch_size; ++i) {
        // Timestamps grow, as live traffic's do: indexes are appended to, not rewritten all over on each commit.
        const int n = b * batch_size + i;
        event_row row = make_event(token, "chatcmpl-" + std::to_string(n), t0 + n * 1'000LL);
        row.user = "user-" + std::to_string(i % 50);
        row.project = "project";
        row.meta = R"({"request":"abc","n":1})";
        work[static_cast<std::size_t>(b)].push_back(std::move(row));
      }
    }
    const auto start = std::chrono::steady_clock::now();
    for (const auto& batch : work) events.commit_batch(batch);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    const double rate = batches * batch_size / elapsed.count();
    const std::string name = d == durability::full ? "FULL" : "NORMAL";
    MESSAGE(name << ": " << static_cast<long>(rate) << " rows/s in " << batch_size << "-row batches");
    CHECK(events.count() == batches * batch_size);
  }
}

}  // TEST_SUITE
