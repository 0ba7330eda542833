#include "cg/storage/event_store.hpp"

#include "event_sql.hpp"
#include "sqlite_events.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <iterator>
#include <type_traits>
#include <variant>
#include <utility>

namespace cg::storage {

namespace {

constexpr std::string_view find_existing_sql = "SELECT id FROM usage_events WHERE token_id = ?1 AND event_id = ?2";

// max(coalesce(...)): a clock that stepped back must not move last_seen_at backwards.
constexpr std::string_view touch_token_sql = R"sql(
UPDATE tracking_tokens
SET usage_count = usage_count + ?1, last_seen_at = max(coalesce(last_seen_at, 0), ?2)
WHERE id = ?3
)sql";

// Rows are bound with bind_static: the batch outlives every step. Clearing the bindings on the way out (normal or
// not) leaves no pointer into the caller's rows behind.
class clear_bindings_on_exit {
 public:
  explicit clear_bindings_on_exit(statement& a, statement& b) : a_(a), b_(b) {}
  ~clear_bindings_on_exit() {
    a_.reset();
    b_.reset();
  }
  clear_bindings_on_exit(const clear_bindings_on_exit&) = delete;
  clear_bindings_on_exit& operator=(const clear_bindings_on_exit&) = delete;

 private:
  statement& a_;
  statement& b_;
};

struct new_row {
  std::int64_t token_id;
  std::int64_t received_at_us;
};

}  // namespace

namespace detail {

std::string sqlite_event_insert(bool with_id) {
  std::string placeholders;
  int count = with_id ? 1 : 0;
  for (const auto& column : event_columns()) count += column.inserted() ? 1 : 0;
  for (int i = 1; i <= count; ++i) fmt::format_to(std::back_inserter(placeholders), "{}?{}", i == 1 ? "" : ", ", i);
  return fmt::format("INSERT INTO usage_events ({}) VALUES ({})", inserted_column_names(with_id), placeholders);
}

void bind_event(statement& insert, const event_row& row, std::optional<std::int64_t> id) {
  int index = 1;
  if (id) insert.bind(index++, *id);
  for (const auto& column : event_columns()) {
    if (!column.inserted()) continue;
    std::visit(
        [&](const auto* member) {
          if constexpr (std::is_same_v<decltype(member), const std::int64_t*> ||
                        std::is_same_v<decltype(member), const std::optional<std::int64_t>*>)
            insert.bind(index, *member);
          else
            insert.bind_static(index, *member);
        },
        field_of(column, row));
    ++index;
  }
}

}  // namespace detail

event_store::event_store(database& db)
    : db_(db),
      insert_(db, detail::sqlite_event_insert(false) + " ON CONFLICT (token_id, event_id) DO NOTHING RETURNING id"),
      find_existing_(db, find_existing_sql),
      touch_token_(db, touch_token_sql) {}

std::vector<insert_outcome> event_store::commit_batch(std::span<const event_row> rows) {
  std::vector<insert_outcome> outcomes;
  if (rows.empty()) return outcomes;
  outcomes.reserve(rows.size());
  std::vector<new_row> inserted;
  inserted.reserve(rows.size());

  transaction tx(db_);
  const clear_bindings_on_exit clear(insert_, find_existing_);

  for (const event_row& row : rows) {
    detail::bind_event(insert_, row);
    // With RETURNING, the first step makes the change; rewinding right away leaves no write statement pending at
    // COMMIT. Every parameter is bound again for the next row, so the bindings need not be cleared.
    const bool stored = insert_.step();
    const std::int64_t id = stored ? insert_.column_int64(0) : 0;
    insert_.rewind();
    if (stored) {
      outcomes.push_back({id, false});
      if (row.token_id) inserted.push_back({*row.token_id, row.received_at_us});
      continue;
    }

    // ON CONFLICT skipped the row: its key is already stored, by an earlier batch or by an earlier row of this one.
    // A NULL in the key never conflicts, so both parts are here.
    if (!row.event_id || !row.token_id) {
      throw storage_error(SQLITE_INTERNAL, "usage_events: an insert without token or event_id reported a conflict");
    }
    find_existing_.bind(1, row.token_id).bind_static(2, *row.event_id);
    const bool found = find_existing_.step();
    const std::int64_t existing = found ? find_existing_.column_int64(0) : 0;
    find_existing_.rewind();
    if (!found) {
      throw storage_error(SQLITE_INTERNAL, fmt::format("usage_events: a conflict on (token_id {}, event_id '{}') but "
                                                       "no such row",
                                                       *row.token_id, *row.event_id));
    }
    outcomes.push_back({existing, true});
  }

  // One UPDATE per token, in token order, for all its new rows: duplicates count nothing.
  std::sort(inserted.begin(), inserted.end(),
            [](const new_row& a, const new_row& b) { return a.token_id < b.token_id; });
  for (auto first = inserted.begin(); first != inserted.end();) {
    std::int64_t count = 0;
    std::int64_t last_seen = first->received_at_us;
    auto last = first;
    for (; last != inserted.end() && last->token_id == first->token_id; ++last) {
      ++count;
      last_seen = std::max(last_seen, last->received_at_us);
    }
    touch_token_.bind(1, count).bind(2, last_seen).bind(3, first->token_id);
    touch_token_.step();
    touch_token_.rewind();
    first = last;
  }

  tx.commit();
  return outcomes;
}

std::int64_t event_store::count() {
  statement query(db_, "SELECT count(*) FROM usage_events");
  query.step();
  return query.column_int64(0);
}

}  // namespace cg::storage
