#include "cg/storage/event_store.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "storage_test_support.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

using namespace cg::storage;
using cg::storage::test::error_of;
using cg::storage::test::make_event;
using cg::storage::test::query_text;
using cg::storage::test::temp_dir;

namespace {

constexpr std::int64_t t0 = 1'705'314'600'000'000;

struct token_fixture {
  temp_dir dir;
  database db{open_database(dir.file("cg.db"), durability::normal)};
  token_store tokens{db};
};

}  // namespace

TEST_SUITE("storage") {

TEST_CASE_FIXTURE(token_fixture, "create returns the stored token") {
  const auto created = tokens.create("Production App", "abcDEF123_-", t0);
  CHECK(created.id > 0);
  CHECK(created.label == "Production App");
  CHECK(created.token == "abcDEF123_-");
  CHECK(created.active);
  CHECK(created.created_at_us == t0);
  CHECK_FALSE(created.last_seen_at_us);
  CHECK(created.usage_count == 0);

  const auto found = tokens.find(created.id);
  REQUIRE(found);
  CHECK(found->label == created.label);
  CHECK(found->token == created.token);
  CHECK(found->created_at_us == t0);

  const auto by_token = tokens.find_by_token("abcDEF123_-");
  REQUIRE(by_token);
  CHECK(by_token->id == created.id);
  CHECK_FALSE(tokens.find_by_token("nope"));
  CHECK_FALSE(tokens.find(created.id + 100));
}

TEST_CASE_FIXTURE(token_fixture, "list returns undeleted tokens, oldest first") {
  CHECK(tokens.list().empty());
  const auto b = tokens.create("b", "tok-b", t0 + 2);
  const auto a = tokens.create("a", "tok-a", t0 + 1);
  const auto c = tokens.create("c", "tok-c", t0 + 3);
  tokens.remove(c.id, t0 + 10);
  const auto list = tokens.list();
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == a.id);
  CHECK(list[1].id == b.id);
}

TEST_CASE_FIXTURE(token_fixture, "set_active") {
  const auto token = tokens.create("t", "tok-t", t0);
  CHECK(tokens.set_active(token.id, false));
  CHECK_FALSE(tokens.find(token.id)->active);
  CHECK(tokens.set_active(token.id, false));  // already inactive: the token still exists
  CHECK(tokens.set_active(token.id, true));
  CHECK(tokens.find(token.id)->active);
  CHECK_FALSE(tokens.set_active(token.id + 1, true));
}

TEST_CASE_FIXTURE(token_fixture, "a duplicate label is a unique violation") {
  tokens.create("same", "tok-1", t0);
  const auto error = error_of([&] { tokens.create("same", "tok-2", t0); });
  REQUIRE(error);
  CHECK(error->is_unique_violation());
  CHECK(std::string(error->what()).find("tracking_tokens.label") != std::string::npos);
  CHECK(tokens.list().size() == 1);

  const auto same_token = error_of([&] { tokens.create("other", "tok-1", t0); });
  REQUIRE(same_token);
  CHECK(same_token->is_unique_violation());
}

TEST_CASE_FIXTURE(token_fixture, "remove soft-deletes: hidden, label free, events kept") {
  const auto old = tokens.create("app", "tok-old", t0);
  event_store events(db);
  const auto ids = events.commit_batch(std::vector{make_event(old.id, "e1", t0), make_event(old.id, "e2", t0)});

  CHECK(tokens.remove(old.id, t0 + 50));
  CHECK_FALSE(tokens.remove(old.id, t0 + 60));  // already gone
  CHECK_FALSE(tokens.remove(old.id + 100, t0));
  CHECK_FALSE(tokens.find(old.id));
  CHECK_FALSE(tokens.find_by_token("tok-old"));
  CHECK_FALSE(tokens.set_active(old.id, true));
  CHECK(tokens.list().empty());

  // The row stays, inactive, so its events keep their label.
  CHECK(query_text(db, "SELECT active || ',' || deleted_at FROM tracking_tokens WHERE id = " + std::to_string(old.id)) ==
        "0," + std::to_string(t0 + 50));
  CHECK(query_text(db, "SELECT group_concat(t.label) FROM usage_events e JOIN tracking_tokens t ON t.id = e.token_id "
                       "WHERE e.id IN (" + std::to_string(ids[0].id) + ", " + std::to_string(ids[1].id) + ")") ==
        "app,app");

  // The label can be used again; the token string of the deleted token cannot.
  const auto reused = tokens.create("app", "tok-new", t0 + 100);
  CHECK(reused.id != old.id);
  CHECK(tokens.list().size() == 1);
  const auto error = error_of([&] { tokens.create("another", "tok-old", t0); });
  REQUIRE(error);
  CHECK(error->is_unique_violation());
}

}  // TEST_SUITE
