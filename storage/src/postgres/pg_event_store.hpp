#pragma once
// Writing events to PostgreSQL (storage-internal): the one transaction behind commit_batch (ids, dedupe keys, the
// events, the tokens' usage), the insert of new event rows that it and the import share, and reprice's rewrite of
// costs.

#include "cg/storage/cost_store.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/event_store.hpp"
#include "pg_session.hpp"
#include "postgres_connection.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cg::storage::pg {

/// One event to insert: a batch's event_row under the id the sequence gave it, or an imported stored_event under
/// its own. Its values are the columns event_columns() marks inserted().
struct event_fields {
  std::int64_t id;
  const event_row& row;
};

/// The statements insert_events() sends, derived from event_columns() (exposed so tests can check them).
std::string copy_events_sql();
std::string unnest_events_sql();

/// Dedupe keys for event_keys, inserted by one statement in the order added: callers add them in key order, which is
/// the order every gateway takes their locks in.
class dedupe_keys {
 public:
  void add(std::int64_t token_id, std::string_view event_id, std::int64_t id, std::int64_t ts_us);
  /// INSERT … ON CONFLICT DO NOTHING: returns the ids of the keys inserted; a key already held is skipped. Under
  /// READ COMMITTED, a key another transaction inserted but has not committed makes this wait for it; once it
  /// commits the key counts as held, if it rolls back ours goes in.
  std::set<std::int64_t> claim(session& s, std::string_view what) &&;

 private:
  array_literal token_ids_, event_ids_, ids_, ts_;
};

/// The writes of usage_events and event_keys. Each call runs on its session as it is: the connection around it
/// reconnects, retries and makes the months' partitions first.
/// Thread-safety: none, like its session.
class event_store {
 public:
  event_store(session& s, postgres_insert_method method) : session_(s), method_(method) {}

  /// commit_batch's transaction: ids for every row from the sequence (in batch order), the dedupe keys claimed in
  /// key order, the new events inserted, the tokens' usage counted; committed before it returns.
  std::vector<insert_outcome> insert_batch(std::span<const event_row> rows);
  /// Sends `events` as new rows of usage_events in the transaction open on the session, by COPY or unnest.
  void insert_events(std::span<const event_fields> events);
  /// Rewrites costs in one transaction, never a `client` cost. Returns rows changed.
  std::int64_t apply_costs(std::span<const cost_update> updates);

 private:
  /// Claims the keys of `rows` in event_keys; true for every row that is new (a key it claimed, or no key), and
  /// the outcome of every other one set to the id of the event that holds its key.
  std::vector<bool> claim_keys(std::span<const event_row> rows, std::vector<insert_outcome>& outcomes);
  /// Sets the outcomes of the rows in `stored_before` (their keys were already in event_keys) to the ids there.
  void find_first_ids(std::span<const event_row> rows, std::span<const std::size_t> stored_before,
                      std::vector<insert_outcome>& outcomes);
  /// Adds the new rows to their tokens' usage_count and last_seen_at.
  void touch_tokens(std::span<const event_row> rows, const std::vector<bool>& is_new);

  session& session_;
  postgres_insert_method method_;
};

}  // namespace cg::storage::pg
