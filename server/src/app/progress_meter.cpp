#include "app/progress_meter.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace cg::server {

namespace {

std::string duration_text(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

bool progress_meter::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

progress_meter::progress_meter(std::string what, bool enabled)
    : what_(std::move(what)), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

progress_meter::~progress_meter() { finish(); }

void progress_meter::update(std::int64_t done, std::int64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < last_done_) {  // a second pass (the upgrade's check after its copy): its own line, rate and ETA
    finish();
    start_ = now;
  }
  last_done_ = done;
  const bool last = total > 0 && done >= total;
  if (!last && drawn_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string line = fmt::format("{} {}", done, what_);
  if (total > 0) {
    line += fmt::format(" of {} ({:.1f} %)", total, 100.0 * static_cast<double>(done) / static_cast<double>(total));
  }
  if (rate > 0) line += fmt::format(", {:.0f}/s", rate);
  if (total > 0 && rate > 0 && done < total) {
    line += fmt::format(", ETA {}", duration_text(static_cast<double>(total - done) / rate));
  } else if (last) {
    line += fmt::format(", done in {}", duration_text(elapsed));
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

void progress_meter::finish() {
  if (enabled_ && drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace cg::server
