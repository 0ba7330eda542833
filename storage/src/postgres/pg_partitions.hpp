#pragma once
// The monthly partitions of usage_events (storage-internal): calendar months, the DDL that makes and drops their
// partitions, and the months one connection knows to exist.

#include "pg_session.hpp"

#include <cstdint>
#include <set>
#include <string>

namespace cg::storage::pg {

/// A calendar month, UTC: the unit of usage_events' partitions. `index` counts months from year 0.
struct month {
  int index = 0;
  int year() const noexcept { return index / 12; }
  int number() const noexcept { return index % 12 + 1; }  ///< 1-12
  auto operator<=>(const month&) const = default;
};

/// The month an instant (unix µs) falls in, UTC. Throws storage_error outside years 0000-9999, which no event has.
month month_of(std::int64_t unix_us);
/// Its first instant (unix µs UTC).
std::int64_t month_start(month m);
/// `2024-01`.
std::string month_label(month m);
/// `usage_events_2024_01`.
std::string partition_name(month m);
/// The previous, current and next two months: what prepare_months() makes ahead of the events that need them.
std::set<month> months_around(std::int64_t now_us);

/// The months that have a partition now.
std::set<month> existing_partitions(session& s);
/// Creates the partition of `m` if no gateway has yet: its own short transaction under an advisory lock. Must not
/// run inside another transaction. The table is made on its own and then attached, which locks usage_events only
/// against other schema changes (SHARE UPDATE EXCLUSIVE): `CREATE TABLE … PARTITION OF` would take an ACCESS
/// EXCLUSIVE lock that queues behind a long report and stalls every insert queued behind it.
void create_partition(session& s, month m);
/// Detaches the partition of `m` without blocking inserts or reads of other months (DETACH … CONCURRENTLY, outside
/// any transaction), then drops it. Returns how many events it held.
std::int64_t drop_partition(session& s, month m);

/// The months one connection knows to have a partition, so that a batch asks the server only about a month it has
/// not met. Listed again after a reconnect or forget(): another gateway's retention may have dropped one.
/// Thread-safety: none; it belongs to its connection's thread, like the session it uses.
class partition_cache {
 public:
  explicit partition_cache(session& s) : session_(s) {}

  /// Creates the partitions of these months that do not exist yet (outside any transaction).
  void ensure(const std::set<month>& months);
  /// The next ensure() lists the partitions again.
  void forget() noexcept { loaded_ = false; }

 private:
  session& session_;
  std::set<month> known_;
  bool loaded_ = false;
  std::uint64_t generation_ = 0;
};

}  // namespace cg::storage::pg
