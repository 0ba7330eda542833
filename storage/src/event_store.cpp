#include "cg/storage/event_store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <utility>

namespace cg::storage {

namespace {

constexpr std::string_view insert_sql = R"sql(
INSERT INTO usage_events (ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens,
                          total_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd,
                          cost_source, price_ref, source, user, session_id, session_type, project, feature,
                          environment, meta)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
ON CONFLICT (token_id, event_id) DO NOTHING
RETURNING id
)sql";

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

event_store::event_store(database& db)
    : db_(db), insert_(db, insert_sql), find_existing_(db, find_existing_sql), touch_token_(db, touch_token_sql) {}

std::vector<insert_outcome> event_store::commit_batch(std::span<const event_row> rows) {
  std::vector<insert_outcome> outcomes;
  if (rows.empty()) return outcomes;
  outcomes.reserve(rows.size());
  std::vector<new_row> inserted;
  inserted.reserve(rows.size());

  transaction tx(db_);
  const clear_bindings_on_exit clear(insert_, find_existing_);

  for (const event_row& row : rows) {
    insert_.bind(1, row.ts_us)
        .bind(2, row.received_at_us)
        .bind(3, row.token_id)
        .bind_static(4, row.event_id)
        .bind_static(5, row.provider)
        .bind_static(6, row.model)
        .bind(7, row.input_tokens)
        .bind(8, row.output_tokens)
        .bind(9, row.total_tokens)
        .bind(10, row.cache_read_tokens)
        .bind(11, row.cache_write_tokens)
        .bind(12, row.reasoning_tokens)
        .bind(13, row.cost_nusd)
        .bind_static(14, row.cost_source)
        .bind_static(15, row.price_ref)
        .bind_static(16, row.source)
        .bind_static(17, row.user)
        .bind_static(18, row.session_id)
        .bind_static(19, row.session_type)
        .bind_static(20, row.project)
        .bind_static(21, row.feature)
        .bind_static(22, row.environment)
        .bind_static(23, row.meta);
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
