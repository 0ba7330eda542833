#include "pg_maintenance.hpp"

#include "../event_sql.hpp"
#include "pg_event_store.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

namespace cg::storage::pg {

namespace {

// Maintenance may touch millions of rows: no statement timeout for its transaction.
constexpr std::string_view no_timeout = "SET LOCAL statement_timeout = 0";

}  // namespace

std::int64_t maintenance::import_tokens(std::span<const tracking_token_row> rows) {
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
  transaction tx(session_);
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
}

std::int64_t maintenance::import_events(std::span<const stored_event> rows) {
  if (rows.empty()) return 0;
  transaction tx(session_);
  session_.exec(no_timeout, "import");
  const std::set<std::int64_t> skip = claim_import_keys(rows);
  std::vector<event_fields> fresh;
  std::set<std::int64_t> taken;  // an id twice in one call goes in once
  for (const auto& r : rows)
    if (!skip.contains(r.id) && taken.insert(r.id).second) fresh.push_back({r.id, r});
  event_store(session_, method_).insert_events(fresh);
  session_.exec("SELECT setval('usage_events_id_seq', greatest((SELECT max(id) FROM usage_events), "
                "(SELECT last_value FROM usage_events_id_seq)))",
                "moving the event id sequence");
  tx.commit();
  return static_cast<std::int64_t>(fresh.size());
}

std::set<std::int64_t> maintenance::claim_import_keys(std::span<const stored_event> rows) {
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
  if (keyed.empty()) return skip;
  std::sort(keyed.begin(), keyed.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(*rows[a].token_id, *rows[a].event_id, rows[a].id) <
           std::tie(*rows[b].token_id, *rows[b].event_id, rows[b].id);
  });
  dedupe_keys claims;
  for (const auto i : keyed) {
    claims.add(*rows[i].token_id, *rows[i].event_id, rows[i].id, rows[i].ts_us);
    skip.insert(rows[i].id);  // until the insert below says it holds the key
  }
  for (const std::int64_t id : std::move(claims).claim(session_, "importing dedupe keys")) skip.erase(id);
  return skip;
}

retention_result maintenance::drop_events_before(std::int64_t cutoff_us, partition_cache& months) {
  retention_result result;
  for (const month m : existing_partitions(session_)) {
    if (month_start(month{m.index + 1}) > cutoff_us) continue;
    result.events_deleted += drop_partition(session_, m);
    result.months_dropped.push_back(month_label(m));
  }
  months.forget();
  // A cutoff inside a month: that month's earlier rows go one by one. Then the dedupe keys of every dropped
  // event; each in its own transaction, so ingest (which writes keys before events) never waits for both.
  {
    transaction tx(session_);
    session_.exec(no_timeout, "retention");
    const bound_sql sql = detail::delete_events_before_sql(detail::sql_dialect::postgresql, cutoff_us);
    result.events_deleted += session_.exec(sql.text, params_of(sql), "deleting old events").affected();
    tx.commit();
  }
  transaction tx(session_);
  session_.exec(no_timeout, "retention");
  session_.exec("DELETE FROM event_keys WHERE ts < $1::bigint", query_params().add(cutoff_us),
                "deleting old dedupe keys");
  tx.commit();
  return result;
}

std::int64_t maintenance::reset_usage() {
  transaction tx(session_);
  session_.exec(no_timeout, "reset");
  // The tables in the order commit_batch writes them (keys, then events), so a batch in flight on another gateway
  // waits for the reset instead of deadlocking with it.
  session_.exec("LOCK TABLE event_keys, usage_events IN ACCESS EXCLUSIVE MODE", "locking events for a reset");
  const std::int64_t deleted = session_.exec("SELECT count(*) FROM usage_events", "counting events").int64(0, 0);
  session_.exec("TRUNCATE event_keys, usage_events", "deleting every event");
  session_.exec("UPDATE tracking_tokens SET usage_count = 0, last_seen_at = NULL", "zeroing token usage");
  tx.commit();
  return deleted;
}

}  // namespace cg::storage::pg
