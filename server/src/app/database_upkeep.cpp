#include "app/database_upkeep.hpp"

#include "cg/server/log.hpp"
#include "cg/values/time.hpp"

#include <chrono>

namespace cg::server {

namespace net = boost::asio;

std::int64_t retention_cutoff_us(std::int64_t now_us, unsigned months_back) {
  using namespace std::chrono;
  const sys_days today = floor<days>(sys_time<microseconds>(microseconds(now_us)));
  const year_month this_month = year_month_day(today).year() / year_month_day(today).month();
  const year_month cutoff = this_month - months(static_cast<int>(months_back));
  return duration_cast<microseconds>(sys_days(cutoff / 1).time_since_epoch()).count();
}

namespace {


}  // namespace

database_upkeep::database_upkeep(services& s, std::chrono::milliseconds token_interval)
    : s_(s), token_interval_(token_interval), token_timer_(s.ioc), month_timer_(s.ioc) {}

void database_upkeep::start() {
  schedule_tokens();
  tend_months();
  schedule_months(std::chrono::hours(1));
}

void database_upkeep::stop() {
  // Posted, because the timers belong to the IO threads.
  net::post(token_timer_.get_executor(), [this] {
    token_timer_.cancel();
    month_timer_.cancel();
  });
}

void database_upkeep::schedule_tokens() {
  token_timer_.expires_after(token_interval_);
  token_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto generation = s_.tokens.generation();
    s_.reads.post([this, generation](storage::connection& db) {
      try {
        if (s_.tokens.refresh(db.list_tokens(), generation))
          log().write("info", "tokens_refreshed", {field("tokens", static_cast<std::int64_t>(s_.tokens.size()))});
      } catch (const std::exception& e) {
        // The registry keeps what it had; /health reports the database itself.
        log().write("warn", "tokens_refresh_failed", {field("error", e.what())});
      }
    });
    schedule_tokens();
  });
}

void database_upkeep::schedule_months(std::chrono::steady_clock::duration after) {
  month_timer_.expires_after(after);
  month_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    tend_months();
    schedule_months(std::chrono::hours(1));
  });
}

void database_upkeep::tend_months() {
  const auto months = s_.cfg.retention_months;
  s_.writer.run([months](storage::connection& db) {
    const auto now = values::now_us();
    try {
      db.prepare_months(now);
    } catch (const std::exception& e) {
      // Not fatal: the writer also makes a month's partition when an event of that month first arrives.
      log().write("warn", "prepare_months_failed", {field("error", e.what())}, true);
    }
    if (months == 0) return;
    try {
      const auto cutoff = retention_cutoff_us(now, months);
      const auto result = db.drop_events_before(cutoff);
      if (result.events_deleted > 0 || !result.months_dropped.empty()) {
        std::string dropped;
        for (const auto& m : result.months_dropped) dropped += (dropped.empty() ? "" : ",") + m;
        log().write("info", "retention_applied",
                    {field("retention_months", static_cast<std::int64_t>(months)),
                     field("events_deleted", result.events_deleted), field("months_dropped", dropped)},
                    true);
      }
    } catch (const std::exception& e) {
      log().write("error", "retention_failed", {field("error", e.what())}, true);
    }
  });
}

}  // namespace cg::server
