#include "pg_event_store.hpp"

#include "../event_sql.hpp"

#include "cg/storage/event_columns.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace cg::storage::pg {

namespace {

// Every inserted column of `e`, in event_columns() order, after its id: what both insert methods send.
template <typename Visit>
void for_each_value(const event_fields& e, Visit&& visit) {
  visit(&e.id);
  for (const auto& column : event_columns())
    if (column.inserted()) std::visit(visit, field_of(column, e.row));
}

// One array per column of unnest_events_sql().
class event_arrays {
 public:
  event_arrays() : columns_(1 + inserted_count()) {}
  void add(const event_fields& e) {
    std::size_t i = 0;
    for_each_value(e, [&](const auto* value) {
      if constexpr (std::is_same_v<decltype(value), const std::string*>)
        columns_[i++].add(std::string_view(*value));
      else
        columns_[i++].add(*value);
    });
  }
  query_params finish() && {
    query_params params;
    for (auto& column : columns_) params.add(std::move(column).finish());
    return params;
  }

 private:
  static std::size_t inserted_count() {
    return static_cast<std::size_t>(std::ranges::count_if(event_columns(), &event_column::inserted));
  }
  std::vector<array_literal> columns_;
};

// The same rows in COPY's text format: tab-separated, `\N` for null, backslash escapes.
class copy_rows {
 public:
  void add(const event_fields& e) {
    for_each_value(e, [this](const auto* value) { cell(*value); });
    data_.back() = '\n';
  }
  std::string_view data() const noexcept { return data_; }

 private:
  void cell(std::int64_t value) {
    data_ += std::to_string(value);
    data_ += '\t';
  }
  template <typename T>
  void cell(const std::optional<T>& value) {
    if (value)
      cell(*value);
    else
      data_ += "\\N\t";
  }
  void cell(const std::string& value) {
    for (const char c : value) {
      switch (c) {
        case '\\': data_ += "\\\\"; break;
        case '\t': data_ += "\\t"; break;
        case '\n': data_ += "\\n"; break;
        case '\r': data_ += "\\r"; break;
        case '\0':
          throw storage_error(storage_error::kind::other,
                              "a text value contains a NUL byte (\\u0000), which PostgreSQL cannot store");
        default: data_ += c;
      }
    }
    data_ += '\t';
  }
  std::string data_;
};

// The keyed rows of a batch in (token_id, event_id) byte order: every gateway takes the key locks in the same order,
// so two batches sharing keys wait for each other instead of deadlocking. Within the batch the first occurrence of a
// key (stable sort) represents it; later ones are its duplicates. A row without a token (the legacy POST /log) has
// no key, as on SQLite, where a NULL in the unique index never conflicts.
struct batch_keys {
  std::vector<std::size_t> representatives;
  std::vector<std::pair<std::size_t, std::size_t>> repeats;  // (row, its representative)
};

batch_keys keys_of(std::span<const event_row> rows) {
  std::vector<std::size_t> keyed;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].event_id && rows[i].token_id) keyed.push_back(i);
  std::stable_sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(*rows[a].token_id, *rows[a].event_id) < std::tie(*rows[b].token_id, *rows[b].event_id);
  });
  batch_keys keys;
  for (const auto i : keyed) {
    if (!keys.representatives.empty()) {
      const auto& first = rows[keys.representatives.back()];
      if (first.token_id == rows[i].token_id && *first.event_id == *rows[i].event_id) {
        keys.repeats.emplace_back(i, keys.representatives.back());
        continue;
      }
    }
    keys.representatives.push_back(i);
  }
  return keys;
}

}  // namespace

std::string copy_events_sql() {
  return fmt::format("COPY usage_events ({}) FROM STDIN", detail::inserted_column_names(true));
}

std::string unnest_events_sql() {
  // One typed array per column, so that no parameter's type is left to the server to guess.
  std::string arrays = "$1::bigint[]";
  int n = 1;
  for (const auto& column : event_columns()) {
    if (!column.inserted()) continue;
    const bool text = column.type == column_type::text || column.type == column_type::json_text;
    fmt::format_to(std::back_inserter(arrays), ", ${}::{}[]", ++n, text ? "text" : "bigint");
  }
  return fmt::format("INSERT INTO usage_events ({}) SELECT * FROM unnest({})", detail::inserted_column_names(true),
                     arrays);
}

void dedupe_keys::add(std::int64_t token_id, std::string_view event_id, std::int64_t id, std::int64_t ts_us) {
  token_ids_.add(token_id);
  event_ids_.add(event_id);
  ids_.add(id);
  ts_.add(ts_us);
}

std::set<std::int64_t> dedupe_keys::claim(session& s, std::string_view what) && {
  const query_result claimed = s.exec_prepared(
      "cg_claim_keys",
      "INSERT INTO event_keys (token_id, event_id, id, ts) "
      "SELECT k.token_id, k.event_id, k.id, k.ts "
      "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(token_id, event_id, "
      "id, ts, n) ORDER BY k.n "
      "ON CONFLICT (token_id, event_id) DO NOTHING RETURNING id",
      query_params()
          .add(std::move(token_ids_).finish())
          .add(std::move(event_ids_).finish())
          .add(std::move(ids_).finish())
          .add(std::move(ts_).finish()),
      what);
  std::set<std::int64_t> inserted;
  for (int r = 0; r < claimed.rows(); ++r) inserted.insert(claimed.int64(r, 0));
  return inserted;
}

std::vector<insert_outcome> event_store::insert_batch(std::span<const event_row> rows) {
  const auto n = static_cast<std::int64_t>(rows.size());
  // Ids for every row, in batch order (as SQLite would number them; a duplicate's id is simply never used), asked
  // for with the BEGIN: each round trip is a wait the whole batch pays.
  query_result ids;
  transaction tx(session_, fmt::format("BEGIN; SELECT nextval('usage_events_id_seq') FROM generate_series(1, {})", n),
                 ids);
  std::vector<insert_outcome> outcomes(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) outcomes[i].id = ids.int64(static_cast<int>(i), 0);

  const std::vector<bool> is_new = claim_keys(rows, outcomes);
  std::vector<event_fields> fresh;
  fresh.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (is_new[i]) fresh.push_back({outcomes[i].id, rows[i]});
  insert_events(fresh);
  touch_tokens(rows, is_new);
  tx.commit();
  return outcomes;
}

std::vector<bool> event_store::claim_keys(std::span<const event_row> rows, std::vector<insert_outcome>& outcomes) {
  std::vector<bool> is_new(rows.size(), true);
  const batch_keys keys = keys_of(rows);
  if (keys.representatives.empty()) return is_new;
  dedupe_keys claims;
  for (const auto i : keys.representatives)
    claims.add(*rows[i].token_id, *rows[i].event_id, outcomes[i].id, rows[i].ts_us);
  const std::set<std::int64_t> inserted = std::move(claims).claim(session_, "inserting dedupe keys");

  std::vector<std::size_t> stored_before;
  for (const auto i : keys.representatives)
    if (!inserted.contains(outcomes[i].id)) stored_before.push_back(i);
  if (!stored_before.empty()) find_first_ids(rows, stored_before, outcomes);
  for (const auto i : stored_before) is_new[i] = false;
  for (const auto& [row, first] : keys.repeats) {
    outcomes[row] = {outcomes[first].id, true};
    is_new[row] = false;
  }
  return is_new;
}

void event_store::find_first_ids(std::span<const event_row> rows, std::span<const std::size_t> stored_before,
                                 std::vector<insert_outcome>& outcomes) {
  // This statement's snapshot sees the keys that conflicted, also those a concurrent gateway just committed.
  array_literal lookup_tokens, lookup_events;
  for (const auto i : stored_before) {
    lookup_tokens.add(*rows[i].token_id);
    lookup_events.add(std::string_view(*rows[i].event_id));
  }
  const query_result found = session_.exec_prepared(
      "cg_find_keys",
      "SELECT k.token_id, k.event_id, k.id FROM event_keys AS k "
      "JOIN unnest($1::bigint[], $2::text[]) AS u(token_id, event_id) "
      "ON k.token_id = u.token_id AND k.event_id = u.event_id",
      query_params().add(std::move(lookup_tokens).finish()).add(std::move(lookup_events).finish()),
      "reading the ids of duplicate events");
  std::map<std::pair<std::int64_t, std::string>, std::int64_t, std::less<>> first_ids;
  for (int r = 0; r < found.rows(); ++r)
    first_ids.emplace(std::pair{found.int64(r, 0), std::string(found.text(r, 1))}, found.int64(r, 2));
  for (const auto i : stored_before) {
    const auto it = first_ids.find(std::pair{*rows[i].token_id, *rows[i].event_id});
    if (it == first_ids.end()) {
      throw storage_error(storage_error::kind::other,
                          fmt::format("event_keys: a conflict on (token_id {}, event_id '{}') but no such key",
                                      *rows[i].token_id, *rows[i].event_id));
    }
    outcomes[i] = {it->second, true};
  }
}

void event_store::touch_tokens(std::span<const event_row> rows, const std::vector<bool>& is_new) {
  // One update per token for all its new rows, duplicates counting nothing; rows locked in id order first (when
  // there are several), for the same reason as the keys.
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> touched;  // token → (count, last seen)
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!is_new[i] || !rows[i].token_id) continue;
    auto [it, inserted] = touched.try_emplace(*rows[i].token_id, 0, rows[i].received_at_us);
    ++it->second.first;
    it->second.second = std::max(it->second.second, rows[i].received_at_us);
  }
  if (touched.empty()) return;
  array_literal token_ids, counts, seen;
  for (const auto& [id, usage] : touched) {
    token_ids.add(id);
    counts.add(usage.first);
    seen.add(usage.second);
  }
  const std::string token_array = std::move(token_ids).finish();
  if (touched.size() > 1) {
    session_.exec_prepared(
        "cg_lock_tokens", "SELECT id FROM tracking_tokens WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
        query_params().add(token_array), "locking tokens");
  }
  // greatest(coalesce(...)): a clock that stepped back must not move last_seen_at backwards.
  session_.exec_prepared(
      "cg_touch_tokens",
      "UPDATE tracking_tokens AS t SET usage_count = t.usage_count + u.n, "
      "last_seen_at = greatest(coalesce(t.last_seen_at, 0), u.seen) "
      "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(id, n, seen) WHERE t.id = u.id",
      query_params().add(token_array).add(std::move(counts).finish()).add(std::move(seen).finish()),
      "updating token usage");
}

void event_store::insert_events(std::span<const event_fields> events) {
  if (events.empty()) return;
  if (method_ == postgres_insert_method::copy) {
    copy_rows data;
    for (const auto& e : events) data.add(e);
    static const std::string copy_sql = copy_events_sql();
    session_.copy_in(copy_sql, data.data(), "inserting events (COPY)");
    return;
  }
  event_arrays arrays;
  for (const auto& e : events) arrays.add(e);
  static const std::string insert_sql = unnest_events_sql();
  session_.exec_prepared("cg_insert_events", insert_sql, std::move(arrays).finish(), "inserting events");
}

std::int64_t event_store::apply_costs(std::span<const cost_update> updates) {
  if (updates.empty()) return 0;
  array_literal ids, costs, sources, refs;
  for (const auto& u : updates) {
    ids.add(u.id);
    costs.add(u.cost_nusd);
    sources.add(std::string_view(u.cost_source));
    refs.add(std::string_view(u.price_ref));
  }
  transaction tx(session_);
  const query_result r = session_.exec(
      "UPDATE usage_events AS e SET cost_nusd = u.cost, cost_source = u.source, price_ref = u.ref "
      "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(id, cost, source, ref) "
      "WHERE e.id = u.id AND e.cost_source <> 'client'",
      query_params()
          .add(std::move(ids).finish())
          .add(std::move(costs).finish())
          .add(std::move(sources).finish())
          .add(std::move(refs).finish()),
      "rewriting costs");
  tx.commit();
  return r.affected();
}

}  // namespace cg::storage::pg
