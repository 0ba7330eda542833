#pragma once
/// The process's log: one line per event on stdout, JSON or logfmt. Never a key, never a token.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cg::server {

/// A log field: key and already-typed value (string values are quoted/escaped by the logger).
struct log_field {
  std::string_view key;
  std::string value;
  bool quoted = true;
};

/// Thread-safety: write() may be called from any thread; lines never interleave. Lines are buffered and flushed
/// by flush() (called periodically and at exit) or when the buffer grows large; important() lines flush at once.
class logger {
 public:
  explicit logger(bool json = true) : json_(json) {}
  void set_json(bool json) { json_ = json; }
  void write(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
             bool flush_now = false);
  void flush();

 private:
  std::mutex mutex_;
  std::string buffer_;
  bool json_;
};

logger& log();

log_field field(std::string_view key, std::string_view value);
log_field field(std::string_view key, std::int64_t value);

}  // namespace cg::server
