#include "cg/server/log.hpp"

#include "cg/values/json_text.hpp"
#include "cg/values/time.hpp"
#include "cg/values/timestamp.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace cg::server {

using values::append_json_string;

namespace {

// A bare value is only safe when it has no separator, no quote and no control character, and is valid UTF-8; any
// other value is quoted, which also repairs invalid UTF-8 (append_json_string).
void append_logfmt_value(std::string& out, std::string_view s) {
  const bool plain = std::ranges::none_of(s, [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == '=' || c == '"' || c == '\\' || c == 0x7F;
  });
  const bool needs_quotes = s.empty() || !plain || !values::is_valid_utf8(s);
  if (!needs_quotes) {
    out += s;
    return;
  }
  append_json_string(out, s);  // logfmt readers accept JSON-style escapes inside quotes
}

}  // namespace

log_field field(std::string_view key, std::string_view value) { return {key, std::string(value), true}; }
log_field field(std::string_view key, std::int64_t value) { return {key, std::to_string(value), false}; }

void logger::write(std::string_view level, std::string_view event, const std::vector<log_field>& fields,
                   bool flush_now) {
  const std::string time = values::format_timestamp(values::now_us());
  std::string line;
  line.reserve(256);
  if (json_) {
    line += "{\"time\":";
    append_json_string(line, time);
    line += ",\"level\":";
    append_json_string(line, level);
    line += ",\"event\":";
    append_json_string(line, event);
    for (const auto& f : fields) {
      line += ',';
      append_json_string(line, f.key);
      line += ':';
      if (f.quoted)
        append_json_string(line, f.value);
      else
        line += f.value;
    }
    line += "}\n";
  } else {
    line += "time=" + time + " level=" + std::string(level) + " event=";
    append_logfmt_value(line, event);
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      append_logfmt_value(line, f.value);
    }
    line += '\n';
  }
  std::lock_guard lock(mutex_);
  buffer_ += line;
  if (flush_now || buffer_.size() > 64 * 1024) {
    std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
    std::fflush(stdout);
    buffer_.clear();
  }
}

void logger::flush() {
  std::lock_guard lock(mutex_);
  if (buffer_.empty()) return;
  std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
  std::fflush(stdout);
  buffer_.clear();
}

logger& log() {
  static logger instance;
  return instance;
}

}  // namespace cg::server
