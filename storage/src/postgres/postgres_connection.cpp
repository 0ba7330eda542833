#include "postgres_connection.hpp"

#include "../event_sql.hpp"
#include "../report_accumulator.hpp"
#include "pg_schema.hpp"
#include "pg_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

namespace cg::storage {

namespace {

using pg::array_literal;
using pg::query_params;
using pg::query_result;

// Writes are short; a statement that runs this long is stuck behind a lock or a server in trouble, and the batch is
// better answered with 503 than waited for. Reads (reports over years, exports) get longer.
constexpr std::string_view writer_setup = "SET statement_timeout = '60s'";
constexpr std::string_view reader_setup_timeout = "SET statement_timeout = '300s'";
// Maintenance (retention, reset, imports) may touch millions of rows.
constexpr std::string_view no_timeout = "SET LOCAL statement_timeout = 0";

constexpr std::int64_t us_per_day = 86'400'000'000;
// Every UTC offset in use since 1972 is a whole number of quarter hours, so a local day starts on a quarter hour
// (UTC): reports sum per quarter hour in SQL and bucket those into local days in C++.
constexpr std::int64_t us_per_quarter_hour = 900'000'000;

// ---- the events of a batch as column arrays ---------------------------------------------------------------------

constexpr std::string_view event_columns =
    "id, ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, price_ref, source, \"user\", "
    "session_id, session_type, project, feature, environment, meta";

constexpr std::string_view insert_events_sql =
    "INSERT INTO usage_events (id, ts, received_at, token_id, event_id, provider, model, input_tokens, "
    "output_tokens, total_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, "
    "price_ref, source, \"user\", session_id, session_type, project, feature, environment, meta) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], "
    "$14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], "
    "$22::text[], $23::text[], $24::text[])";

/// One event to insert, whichever struct it came from.
struct event_fields {
  std::int64_t id;
  std::int64_t ts_us;
  std::int64_t received_at_us;
  std::optional<std::int64_t> token_id;
  const std::optional<std::string>& event_id;
  const std::string& provider;
  const std::string& model;
  std::array<std::int64_t, 7> counts;  // input, output, total, cache read, cache write, reasoning, cost
  const std::string& cost_source;
  const std::string& price_ref;
  const std::string& source;
  std::array<const std::optional<std::string>*, 7> attributes;  // user … meta
};

event_fields fields_of(std::int64_t id, const event_row& r) {
  return {id,
          r.ts_us,
          r.received_at_us,
          r.token_id,
          r.event_id,
          r.provider,
          r.model,
          {r.tokens.input, r.tokens.output, r.tokens.total, r.tokens.cache_read, r.tokens.cache_write,
           r.tokens.reasoning, r.cost_nusd},
          r.cost_source,
          r.price_ref,
          r.source,
          {&r.user, &r.session_id, &r.session_type, &r.project, &r.feature, &r.environment, &r.meta}};
}

event_fields fields_of(const stored_event& r) {
  return {r.id,
          r.ts_us,
          r.received_at_us,
          r.token_id,
          r.event_id,
          r.provider,
          r.model,
          {r.tokens.input, r.tokens.output, r.tokens.total, r.tokens.cache_read, r.tokens.cache_write,
           r.tokens.reasoning, r.cost_nusd},
          r.cost_source,
          r.price_ref,
          r.source,
          {&r.user, &r.session_id, &r.session_type, &r.project, &r.feature, &r.environment, &r.meta}};
}

// The 24 arrays of insert_events_sql.
class event_arrays {
 public:
  void add(const event_fields& e) {
    columns_[0].add(e.id);
    columns_[1].add(e.ts_us);
    columns_[2].add(e.received_at_us);
    columns_[3].add(e.token_id);
    columns_[4].add(e.event_id);
    columns_[5].add(std::string_view(e.provider));
    columns_[6].add(std::string_view(e.model));
    for (std::size_t i = 0; i < e.counts.size(); ++i) columns_[7 + i].add(e.counts[i]);
    columns_[14].add(std::string_view(e.cost_source));
    columns_[15].add(std::string_view(e.price_ref));
    columns_[16].add(std::string_view(e.source));
    for (std::size_t i = 0; i < e.attributes.size(); ++i) columns_[17 + i].add(*e.attributes[i]);
  }
  query_params finish() && {
    query_params params;
    for (auto& column : columns_) params.add(std::move(column).finish());
    return params;
  }

 private:
  std::array<array_literal, 24> columns_;
};

// The same rows in COPY's text format: tab-separated, `\N` for null, backslash escapes.
class copy_rows {
 public:
  void add(const event_fields& e) {
    number(e.id);
    number(e.ts_us);
    number(e.received_at_us);
    if (e.token_id)
      number(*e.token_id);
    else
      null();
    optional_text(e.event_id);
    text(e.provider);
    text(e.model);
    for (const auto count : e.counts) number(count);
    text(e.cost_source);
    text(e.price_ref);
    text(e.source);
    for (const auto* attribute : e.attributes) optional_text(*attribute);
    data_.back() = '\n';
  }
  std::string_view data() const noexcept { return data_; }

 private:
  void number(std::int64_t value) {
    data_ += std::to_string(value);
    data_ += '\t';
  }
  void null() { data_ += "\\N\t"; }
  void optional_text(const std::optional<std::string>& value) {
    if (value)
      text(*value);
    else
      null();
  }
  void text(std::string_view value) {
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

// ---- reading rows -----------------------------------------------------------------------------------------------

// One row of a result, as detail::decode_event() reads it.
class pg_result_row {
 public:
  pg_result_row(const query_result& r, int row) : r_(r), row_(row) {}
  bool is_null(int column) const { return r_.is_null(row_, column); }
  std::int64_t int64(int column) const { return r_.int64(row_, column); }
  void text(int column, std::string& out) const { out.assign(r_.text(row_, column)); }

 private:
  const query_result& r_;
  int row_;
};

constexpr std::string_view token_columns = "id, label, token, active, created_at, last_seen_at, usage_count, deleted_at";

tracking_token_row read_token(const query_result& r, int row) {
  return tracking_token_row{
      .id = r.int64(row, 0),
      .label = std::string(r.text(row, 1)),
      .token = std::string(r.text(row, 2)),
      .active = r.boolean(row, 3),
      .created_at_us = r.int64(row, 4),
      .last_seen_at_us = r.optional_int64(row, 5),
      .usage_count = r.int64(row, 6),
      .deleted_at_us = r.optional_int64(row, 7),
  };
}

query_params params_of(const bound_sql& sql) {
  query_params params;
  for (const auto& v : sql.params) {
    if (const auto* number = std::get_if<std::int64_t>(&v))
      params.add(*number);
    else
      params.add(std::get<std::string>(v));
  }
  return params;
}

// Thrown inside a report's row stream when a pre-aggregated bucket straddles two local days (a zone whose offset is
// not a whole number of quarter hours, such as local mean time before 1972): the report is then summed per instant.
struct bucket_straddles_days {};

// ---- the connection ---------------------------------------------------------------------------------------------

/// A storage::connection to PostgreSQL.
/// Thread-safety: none; a connection belongs to one thread at a time (the writer, or one reader of the pool).
class postgres_connection final : public connection {
 public:
  postgres_connection(pg::session_settings settings, postgres_options options)
      : session_(std::move(settings)), options_(options) {}

  std::string_view backend_name() const noexcept override { return "postgresql"; }

  pg::session& session() noexcept { return session_; }

  std::vector<insert_outcome> commit_batch(std::span<const event_row> rows) override;
  tracking_token_row create_token(const std::string& label, const std::string& token, std::int64_t now_us) override;
  bool set_token_active(std::int64_t id, bool active) override;
  bool remove_token(std::int64_t id, std::int64_t now_us) override;
  std::int64_t reset_usage() override;
  void write_probe(std::int64_t now_us) override;
  std::int64_t apply_costs(std::span<const cost_update> updates) override;
  retention_result drop_events_before(std::int64_t cutoff_us) override;
  std::int64_t import_tokens(std::span<const tracking_token_row> rows) override;
  std::int64_t import_events(std::span<const stored_event> rows) override;
  void prepare_months(std::int64_t now_us) override;

  std::vector<tracking_token_row> list_tokens() override;
  std::vector<tracking_token_row> all_tokens() override;
  std::size_t for_each_event(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                             const std::optional<event_position>& after, std::size_t limit,
                             const std::function<void(const stored_event&)>& visit) override;
  std::vector<std::string> models() override;
  std::int64_t max_event_id() override;
  cost_report run_cost_report(const cost_report_request& request, std::span<const project_rule> rules) override;
  database_figures figures() override;
  void check_read() override;
  std::vector<priced_event> reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                         std::size_t limit) override;

 private:
  template <class F>
  auto run(F&& call) -> decltype(call());

  std::vector<insert_outcome> insert_batch(std::span<const event_row> rows);
  void insert_events(const std::vector<event_fields>& events);
  /// Creates the partitions of these months that do not exist yet (outside any transaction).
  void ensure_months(const std::set<pg::month>& months);
  void forget_months() noexcept { months_loaded_ = false; }

  pg::session session_;
  postgres_options options_;
  std::set<pg::month> known_months_;
  bool months_loaded_ = false;
  std::uint64_t months_generation_ = 0;
  std::mt19937_64 probe_random_{std::random_device{}()};
};

// Every call goes through run(): it reconnects when the connection is down (with backoff), and when the first
// statement of the call finds that the connection died while idle (a server restart, a network blip, an idle
// timeout), nothing of the call reached the server, so it connects again and runs the call once more. Every call
// starts with a read or a BEGIN for this reason; a failure after the first statement is never retried (a COMMIT
// whose answer was lost may have committed).
template <class F>
auto postgres_connection::run(F&& call) -> decltype(call()) {
  session_.ensure_open();
  const auto trips = session_.round_trips();
  const auto generation = session_.generation();
  try {
    return call();
  } catch (const storage_error& e) {
    if (!e.is_unavailable() || session_.round_trips() != trips || session_.generation() != generation) throw;
    session_.ensure_open();
    return call();
  }
}

void postgres_connection::ensure_months(const std::set<pg::month>& months) {
  if (!months_loaded_ || months_generation_ != session_.generation()) {
    known_months_ = pg::existing_partitions(session_);
    months_loaded_ = true;
    months_generation_ = session_.generation();
  }
  for (const pg::month m : months) {
    if (known_months_.contains(m)) continue;
    pg::create_partition(session_, m);
    known_months_.insert(m);
  }
}

// ---- writes -----------------------------------------------------------------------------------------------------

std::vector<insert_outcome> postgres_connection::commit_batch(std::span<const event_row> rows) {
  if (rows.empty()) return {};
  std::set<pg::month> months;
  for (const auto& row : rows) months.insert(pg::month_of(row.ts_us));
  for (int attempt = 0;; ++attempt) {
    try {
      return run([&] {
        ensure_months(months);
        return insert_batch(rows);
      });
    } catch (const storage_error&) {
      // 23514 from the insert: a month's partition vanished since we listed them (another gateway's retention
      // dropped it). List again, recreate, and try once more; the failed attempt stored nothing.
      if (attempt > 0 || session_.last_sqlstate() != "23514") throw;
      forget_months();
    }
  }
}

std::vector<insert_outcome> postgres_connection::insert_batch(std::span<const event_row> rows) {
  const auto n = static_cast<std::int64_t>(rows.size());
  // Ids for every row, in batch order (as SQLite would number them; a duplicate's id is simply never used), asked
  // for with the BEGIN: each round trip is a wait the whole batch pays.
  query_result ids;
  pg::transaction tx(
      session_,
      fmt::format("BEGIN; SELECT nextval('usage_events_id_seq') FROM generate_series(1, {})", n), ids);
  std::vector<insert_outcome> outcomes(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) outcomes[i].id = ids.int64(static_cast<int>(i), 0);

  // Keyed rows in (token_id, event_id) byte order: every gateway takes the key locks in the same order, so two
  // batches sharing keys wait for each other instead of deadlocking. Within the batch the first occurrence of a key
  // (stable sort) represents it; later ones are its duplicates. A row without a token (the legacy POST /log) has no
  // key, as on SQLite, where a NULL in the unique index never conflicts.
  std::vector<std::size_t> keyed;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].event_id && rows[i].token_id) keyed.push_back(i);
  std::stable_sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(*rows[a].token_id, *rows[a].event_id) < std::tie(*rows[b].token_id, *rows[b].event_id);
  });
  std::vector<std::size_t> representatives;
  std::vector<std::pair<std::size_t, std::size_t>> repeats;  // (row, its representative)
  for (std::size_t k = 0; k < keyed.size(); ++k) {
    const auto& row = rows[keyed[k]];
    if (!representatives.empty()) {
      const auto& first = rows[representatives.back()];
      if (first.token_id == row.token_id && *first.event_id == *row.event_id) {
        repeats.emplace_back(keyed[k], representatives.back());
        continue;
      }
    }
    representatives.push_back(keyed[k]);
  }

  std::vector<bool> is_new(rows.size(), true);
  if (!representatives.empty()) {
    array_literal token_ids, event_ids, key_ids, key_ts;
    for (const auto i : representatives) {
      token_ids.add(*rows[i].token_id);
      event_ids.add(std::string_view(*rows[i].event_id));
      key_ids.add(outcomes[i].id);
      key_ts.add(rows[i].ts_us);
    }
    // Under READ COMMITTED, a key another transaction inserted but has not committed makes this insert wait for
    // it; once it commits the key counts as a conflict (our row is skipped), if it rolls back ours goes in.
    const query_result claimed = session_.exec_prepared(
        "cg_claim_keys",
        "INSERT INTO event_keys (token_id, event_id, id, ts) "
        "SELECT k.token_id, k.event_id, k.id, k.ts "
        "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(token_id, event_id, "
        "id, ts, n) ORDER BY k.n "
        "ON CONFLICT (token_id, event_id) DO NOTHING RETURNING id",
        query_params()
            .add(std::move(token_ids).finish())
            .add(std::move(event_ids).finish())
            .add(std::move(key_ids).finish())
            .add(std::move(key_ts).finish()),
        "inserting dedupe keys");
    std::set<std::int64_t> inserted;
    for (int r = 0; r < claimed.rows(); ++r) inserted.insert(claimed.int64(r, 0));

    std::vector<std::size_t> stored_before;
    for (const auto i : representatives)
      if (!inserted.contains(outcomes[i].id)) stored_before.push_back(i);
    if (!stored_before.empty()) {
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
        is_new[i] = false;
      }
    }
    for (const auto& [row, first] : repeats) {
      outcomes[row] = {outcomes[first].id, true};
      is_new[row] = false;
    }
  }

  std::vector<event_fields> fresh;
  fresh.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (is_new[i]) fresh.push_back(fields_of(outcomes[i].id, rows[i]));
  insert_events(fresh);

  // One update per token for all its new rows, duplicates counting nothing; rows locked in id order first (when
  // there are several), for the same reason as the keys.
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> touched;  // token → (count, last seen)
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!is_new[i] || !rows[i].token_id) continue;
    auto [it, inserted] = touched.try_emplace(*rows[i].token_id, 0, rows[i].received_at_us);
    ++it->second.first;
    it->second.second = std::max(it->second.second, rows[i].received_at_us);
  }
  if (!touched.empty()) {
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

  tx.commit();
  return outcomes;
}

void postgres_connection::insert_events(const std::vector<event_fields>& events) {
  if (events.empty()) return;
  if (options_.insert_method == postgres_insert_method::copy) {
    copy_rows data;
    for (const auto& e : events) data.add(e);
    session_.copy_in(fmt::format("COPY usage_events ({}) FROM STDIN", event_columns), data.data(),
                     "inserting events (COPY)");
    return;
  }
  event_arrays arrays;
  for (const auto& e : events) arrays.add(e);
  session_.exec_prepared("cg_insert_events", insert_events_sql, std::move(arrays).finish(), "inserting events");
}

tracking_token_row postgres_connection::create_token(const std::string& label, const std::string& token,
                                                     std::int64_t now_us) {
  return run([&] {
    pg::transaction tx(session_);
    const query_result r = session_.exec(
        fmt::format("INSERT INTO tracking_tokens (label, token, active, created_at) VALUES ($1::text, $2::text, "
                    "true, $3::bigint) RETURNING {}",
                    token_columns),
        query_params().add(label).add(token).add(now_us), "creating a token");
    tracking_token_row created = read_token(r, 0);
    tx.commit();
    return created;
  });
}

bool postgres_connection::set_token_active(std::int64_t id, bool active) {
  return run([&] {
    pg::transaction tx(session_);
    const query_result r =
        session_.exec("UPDATE tracking_tokens SET active = $1::boolean WHERE id = $2::bigint AND deleted_at IS NULL",
                      query_params().add(active).add(id), "changing a token");
    tx.commit();
    return r.affected() > 0;
  });
}

bool postgres_connection::remove_token(std::int64_t id, std::int64_t now_us) {
  return run([&] {
    pg::transaction tx(session_);
    const query_result r = session_.exec(
        "UPDATE tracking_tokens SET deleted_at = $1::bigint, active = false WHERE id = $2::bigint AND deleted_at IS NULL",
        query_params().add(now_us).add(id), "deleting a token");
    tx.commit();
    return r.affected() > 0;
  });
}

std::int64_t postgres_connection::reset_usage() {
  return run([&] {
    pg::transaction tx(session_);
    session_.exec(no_timeout, "reset");
    // The tables in the order commit_batch writes them (keys, then events), so a batch in flight on another gateway
    // waits for the reset instead of deadlocking with it.
    session_.exec("LOCK TABLE event_keys, usage_events IN ACCESS EXCLUSIVE MODE", "locking events for a reset");
    const std::int64_t deleted =
        session_.exec("SELECT count(*) FROM usage_events", "counting events").int64(0, 0);
    session_.exec("TRUNCATE event_keys, usage_events", "deleting every event");
    session_.exec("UPDATE tracking_tokens SET usage_count = 0, last_seen_at = NULL", "zeroing token usage");
    tx.commit();
    return deleted;
  });
}

void postgres_connection::write_probe(std::int64_t now_us) {
  // 64 KiB that do not compress, so the probe writes what it claims to.
  std::string filler(64 * 1024, '\0');
  for (std::size_t i = 0; i < filler.size(); i += 8) {
    const std::uint64_t word = probe_random_();
    std::memcpy(filler.data() + i, &word, 8);
  }
  run([&] {
    session_.exec_prepared("cg_write_probe",
                           "INSERT INTO health_probe (id, written_at, filler) VALUES (1, $1::bigint, $2::bytea) "
                           "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, filler = excluded.filler",
                           query_params().add(now_us).add_binary(filler), "writing the health probe");
  });
}

std::int64_t postgres_connection::apply_costs(std::span<const cost_update> updates) {
  if (updates.empty()) return 0;
  array_literal ids, costs, sources, refs;
  for (const auto& u : updates) {
    ids.add(u.id);
    costs.add(u.cost_nusd);
    sources.add(std::string_view(u.cost_source));
    refs.add(std::string_view(u.price_ref));
  }
  const query_params params = query_params()
                                  .add(std::move(ids).finish())
                                  .add(std::move(costs).finish())
                                  .add(std::move(sources).finish())
                                  .add(std::move(refs).finish());
  return run([&] {
    pg::transaction tx(session_);
    const query_result r = session_.exec(
        "UPDATE usage_events AS e SET cost_nusd = u.cost, cost_source = u.source, price_ref = u.ref "
        "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(id, cost, source, ref) "
        "WHERE e.id = u.id AND e.cost_source <> 'client'",
        params, "rewriting costs");
    tx.commit();
    return r.affected();
  });
}

retention_result postgres_connection::drop_events_before(std::int64_t cutoff_us) {
  return run([&] {
    retention_result result;
    for (const pg::month m : pg::existing_partitions(session_)) {
      if (pg::month_start(pg::month{m.index + 1}) > cutoff_us) continue;
      result.events_deleted += pg::drop_partition(session_, m);
      result.months_dropped.push_back(pg::month_label(m));
    }
    forget_months();
    // A cutoff inside a month: that month's earlier rows go one by one. Then the dedupe keys of every dropped
    // event; each in its own transaction, so ingest (which writes keys before events) never waits for both.
    {
      pg::transaction tx(session_);
      session_.exec(no_timeout, "retention");
      result.events_deleted += session_.exec("DELETE FROM usage_events WHERE ts < $1::bigint",
                                             query_params().add(cutoff_us), "deleting old events")
                                   .affected();
      tx.commit();
    }
    pg::transaction tx(session_);
    session_.exec(no_timeout, "retention");
    session_.exec("DELETE FROM event_keys WHERE ts < $1::bigint", query_params().add(cutoff_us),
                  "deleting old dedupe keys");
    tx.commit();
    return result;
  });
}

std::int64_t postgres_connection::import_tokens(std::span<const tracking_token_row> rows) {
  if (rows.empty()) return 0;
  array_literal ids, labels, tokens, active, created, seen, counts, deleted;
  for (const auto& t : rows) {
    ids.add(t.id);
    labels.add(std::string_view(t.label));
    tokens.add(std::string_view(t.token));
    active.add(t.active);
    created.add(t.created_at_us);
    seen.add(t.last_seen_at_us);
    counts.add(t.usage_count);
    deleted.add(t.deleted_at_us);
  }
  const query_params params = query_params()
                                  .add(std::move(ids).finish())
                                  .add(std::move(labels).finish())
                                  .add(std::move(tokens).finish())
                                  .add(std::move(active).finish())
                                  .add(std::move(created).finish())
                                  .add(std::move(seen).finish())
                                  .add(std::move(counts).finish())
                                  .add(std::move(deleted).finish());
  return run([&] {
    pg::transaction tx(session_);
    const std::int64_t added =
        session_
            .exec("INSERT INTO tracking_tokens (id, label, token, active, created_at, last_seen_at, usage_count, "
                  "deleted_at) "
                  "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::bigint[], "
                  "$6::bigint[], $7::bigint[], $8::bigint[]) ON CONFLICT (id) DO NOTHING",
                  params, "importing tokens")
            .affected();
    // Past every id now present, so tokens created later do not collide with imported ones.
    session_.exec("SELECT setval(pg_get_serial_sequence('tracking_tokens', 'id'), "
                  "coalesce((SELECT max(id) FROM tracking_tokens), 0) + 1, false)",
                  "moving the token id sequence");
    tx.commit();
    return added;
  });
}

std::int64_t postgres_connection::import_events(std::span<const stored_event> rows) {
  if (rows.empty()) return 0;
  std::set<pg::month> months;
  for (const auto& row : rows) months.insert(pg::month_of(row.ts_us));
  return run([&] {
    ensure_months(months);
    pg::transaction tx(session_);
    session_.exec(no_timeout, "import");
    // Ids already present: a re-run of the same copy.
    array_literal all_ids;
    for (const auto& r : rows) all_ids.add(r.id);
    const query_result present =
        session_.exec("SELECT id FROM usage_events WHERE id = ANY($1::bigint[])",
                      query_params().add(std::move(all_ids).finish()), "finding events already imported");
    std::set<std::int64_t> skip;
    for (int r = 0; r < present.rows(); ++r) skip.insert(present.int64(r, 0));

    // Their dedupe keys, skipping rows whose key another row already holds.
    std::vector<std::size_t> keyed;
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i].token_id && rows[i].event_id && !skip.contains(rows[i].id)) keyed.push_back(i);
    std::sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(*rows[a].token_id, *rows[a].event_id, rows[a].id) <
             std::tie(*rows[b].token_id, *rows[b].event_id, rows[b].id);
    });
    if (!keyed.empty()) {
      array_literal token_ids, event_ids, ids, ts;
      for (const auto i : keyed) {
        token_ids.add(*rows[i].token_id);
        event_ids.add(std::string_view(*rows[i].event_id));
        ids.add(rows[i].id);
        ts.add(rows[i].ts_us);
        skip.insert(rows[i].id);  // until the insert below says it holds the key
      }
      const query_result claimed = session_.exec(
          "INSERT INTO event_keys (token_id, event_id, id, ts) "
          "SELECT k.token_id, k.event_id, k.id, k.ts "
          "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(token_id, "
          "event_id, id, ts, n) ORDER BY k.n "
          "ON CONFLICT (token_id, event_id) DO NOTHING RETURNING id",
          query_params()
              .add(std::move(token_ids).finish())
              .add(std::move(event_ids).finish())
              .add(std::move(ids).finish())
              .add(std::move(ts).finish()),
          "importing dedupe keys");
      for (int r = 0; r < claimed.rows(); ++r) skip.erase(claimed.int64(r, 0));
    }

    std::vector<event_fields> fresh;
    std::set<std::int64_t> taken;  // an id twice in one call goes in once
    for (const auto& r : rows)
      if (!skip.contains(r.id) && taken.insert(r.id).second) fresh.push_back(fields_of(r));
    insert_events(fresh);
    session_.exec("SELECT setval('usage_events_id_seq', greatest((SELECT max(id) FROM usage_events), "
                  "(SELECT last_value FROM usage_events_id_seq)))",
                  "moving the event id sequence");
    tx.commit();
    return static_cast<std::int64_t>(fresh.size());
  });
}

void postgres_connection::prepare_months(std::int64_t now_us) {
  const pg::month now = pg::month_of(now_us);
  const std::set<pg::month> months{pg::month{now.index - 1}, now, pg::month{now.index + 1},
                                   pg::month{now.index + 2}};
  run([&] { ensure_months(months); });
}

// ---- reads ------------------------------------------------------------------------------------------------------

std::vector<tracking_token_row> postgres_connection::list_tokens() {
  return run([&] {
    const query_result r =
        session_.exec(fmt::format("SELECT {} FROM tracking_tokens WHERE deleted_at IS NULL ORDER BY created_at, id",
                                  token_columns),
                      "listing tokens");
    std::vector<tracking_token_row> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
    return out;
  });
}

std::vector<tracking_token_row> postgres_connection::all_tokens() {
  return run([&] {
    const query_result r =
        session_.exec(fmt::format("SELECT {} FROM tracking_tokens ORDER BY id", token_columns), "listing tokens");
    std::vector<tracking_token_row> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
    return out;
  });
}

std::size_t postgres_connection::for_each_event(const event_filter& filter, std::span<const project_rule> rules,
                                                 event_order order, const std::optional<event_position>& after,
                                                 std::size_t limit,
                                                 const std::function<void(const stored_event&)>& visit) {
  const bound_sql query = detail::page_sql(detail::sql_dialect::postgresql, filter, rules, order, after, limit);
  const query_result r = run([&] { return session_.exec(query.text, params_of(query), "reading events"); });
  stored_event row;
  for (int i = 0; i < r.rows(); ++i) {
    detail::decode_event(pg_result_row(r, i), row);
    visit(row);
  }
  return static_cast<std::size_t>(r.rows());
}

std::vector<std::string> postgres_connection::models() {
  return run([&] {
    const query_result r = session_.exec(distinct_models_sql(), "listing models");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0));
    return out;
  });
}

std::int64_t postgres_connection::max_event_id() {
  return run([&] {
    return session_.exec("SELECT coalesce(max(id), 0) FROM usage_events", "reading the largest event id").int64(0, 0);
  });
}

cost_report postgres_connection::run_cost_report(const cost_report_request& request,
                                                 std::span<const project_rule> rules) {
  const bool with_time = detail::report_needs_time(request);
  const auto key_columns = detail::report_key_columns(request);
  // Sums per (key columns, bucket) in SQL, so the server returns groups rather than events; the buckets become local
  // days here. In UTC a bucket can be a whole day.
  const auto build = [&](std::int64_t bucket_us) {
    detail::sql_builder sql(detail::sql_dialect::postgresql);
    sql.text("SELECT ");
    int grouped = 0;
    if (with_time) {
      sql.text(fmt::format("e.ts - mod(mod(e.ts, {0}) + {0}, {0}), ", bucket_us));
      ++grouped;
    }
    bool reads_project = detail::filter_needs_project(request.filter);
    for (const auto d : key_columns) {
      detail::append_report_column(sql, d, rules, reads_project);
      sql.text(", ");
      ++grouped;
    }
    sql.text("count(*), sum(e.input_tokens), sum(e.output_tokens), sum(e.total_tokens), sum(e.cache_read_tokens), "
             "sum(e.cache_write_tokens), sum(e.reasoning_tokens), sum(e.cost_nusd)");
    sql.text(detail::events_from);
    if (reads_project && detail::project_needs_token(rules)) sql.text(detail::token_join);
    detail::append_where(sql, request.filter, rules);
    for (int i = 1; i <= grouped; ++i) sql.text(i == 1 ? " GROUP BY " : ", ").text(std::to_string(i));
    return std::move(sql).finish();
  };

  const auto attempt = [&](std::int64_t bucket_us) {
    const bound_sql query = build(bucket_us);
    const query_params params = params_of(query);
    detail::day_cache days(request.zone);
    detail::report_accumulator groups(request);
    const int first_key = with_time ? 1 : 0;
    const int first_sum = first_key + static_cast<int>(key_columns.size());
    session_.stream(query.text, params, "running the cost report", [&](const query_result& r) {
      usage_totals totals;
      totals.requests = r.int64(0, first_sum);
      if (totals.requests == 0) return;  // no GROUP BY and no events: one row of nulls
      local_day day = 0;
      if (with_time) {
        const std::int64_t bucket = r.int64(0, 0);
        day = days.day_of(bucket);
        if (bucket_us > 1 && days.day_of(bucket + bucket_us - 1) != day) throw bucket_straddles_days{};
      }
      groups.start_row(day);
      for (int c = first_key; c < first_sum; ++c) {
        if (r.is_null(0, c))
          groups.null();
        else
          groups.value(r.text(0, c));
      }
      totals.tokens.input = r.int64(0, first_sum + 1);
      totals.tokens.output = r.int64(0, first_sum + 2);
      totals.tokens.total = r.int64(0, first_sum + 3);
      totals.tokens.cache_read = r.int64(0, first_sum + 4);
      totals.tokens.cache_write = r.int64(0, first_sum + 5);
      totals.tokens.reasoning = r.int64(0, first_sum + 6);
      totals.cost_nusd = r.int64(0, first_sum + 7);
      groups.add(totals);
    });
    std::unordered_map<std::int64_t, std::string> labels;
    if (groups.needs_token_labels()) {
      const query_result r = session_.exec("SELECT id, label FROM tracking_tokens", "reading token labels");
      for (int i = 0; i < r.rows(); ++i) labels.emplace(r.int64(i, 0), std::string(r.text(i, 1)));
    }
    return std::move(groups).finish(labels);
  };

  return run([&] {
    try {
      return attempt(request.zone.is_utc() ? us_per_day : us_per_quarter_hour);
    } catch (const bucket_straddles_days&) {
      return attempt(1);
    }
  });
}

database_figures postgres_connection::figures() {
  return run([&] {
    database_figures f;
    f.usage_rows = session_.exec("SELECT count(*) FROM usage_events", "counting events").int64(0, 0);
    f.active_tokens =
        session_.exec("SELECT count(*) FROM tracking_tokens WHERE active AND deleted_at IS NULL", "counting tokens")
            .int64(0, 0);
    const query_result last =
        session_.exec("SELECT received_at FROM usage_events ORDER BY id DESC LIMIT 1", "reading the newest event");
    if (last.rows() > 0) f.last_received_at_us = last.int64(0, 0);
    return f;
  });
}

void postgres_connection::check_read() {
  run([&] { session_.exec("SELECT version FROM cg_schema_version", "checking a read"); });
}

std::vector<priced_event> postgres_connection::reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                                            std::size_t limit) {
  return run([&] {
    const query_result r = session_.exec(
        "SELECT id, ts, provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, cost_nusd, cost_source, price_ref FROM usage_events "
        "WHERE id > $1::bigint AND ts >= $2::bigint AND ts < $3::bigint "
        "AND ($4::bigint IS NULL OR token_id = $4::bigint) AND cost_source IN ($6::text, $7::text) "
        "ORDER BY id LIMIT $5::bigint",
        query_params()
            .add(after_id)
            .add(filter.start_us)
            .add(filter.end_us)
            .add(filter.token_id)
            .add(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)))
            .add(filter.first_source())
            .add(filter.second_source()),
        "reading events to reprice");
    std::vector<priced_event> page;
    page.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      priced_event e;
      e.id = r.int64(i, 0);
      e.ts_us = r.int64(i, 1);
      e.provider = r.text(i, 2);
      e.model = r.text(i, 3);
      e.tokens.input = r.int64(i, 4);
      e.tokens.output = r.int64(i, 5);
      e.tokens.cache_read = r.int64(i, 6);
      e.tokens.cache_write = r.int64(i, 7);
      e.tokens.reasoning = r.int64(i, 8);
      e.cost_nusd = r.int64(i, 9);
      e.cost_source = r.text(i, 10);
      e.price_ref = r.text(i, 11);
      page.push_back(std::move(e));
    }
    return page;
  });
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<connection> open_postgres_writer(const database_location& where, const postgres_options& options) {
  auto c = std::make_unique<postgres_connection>(
      pg::session_settings{.url = where.url, .setup = {std::string(writer_setup)}}, options);
  pg::migrate(c->session());
  c->prepare_months(now_us());
  return c;
}

std::unique_ptr<connection> open_postgres_reader(const database_location& where) {
  auto c = std::make_unique<postgres_connection>(
      pg::session_settings{.url = where.url,
                           .setup = {"SET default_transaction_read_only = on", std::string(reader_setup_timeout)}},
      postgres_options{});
  pg::require_current_schema(c->session());
  return c;
}

}  // namespace cg::storage
