// The group-commit writer and the token registry, against a real SQLite file.
#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/token_registry.hpp"

#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace cg;
using namespace std::chrono_literals;

std::int64_t make_token(storage::database& db, const std::string& label) {
  storage::token_store store(db);
  return store.create(label, "tok-" + label, 1).id;
}

storage::event_row row(std::int64_t token_id, std::optional<std::string> event_id) {
  storage::event_row r;
  r.ts_us = 1'700'000'000'000'000;
  r.received_at_us = r.ts_us;
  r.token_id = token_id;
  r.event_id = std::move(event_id);
  r.provider = "openai";
  r.model = "gpt-4o-mini";
  r.tokens.input = 10;
  r.tokens.output = 5;
  r.tokens.total = 15;
  r.cost_source = "unpriced";
  r.source = "ingest";
  return r;
}

/// Collects outcomes from the writer thread and lets the test wait for a given number of them.
struct outcomes {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<std::size_t, ingest::write_outcome>> got;

  ingest::write_completion slot(std::size_t index) {
    return [this, index](const ingest::write_outcome& o) {
      std::lock_guard lock(mutex);
      got.emplace_back(index, o);
      cv.notify_all();
    };
  }
  void wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 30s, [&] { return got.size() >= n; }));
  }
  ingest::write_outcome at(std::size_t index) {
    std::lock_guard lock(mutex);
    for (auto& [i, o] : got)
      if (i == index) return o;
    FAIL("no outcome for index " << index);
    return {};
  }
};

}  // namespace

TEST_SUITE("ingest.writer") {
  TEST_CASE("every event is acknowledged after commit, duplicates get the first id, also within one batch") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    {
      // max_delay makes the first events wait for company, so the repeats below share a batch with their originals.
      ingest::group_commit_writer writer(storage::adopt_sqlite(std::move(db)), {.max_batch = 1000, .max_delay = 50ms, .queue_capacity = 100, .deliver = {}});
      for (std::size_t i = 0; i < 20; ++i)
        REQUIRE(writer.submit(row(token, "e" + std::to_string(i % 10)), out.slot(i)) == ingest::submit_status::queued);
      REQUIRE(writer.submit(row(token, std::nullopt), out.slot(20)) == ingest::submit_status::queued);
      REQUIRE(writer.submit(row(token, std::nullopt), out.slot(21)) == ingest::submit_status::queued);
      out.wait_for(22);
      const auto stats = writer.stats();
      CHECK(stats.rows_committed == 22);
      CHECK(stats.batches <= 2);  // grouped, not one transaction per event
    }
    for (std::size_t i = 0; i < 10; ++i) {
      const auto first = out.at(i);
      const auto repeat = out.at(i + 10);
      CHECK(first.result == ingest::write_outcome::status::created);
      CHECK(repeat.result == ingest::write_outcome::status::duplicate);
      CHECK(repeat.id == first.id);
    }
    CHECK(out.at(20).result == ingest::write_outcome::status::created);
    CHECK(out.at(21).result == ingest::write_outcome::status::created);
    CHECK(out.at(20).id != out.at(21).id);

    storage::database check(tmp.file("events.sqlite"), storage::open_mode::read_only);
    storage::statement count(check, "SELECT count(*), sum(token_id = ?) FROM usage_events");
    count.bind(1, token);
    REQUIRE(count.step());
    CHECK(count.column_int64(0) == 12);
  }

  TEST_CASE("a batch's completions are handed off once, together, through deliver") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    std::atomic<int> handoffs{0};
    std::vector<std::thread> deliverers;
    std::mutex deliverers_mutex;
    {
      ingest::group_commit_writer writer(
          storage::adopt_sqlite(std::move(db)), {.max_batch = 1000, .max_delay = 50ms, .queue_capacity = 100,
                          .deliver = [&](std::function<void()> notify) {
                            ++handoffs;
                            std::lock_guard lock(deliverers_mutex);
                            deliverers.emplace_back(std::move(notify));  // another thread, as an io_context would
                          }});
      for (std::size_t i = 0; i < 10; ++i) writer.submit(row(token, "e" + std::to_string(i)), out.slot(i));
      out.wait_for(10);
      CHECK(writer.stats().batches == 1);
    }
    for (auto& t : deliverers) t.join();
    CHECK(handoffs == 1);
  }

  TEST_CASE("batches never exceed max_batch") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    ingest::group_commit_writer writer(storage::adopt_sqlite(std::move(db)), {.max_batch = 7, .max_delay = 20ms, .queue_capacity = 1000, .deliver = {}});
    for (std::size_t i = 0; i < 70; ++i) writer.submit(row(token, "e" + std::to_string(i)), out.slot(i));
    out.wait_for(70);
    CHECK(writer.stats().batches >= 10);
  }

  TEST_CASE("the batch observer sees every batch: its rows, its commit time, success") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    std::mutex mutex;
    std::vector<ingest::batch_report> reports;
    ingest::group_commit_writer writer(
        storage::adopt_sqlite(std::move(db)), {.max_batch = 7, .max_delay = 20ms, .queue_capacity = 1000, .deliver = {},
                        .observe = [&](const ingest::batch_report& r) {
                          std::lock_guard lock(mutex);
                          reports.push_back(r);
                        }});
    for (std::size_t i = 0; i < 70; ++i) writer.submit(row(token, "e" + std::to_string(i)), out.slot(i));
    out.wait_for(70);
    std::lock_guard lock(mutex);  // the observer runs before the batch's completions, so all 70 are reported
    std::size_t rows = 0;
    for (const auto& r : reports) {
      CHECK(r.committed);
      CHECK(r.rows >= 1);
      CHECK(r.rows <= 7);
      CHECK(r.commit_time.count() > 0);
      rows += r.rows;
    }
    CHECK(rows == 70);
    CHECK(reports.size() == writer.stats().batches);
  }

  TEST_CASE("a full queue refuses at once instead of growing") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    ingest::group_commit_writer writer(storage::adopt_sqlite(std::move(db)), {.max_batch = 1000, .max_delay = 0us, .queue_capacity = 3, .deliver = {}});
    // Block the writer thread with a task so nothing drains while the queue fills.
    std::mutex gate;
    std::unique_lock hold(gate);
    writer.run([&gate](storage::connection&) { std::lock_guard wait(gate); });
    std::this_thread::sleep_for(20ms);
    std::size_t queued = 0, refused = 0;
    for (std::size_t i = 0; i < 10; ++i) {
      const auto s = writer.submit(row(token, "e" + std::to_string(i)), out.slot(i));
      (s == ingest::submit_status::queued ? queued : refused)++;
    }
    CHECK(queued == 3);
    CHECK(refused == 7);
    hold.unlock();
    out.wait_for(3);
    CHECK(writer.stats().rows_committed == 3);
  }

  TEST_CASE("a failed commit fails the whole batch, stores nothing, and a later probe recovers") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::full);
    const auto token = make_token(db, "a");
    storage::statement pages(db, "PRAGMA page_count");
    REQUIRE(pages.step());
    const auto page_count = pages.column_int64(0);
    pages.reset();
    outcomes out;
    ingest::group_commit_writer writer(storage::adopt_sqlite(std::move(db)), {.max_batch = 1000, .max_delay = 20ms, .queue_capacity = 1000, .deliver = {}});
    // The database may not grow: SQLITE_FULL, exactly what a full disk gives.
    std::atomic<bool> limited{false};
    writer.run([&](storage::connection& wdb) {
      storage::sqlite_database(wdb)->exec("PRAGMA max_page_count = " + std::to_string(page_count));
      limited = true;
    });
    std::string big_meta = "\"" + std::string(3000, 'x') + "\"";
    for (std::size_t i = 0; i < 50; ++i) {
      auto r = row(token, "e" + std::to_string(i));
      r.meta = big_meta;
      writer.submit(std::move(r), out.slot(i));
    }
    out.wait_for(50);
    CHECK(limited);
    for (std::size_t i = 0; i < 50; ++i) CHECK(out.at(i).result == ingest::write_outcome::status::storage_failed);
    auto stats = writer.stats();
    CHECK(stats.last_commit_failed);
    CHECK(stats.rows_committed == 0);

    std::atomic<int> probe_result{-1};
    writer.run([](storage::connection& wdb) { storage::sqlite_database(wdb)->exec("PRAGMA max_page_count = 1000000"); });
    writer.probe([&](bool ok, const std::string&) { probe_result = ok ? 1 : 0; });
    for (int i = 0; i < 3000 && probe_result < 0; ++i) std::this_thread::sleep_for(1ms);
    CHECK(probe_result == 1);
    CHECK_FALSE(writer.stats().last_commit_failed);

    writer.submit(row(token, "after"), out.slot(100));
    out.wait_for(51);
    CHECK(out.at(100).result == ingest::write_outcome::status::created);
    writer.stop();
    storage::database check(tmp.file("events.sqlite"), storage::open_mode::read_only);
    storage::statement count(check, "SELECT count(*) FROM usage_events");
    REQUIRE(count.step());
    CHECK(count.column_int64(0) == 1);
  }

  TEST_CASE("stop() commits everything queued and later submits are refused") {
    test::temp_dir tmp;
    auto db = storage::open_database(tmp.file("events.sqlite"), storage::durability::normal);
    const auto token = make_token(db, "a");
    outcomes out;
    ingest::group_commit_writer writer(storage::adopt_sqlite(std::move(db)), {.max_batch = 10, .max_delay = 0us, .queue_capacity = 10000, .deliver = {}});
    for (std::size_t i = 0; i < 500; ++i) writer.submit(row(token, "e" + std::to_string(i)), out.slot(i));
    writer.stop();
    CHECK(out.got.size() == 500);
    CHECK(writer.stats().rows_committed == 500);
    CHECK(writer.submit(row(token, "late"), out.slot(999)) == ingest::submit_status::stopped);
  }
}

TEST_SUITE("ingest.token_registry") {
  TEST_CASE("lookups see a replaced set at once; unknown and deleted tokens are absent") {
    ingest::token_registry registry;
    CHECK_FALSE(registry.find("abc"));
    storage::tracking_token_row a{1, "app", "abc", true, 0, std::nullopt, 0, std::nullopt};
    storage::tracking_token_row b{2, "old", "def", false, 0, std::nullopt, 0, std::nullopt};
    registry.replace({a, b});
    REQUIRE(registry.find("abc"));
    CHECK(registry.find("abc")->id == 1);
    CHECK(registry.find("abc")->active);
    CHECK_FALSE(registry.find("def")->active);
    registry.replace({a});
    CHECK_FALSE(registry.find("def"));
    CHECK(registry.size() == 1);
  }

  TEST_CASE("refresh() applies another gateway's change, but never undoes a newer local replace()") {
    ingest::token_registry registry;
    storage::tracking_token_row a{1, "app", "abc", true, 0, std::nullopt, 0, std::nullopt};
    registry.replace({a});
    const auto before = registry.generation();
    CHECK_FALSE(registry.refresh({a}, before));  // nothing a lookup sees differs
    auto deactivated = a;
    deactivated.active = false;
    CHECK(registry.refresh({deactivated}, before));
    CHECK_FALSE(registry.find("abc")->active);

    // A refresh that read the database before this process's own change must not win over it.
    const auto stale = registry.generation();
    registry.replace({a});
    CHECK_FALSE(registry.refresh({deactivated}, stale));
    CHECK(registry.find("abc")->active);
    CHECK(registry.refresh({}, registry.generation()));
    CHECK_FALSE(registry.find("abc"));
  }
}
