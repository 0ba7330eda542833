#pragma once
// Progress of a long command (import, migrate, reprice) on the terminal: one line rewritten in place with the count,
// the percentage, the rate and an ETA. Silent when stderr is not a terminal, so piped and logged runs stay clean.

#include <chrono>
#include <cstdint>
#include <string>

namespace cg::server {

/// Thread-safety: none; one command's thread.
class progress_meter {
 public:
  /// `what` names the unit (`rows`, `events`); `enabled` defaults to "stderr is a terminal".
  explicit progress_meter(std::string what, bool enabled = stderr_is_terminal());
  ~progress_meter();
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;

  /// `total` 0 means unknown: no percentage, no ETA. Redraws at most every 200 ms, and always at the end. A `done`
  /// below the last one starts a new pass on a new line.
  void update(std::int64_t done, std::int64_t total = 0);
  /// Ends the line (a finished meter leaves its last figures on screen).
  void finish();

  bool enabled() const noexcept { return enabled_; }
  static bool stderr_is_terminal();

 private:
  std::string what_;
  bool enabled_;
  bool drawn_ = false;
  std::int64_t last_done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace cg::server
