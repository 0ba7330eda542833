#pragma once
// Keeping one gateway in step with a database it may share with others: tracking tokens changed elsewhere, monthly
// partitions made ahead of time, RETENTION_MONTHS.

#include "routes/services.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace cg::server {

/// The first microsecond (UTC) of the month `months_back` whole months before the month holding `now_us`:
/// `retention_cutoff_us(<2026-11-25>, 3)` is 2026-08-01T00:00:00Z. Events before it are dropped.
std::int64_t retention_cutoff_us(std::int64_t now_us, unsigned months_back);

/// Every `token_interval` re-reads the tracking tokens on the read pool, so a token created, deactivated or deleted
/// through another gateway takes effect here within about that long (rate limits, by contrast, stay per process).
/// Every hour, and once at start, asks the writer to prepare the coming months' storage and, when RETENTION_MONTHS
/// is set, to drop the months past it.
/// Thread-safety: start() and stop() from one thread; the timers run on the IO threads, the work on the read pool
/// and the writer thread. stop() before the pool and the writer stop.
class database_upkeep {
 public:
  explicit database_upkeep(services& s, std::chrono::milliseconds token_interval = std::chrono::milliseconds(500));
  void start();
  void stop();

 private:
  void schedule_tokens();
  void schedule_months(std::chrono::steady_clock::duration after);
  void tend_months();

  services& s_;
  std::chrono::milliseconds token_interval_;
  boost::asio::steady_timer token_timer_;
  boost::asio::steady_timer month_timer_;
};

}  // namespace cg::server
