// The column list and what is derived from it: the SQL of both dialects names exactly the list's columns in its
// order, and a row written through the derived insert reads back whole through the derived select.
#include "cg/storage/event_columns.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/event_store.hpp"
#include "cg/storage/schema.hpp"
#include "cg/storage/token_store.hpp"

#include "event_sql.hpp"
#include "postgres/pg_event_store.hpp"
#include "report_accumulator.hpp"
#include "sqlite_events.hpp"
#include "storage_test_support.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace cg::storage;

namespace {

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= text.size();) {
    const auto comma = std::min(text.find(", ", at), text.size());
    out.emplace_back(text.substr(at, comma - at));
    at = comma + 2;
  }
  return out;
}

std::string between(std::string_view text, std::string_view open, std::string_view close) {
  const auto start = text.find(open);
  REQUIRE(start != std::string_view::npos);
  const auto end = text.find(close, start + open.size());
  REQUIRE(end != std::string_view::npos);
  return std::string(text.substr(start + open.size(), end - start - open.size()));
}

std::string quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

std::vector<std::string> inserted_names(bool with_id) {
  std::vector<std::string> names;
  if (with_id) names.push_back(quoted("id"));
  for (const auto& column : event_columns())
    if (column.inserted()) names.push_back(quoted(column.name));
  return names;
}

}  // namespace

TEST_SUITE("storage.event_columns") {

TEST_CASE("each column's nullability is its member's: optional exactly when nullable") {
  stored_event e;
  for (const auto& column : event_columns()) {
    CAPTURE(column.name);
    const bool optional = std::visit(
        [](auto* member) {
          using type = std::remove_pointer_t<decltype(member)>;
          return std::is_same_v<type, std::optional<std::int64_t>> || std::is_same_v<type, std::optional<std::string>>;
        },
        field_of(column, e));
    CHECK(optional == column.nullable);
    const bool integral = std::holds_alternative<std::int64_t*>(field_of(column, e)) ||
                          std::holds_alternative<std::optional<std::int64_t>*>(field_of(column, e));
    const bool numeric = column.type == column_type::integer || column.type == column_type::timestamp ||
                         column.type == column_type::money;
    CHECK(integral == numeric);
  }
}

TEST_CASE("names, CSV headers and /data keys are unique; the six token classes each have one column") {
  std::set<std::string_view> names, headers, keys;
  std::set<token_class> classes;
  for (const auto& column : event_columns()) {
    CHECK(names.insert(column.name).second);
    if (column.exported()) {
      CHECK(headers.insert(column.csv_header).second);
      CHECK(keys.insert(column.json_key).second);
    }
    CHECK((column.group == column_group::token_counts) == (column.tokens != token_class::none));
    if (column.tokens != token_class::none) CHECK(classes.insert(column.tokens).second);
    CHECK(!column.description.empty());
    CHECK(column.request_key.empty() == column.request_schema.empty());
  }
  CHECK(classes.size() == 6);
  CHECK(find_event_column("cost_nusd")->type == column_type::money);
  CHECK(find_event_column("no_such_column") == nullptr);
}

TEST_CASE("the event select names every column of the list, in its order, in both dialects") {
  std::vector<std::string> expected;
  for (const auto& column : event_columns()) {
    if (column.origin == column_origin::token_label)
      expected.emplace_back("t.label");
    else if (column.project_patterns)
      expected.emplace_back("e.project");  // no PROJECT_PATTERNS: the event's own
    else
      expected.push_back("e." + quoted(column.name));
  }
  for (const auto dialect : {detail::sql_dialect::sqlite, detail::sql_dialect::postgresql}) {
    const auto sql = detail::page_sql(dialect, {}, {}, event_order::newest_first, std::nullopt, 10);
    CHECK(split_list(between(sql.text, "SELECT ", " FROM usage_events")) == expected);
  }
}

TEST_CASE("the SQLite insert names exactly the inserted columns, with one placeholder each") {
  for (const bool with_id : {false, true}) {
    CAPTURE(with_id);
    const std::string sql = detail::sqlite_event_insert(with_id);
    const auto names = inserted_names(with_id);
    CHECK(split_list(between(sql, "usage_events (", ")")) == names);
    std::vector<std::string> placeholders;
    for (std::size_t i = 1; i <= names.size(); ++i) placeholders.push_back("?" + std::to_string(i));
    CHECK(split_list(between(sql, "VALUES (", ")")) == placeholders);
  }
  // Neither the row id nor the joined label is written by an ordinary insert.
  CHECK(inserted_names(false).size() == event_columns().size() - 2);
}

TEST_CASE("PostgreSQL's COPY and unnest insert name exactly the inserted columns, after the id") {
  const auto names = inserted_names(true);
  CHECK(split_list(between(pg::copy_events_sql(), "usage_events (", ")")) == names);
  const std::string unnest = pg::unnest_events_sql();
  CHECK(split_list(between(unnest, "usage_events (", ")")) == names);
  std::vector<std::string> arrays{"$1::bigint[]"};
  for (const auto& column : event_columns()) {
    if (!column.inserted()) continue;
    const bool text = column.type == column_type::text || column.type == column_type::json_text;
    arrays.push_back("$" + std::to_string(arrays.size() + 1) + (text ? "::text[]" : "::bigint[]"));
  }
  CHECK(split_list(between(unnest, "unnest(", ")")) == arrays);
}

TEST_CASE("the reprice reader and the report read the list's pricing columns and sums") {
  detail::sql_builder sql;
  detail::append_reprice_select(sql);
  std::vector<std::string> reprice{"e.\"id\""};
  std::vector<std::string> sums;
  for (const auto& column : event_columns()) {
    if (column.read_by_reprice) reprice.push_back("e." + quoted(column.name));
    if (column.summed()) sums.push_back("e." + quoted(column.name));
  }
  CHECK(split_list(std::move(sql).finish().text) == reprice);
  for (const auto dialect : {detail::sql_dialect::sqlite, detail::sql_dialect::postgresql}) {
    const auto page = detail::reprice_page_sql(dialect, {}, 0, 10);
    CHECK(split_list(between(page.text, "SELECT ", " FROM usage_events")) == reprice);
  }
  CHECK(split_list(detail::report_sum_columns(false)) == sums);
  CHECK(sums.size() == 7);  // six token classes and the cost
}

TEST_CASE("a row with every column set reads back whole through the derived insert and select") {
  test::temp_dir dir;
  database db{open_database(dir.file("cg.db"), durability::normal)};
  const std::int64_t token = token_store(db).create("app", "tok", 1).id;

  // A distinct value in every column, set through the list's own accessors.
  stored_event written;
  std::int64_t n = 0;
  for (const auto& column : event_columns()) {
    if (!column.inserted()) continue;
    ++n;
    std::visit(
        [&](auto* member) {
          using type = std::remove_pointer_t<decltype(member)>;
          if constexpr (std::is_same_v<type, std::int64_t> || std::is_same_v<type, std::optional<std::int64_t>>)
            *member = 1'000 * n;
          else
            *member = std::string(column.name) + "-value";
        },
        field_of(column, written));
  }
  written.token_id = token;  // a real token: the foreign key
  const std::vector<event_row> rows{written};
  written.id = event_store(db).commit_batch(rows).at(0).id;
  written.token_label = "app";

  const auto read = event_reader(db).page({}, event_order::newest_first, std::nullopt, 10);
  REQUIRE(read.size() == 1);
  for (const auto& column : event_columns()) {
    CAPTURE(column.name);
    const bool same = std::visit(
        [](const auto* a, const auto* b) {
          if constexpr (std::is_same_v<decltype(a), decltype(b)>)
            return *a == *b;
          else
            return false;
        },
        field_of(column, read[0]), field_of(column, std::as_const(written)));
    CHECK(same);
  }
}

}  // TEST_SUITE
