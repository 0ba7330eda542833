#include "pg_partitions.hpp"

#include "cg/values/time.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string_view>

namespace cg::storage::pg {

namespace {

// pg_advisory_xact_lock key: arbitrary, fixed ("CGpt" in ASCII), and distinct from the migration lock
// (pg_schema.cpp), so that every gateway on one database takes the same lock for the same work.
constexpr std::int64_t partition_lock = 0x4347'7074;

// days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

using values::us_per_day;

}  // namespace

month month_of(std::int64_t unix_us) {
  constexpr std::int64_t first = -62'167'219'200'000'000;  // 0000-01-01
  constexpr std::int64_t end = 253'402'300'800'000'000;    // 10000-01-01
  if (unix_us < first || unix_us >= end) {
    throw storage_error(storage_error::kind::other,
                        fmt::format("timestamp {} µs is outside years 0000-9999 and cannot be stored", unix_us));
  }
  // civil_from_days
  std::int64_t z = (unix_us >= 0 ? unix_us : unix_us - (us_per_day - 1)) / us_per_day + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  return month{static_cast<int>(y * 12 + m - 1)};
}

std::int64_t month_start(month m) {
  return days_from_civil(m.year(), static_cast<unsigned>(m.number()), 1) * us_per_day;
}

std::string month_label(month m) { return fmt::format("{:04}-{:02}", m.year(), m.number()); }

std::string partition_name(month m) { return fmt::format("usage_events_{:04}_{:02}", m.year(), m.number()); }

std::set<month> existing_partitions(session& s) {
  const query_result names = s.exec(
      "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = 'usage_events'::regclass",
      "listing the partitions of usage_events");
  std::set<month> out;
  constexpr std::string_view prefix = "usage_events_";
  for (int r = 0; r < names.rows(); ++r) {
    const std::string_view name = names.text(r, 0);
    int year = 0;
    int number = 0;
    // usage_events_YYYY_MM; anything else attached by hand is not ours to count.
    if (name.size() != prefix.size() + 7 || !name.starts_with(prefix)) continue;
    const char* p = name.data() + prefix.size();
    if (std::from_chars(p, p + 4, year).ec != std::errc() || p[4] != '_' ||
        std::from_chars(p + 5, p + 7, number).ec != std::errc() || number < 1 || number > 12) {
      continue;
    }
    out.insert(month{year * 12 + number - 1});
  }
  return out;
}

void create_partition(session& s, month m) {
  const std::string name = partition_name(m);
  transaction tx(s);
  s.exec(fmt::format("SELECT pg_advisory_xact_lock({})", partition_lock), "waiting for the partition lock");
  // Another gateway may have made it while we waited; the catalog read here sees what it committed.
  const query_result attached = s.exec(fmt::format("SELECT EXISTS (SELECT 1 FROM pg_inherits "
                                                   "WHERE inhparent = 'usage_events'::regclass "
                                                   "AND inhrelid = to_regclass('{}'))",
                                                   name),
                                       "looking for a partition");
  if (!attached.boolean(0, 0)) {
    // Fail rather than wait long for the lock (a retention run detaching a month): the batch is answered 503 and
    // retried, where waiting would hold every insert of this gateway.
    s.exec("SET LOCAL lock_timeout = '5s'", "creating a partition");
    s.exec(fmt::format("CREATE TABLE IF NOT EXISTS {} (LIKE usage_events INCLUDING DEFAULTS)", name),
           fmt::format("creating table {}", name));
    s.exec(fmt::format("ALTER TABLE usage_events ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})", name,
                       month_start(m), month_start(month{m.index + 1})),
           fmt::format("attaching partition {}", name));
  }
  tx.commit();
}

std::int64_t drop_partition(session& s, month m) {
  const std::string name = partition_name(m);
  // Concurrently: inserts into other months and reads go on meanwhile; it waits for transactions that use the
  // partition to end. It cannot run inside a transaction block, so it takes no advisory lock: a gateway that
  // recreates the month meanwhile (a backfill) gets a new, empty partition.
  // A concurrent detach that was interrupted (a cancelled retention run) leaves the partition half detached, and
  // only FINALIZE completes it.
  const query_result pending = s.exec(fmt::format("SELECT inhdetachpending FROM pg_inherits "
                                                  "WHERE inhparent = 'usage_events'::regclass "
                                                  "AND inhrelid = to_regclass('{}')",
                                                  name),
                                      "looking for a half-detached partition");
  const bool half_detached = pending.rows() > 0 && pending.boolean(0, 0);
  s.exec(fmt::format("ALTER TABLE usage_events DETACH PARTITION {} {}", name,
                     half_detached ? "FINALIZE" : "CONCURRENTLY"),
         fmt::format("detaching partition {}", name));
  const std::int64_t events =
      s.exec(fmt::format("SELECT count(*) FROM {}", name), fmt::format("counting the events of {}", name)).int64(0, 0);
  s.exec(fmt::format("DROP TABLE {}", name), fmt::format("dropping {}", name));
  return events;
}

std::set<month> months_around(std::int64_t now_us) {
  const month now = month_of(now_us);
  return {month{now.index - 1}, now, month{now.index + 1}, month{now.index + 2}};
}

void partition_cache::ensure(const std::set<month>& months) {
  if (!loaded_ || generation_ != session_.generation()) {
    known_ = existing_partitions(session_);
    loaded_ = true;
    generation_ = session_.generation();
  }
  for (const month m : months) {
    if (known_.contains(m)) continue;
    create_partition(session_, m);
    known_.insert(m);
  }
}

}  // namespace cg::storage::pg
