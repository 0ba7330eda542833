#include "legacy_import.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace cg::storage {

namespace {

constexpr std::string_view import_source = "v0.3-import";
constexpr std::int64_t us_per_second = 1'000'000;

std::int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---- time ---------------------------------------------------------------------------------------------------------

// A number is a unix time; its magnitude tells the unit. Seconds below 1e11 reach the year 5138, so the ranges
// cannot be confused for any plausible date.
std::optional<std::int64_t> unix_number_to_us(std::int64_t value) {
  const std::int64_t magnitude = value < 0 ? -value : value;
  if (magnitude < 100'000'000'000) return value * us_per_second;      // seconds
  if (magnitude < 100'000'000'000'000) return value * 1000;           // milliseconds
  if (magnitude < 100'000'000'000'000'000) return value;              // microseconds
  return value / 1000;                                                // nanoseconds
}

std::optional<std::int64_t> unix_number_to_us(double value) {
  if (!std::isfinite(value)) return std::nullopt;
  const double magnitude = std::fabs(value);
  double us = 0;
  if (magnitude < 1e11) {
    us = value * 1e6;
  } else if (magnitude < 1e14) {
    us = value * 1e3;
  } else if (magnitude < 1e17) {
    us = value;
  } else {
    us = value / 1e3;
  }
  if (std::fabs(us) >= 9e18) return std::nullopt;
  return std::llround(us);
}

class text_cursor {
 public:
  explicit text_cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool digits(int count, int& out) {
    out = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return false;
      out = out * 10 + (text_[pos_++] - '0');
    }
    return true;
  }
  bool next_is_digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// ISO-8601 as Python and SQLite write it: `YYYY-MM-DD`, then optionally `T` or a space, `HH:MM[:SS[.ffffff]]`, then
// optionally `Z` or an offset `±HH[:MM]`. Without an offset the time is UTC: v0.3 stored utcnow() and SQLite's
// CURRENT_TIMESTAMP, both UTC. Digits past the microsecond are dropped.
std::optional<std::int64_t> iso_to_us(std::string_view text) {
  text_cursor in(text);
  int year = 0, month = 0, day = 0;
  if (!in.digits(4, year) || !in.eat('-') || !in.digits(2, month) || !in.eat('-') || !in.digits(2, day)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                                         std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t us = static_cast<std::int64_t>(std::chrono::sys_days{date}.time_since_epoch().count()) * 86'400 * us_per_second;
  if (in.done()) return us;

  if (!in.eat('T') && !in.eat('t') && !in.eat(' ')) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  if (!in.digits(2, hour) || !in.eat(':') || !in.digits(2, minute)) return std::nullopt;
  if (in.eat(':') && !in.digits(2, second)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  std::int64_t fraction_us = 0;
  if (in.eat('.') || in.eat(',')) {
    if (!in.next_is_digit()) return std::nullopt;
    std::int64_t scale = 100'000;
    int digit = 0;
    while (in.next_is_digit()) {
      in.digits(1, digit);
      fraction_us += digit * scale;
      scale /= 10;
    }
  }
  us += ((hour * 60 + minute) * 60 + second) * us_per_second + fraction_us;

  if (in.eat('Z') || in.eat('z')) return in.done() ? std::optional(us) : std::nullopt;
  if (in.done()) return us;
  int sign = 0;
  if (in.eat('+')) {
    sign = 1;
  } else if (in.eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  int offset_hours = 0, offset_minutes = 0;
  if (!in.digits(2, offset_hours)) return std::nullopt;
  if (!in.done()) {
    in.eat(':');
    if (!in.digits(2, offset_minutes)) return std::nullopt;
  }
  if (!in.done() || offset_hours > 23 || offset_minutes > 59) return std::nullopt;
  return us - sign * (offset_hours * 60 + offset_minutes) * 60 * us_per_second;
}

template <typename Number>
std::optional<Number> whole_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> text_time_to_us(std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return std::nullopt;
  if (auto integer = whole_number<std::int64_t>(text)) return unix_number_to_us(*integer);
  if (auto real = whole_number<double>(text)) return unix_number_to_us(*real);
  return iso_to_us(text);
}

// ---- money --------------------------------------------------------------------------------------------------------

// Decimal text (`0.0000045`, `4.5e-06`, `-3`) to nano-USD, rounded once, half to even, without passing through a
// binary fraction.
std::optional<std::int64_t> decimal_to_nano(std::string_view raw) {
  std::string_view text = trim(raw);
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::string digits;
  int exponent = 0;  // value = digits * 10^exponent
  bool seen_point = false;
  bool any_digit = false;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (seen_point) --exponent;
      if (!(digits.empty() && c == '0')) digits.push_back(c);  // leading zeros carry no value
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E') return std::nullopt;
    std::string_view power = text.substr(i + 1);
    if (!power.empty() && power.front() == '+') power.remove_prefix(1);
    const auto value = whole_number<int>(power);
    if (!value || *value < -400 || *value > 400) return std::nullopt;
    exponent += *value;
  }
  if (digits.empty()) return 0;

  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const auto push = [&](std::int64_t acc, int digit) -> std::optional<std::int64_t> {
    if (acc > (max - digit) / 10) return std::nullopt;
    return acc * 10 + digit;
  };

  const int shift = exponent + 9;  // nano = digits * 10^shift
  std::int64_t nano = 0;
  if (shift >= 0) {
    for (char c : digits) {
      auto next = push(nano, c - '0');
      if (!next) return std::nullopt;
      nano = *next;
    }
    for (int k = 0; k < shift; ++k) {
      auto next = push(nano, 0);
      if (!next) return std::nullopt;
      nano = *next;
    }
  } else {
    const std::size_t dropped = static_cast<std::size_t>(-shift);
    const std::size_t kept = digits.size() > dropped ? digits.size() - dropped : 0;
    for (std::size_t k = 0; k < kept; ++k) {
      auto next = push(nano, digits[k] - '0');
      if (!next) return std::nullopt;
      nano = *next;
    }
    // The first dropped digit decides; below it, only "anything non-zero" matters.
    const int first = dropped > digits.size() ? 0 : digits[kept] - '0';
    bool rest_nonzero = false;
    for (std::size_t k = dropped > digits.size() ? 0 : kept + 1; k < digits.size(); ++k) {
      rest_nonzero = rest_nonzero || digits[k] != '0';
    }
    if (dropped > digits.size()) rest_nonzero = true;  // every digit is below the first dropped (zero) digit
    const bool round_up = first > 5 || (first == 5 && (rest_nonzero || nano % 2 == 1));
    if (round_up) {
      if (nano == max) return std::nullopt;
      ++nano;
    }
  }
  return negative ? -nano : nano;
}

// The shortest decimal text that reads back as the same double: what Python printed for this REAL, and the value the
// user saw. Rounding that text once avoids the error a `value * 1e9` would add.
std::string shortest_decimal(double value) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc{} ? std::string(buffer.data(), end) : std::string("nan");
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

// ---- reading the old tables ---------------------------------------------------------------------------------------

bool table_exists(database& db, std::string_view table) {
  statement query(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  query.bind(1, table);
  return query.step();
}

std::set<std::string> column_names(database& db, std::string_view table) {
  statement query(db, fmt::format("PRAGMA table_info(\"{}\")", table));
  std::set<std::string> names;
  while (query.step()) names.insert(lower(query.column_text(1)));
  return names;
}

// The select-list entry for an old column: the column if it exists, else NULL, so one query shape fits every variant.
std::string column_or_null(const std::set<std::string>& columns, std::initializer_list<std::string_view> candidates) {
  for (std::string_view name : candidates) {
    if (columns.contains(std::string(name))) return fmt::format("\"{}\"", name);
  }
  return "NULL";
}

// One row of an old table, with conversions that name the row when they fail.
class legacy_row {
 public:
  legacy_row(const statement& query, std::string_view table, std::int64_t rowid)
      : stmt_(query.handle()), table_(table), rowid_(rowid) {}

  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

  std::optional<std::string> text(int column) const {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_NULL:
        return std::nullopt;
      case SQLITE_FLOAT:
        return shortest_decimal(sqlite3_column_double(stmt_, column));
      default: {
        const unsigned char* value = sqlite3_column_text(stmt_, column);
        return std::string(reinterpret_cast<const char*>(value),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
      }
    }
  }

  std::optional<std::int64_t> integer(int column) const {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_NULL:
        return std::nullopt;
      case SQLITE_INTEGER:
        return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
      case SQLITE_FLOAT: {
        const double value = sqlite3_column_double(stmt_, column);
        if (!std::isfinite(value) || std::fabs(value) >= 9e18) return std::nullopt;
        return std::llround(value);
      }
      default:
        if (auto value = whole_number<std::int64_t>(trim(*text(column)))) return value;
        if (auto value = whole_number<double>(trim(*text(column))); value && std::fabs(*value) < 9e18) {
          return std::llround(*value);
        }
        return std::nullopt;
    }
  }

  /// A token count: NULL is 0, anything that is not a number stops the import.
  std::int64_t count(int column, std::string_view what) const {
    if (is_null(column)) return 0;
    if (auto value = integer(column)) return *value;
    fail(column, what, "is not a whole number");
  }

  std::optional<std::int64_t> time_us(int column) const {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_NULL:
        return std::nullopt;
      case SQLITE_INTEGER:
        return unix_number_to_us(static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column)));
      case SQLITE_FLOAT:
        return unix_number_to_us(sqlite3_column_double(stmt_, column));
      default:
        return text_time_to_us(*text(column));
    }
  }

  std::optional<std::int64_t> nano_usd(int column, std::string_view what) const {
    if (is_null(column)) return std::nullopt;
    if (auto value = decimal_to_nano(*text(column))) return value;
    fail(column, what, "is not a decimal amount of USD");
  }

  [[noreturn]] void fail(int column, std::string_view what, std::string_view why) const {
    const std::string value = is_null(column) ? std::string("NULL") : fmt::format("'{}'", *text(column));
    throw storage_error(SQLITE_MISMATCH,
                        fmt::format("importing the Cost Guardian v0.3 table {}, row {}: {} {} {}; fix or delete that "
                                    "row in the old table and start again (nothing was imported, the old tables are "
                                    "unchanged)",
                                    table_, rowid_, what, value, why));
  }

 private:
  sqlite3_stmt* stmt_;
  std::string_view table_;
  std::int64_t rowid_;
};

bool truthy(const legacy_row& row, int column) {
  if (row.is_null(column)) return true;  // a column that allowed NULL meant "never deactivated"
  if (auto number = row.integer(column)) return *number != 0;
  const std::string word = lower(trim(*row.text(column)));
  return word == "true" || word == "t" || word == "yes" || word == "y" || word == "on";
}

class importer {
 public:
  explicit importer(database& db) : db_(db), now_(now_us()) {}

  void import_tokens() {
    const auto columns = column_names(db_, "ingest_tokens");
    statement query(db_, fmt::format("SELECT rowid, {}, {}, {}, {}, {}, {} FROM ingest_tokens ORDER BY rowid",
                                     column_or_null(columns, {"id"}), column_or_null(columns, {"label"}),
                                     column_or_null(columns, {"token"}), column_or_null(columns, {"active"}),
                                     column_or_null(columns, {"created_at"}),
                                     column_or_null(columns, {"last_seen_at"})));
    while (query.step()) {
      const std::int64_t rowid = query.column_int64(0);
      const legacy_row row(query, "ingest_tokens", rowid);
      // Usually `id` is the rowid; when it is not, the rowid becomes the id and usage_log's references are mapped.
      const std::int64_t old_id = row.integer(1).value_or(rowid);

      std::string label(trim(row.text(2).value_or("")));
      if (label.empty()) label = fmt::format("v0.3 token {}", old_id);
      while (live_labels_.contains(label)) label = fmt::format("{} (v0.3 #{})", label, old_id);
      live_labels_.insert(label);

      bool active = truthy(row, 4);
      std::string token(trim(row.text(3).value_or("")));
      if (token.empty()) token = fmt::format("v0.3-token-{}", old_id);
      if (tokens_.contains(token)) {
        // Two rows with one token cannot both resolve: the later one is kept for its history, inactive.
        token = unique_token(fmt::format("{}-v0.3-duplicate-{}", token, old_id));
        active = false;
      }
      tokens_.insert(token);

      const std::int64_t created_at = row.time_us(5).value_or(now_);
      const std::optional<std::int64_t> last_seen_at = row.time_us(6);
      const std::int64_t id =
          insert_token(rowid, label, token, active, created_at, last_seen_at, std::nullopt);
      by_old_id_.emplace(old_id, id);
    }
  }

  void import_usage() {
    const auto columns = column_names(db_, "usage_log");
    statement query(
        db_, fmt::format("SELECT rowid, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM usage_log ORDER BY rowid",
                         column_or_null(columns, {"timestamp", "created_at", "ts"}), column_or_null(columns, {"model"}),
                         column_or_null(columns, {"provider"}), column_or_null(columns, {"prompt_tokens"}),
                         column_or_null(columns, {"completion_tokens"}), column_or_null(columns, {"total_tokens"}),
                         column_or_null(columns, {"cost_usd"}), column_or_null(columns, {"estimated_cost_usd"}),
                         column_or_null(columns, {"ingest_token_id"}), column_or_null(columns, {"event_id"})));
    statement insert(db_,
                     "INSERT INTO usage_events (id, ts, received_at, token_id, event_id, provider, model, input_tokens, "
                     "output_tokens, total_tokens, cost_nusd, cost_source, price_ref, source, meta) "
                     "VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', ?12, ?13)");
    std::set<std::pair<std::int64_t, std::string>> seen_keys;

    while (query.step()) {
      const std::int64_t rowid = query.column_int64(0);
      const legacy_row row(query, "usage_log", rowid);

      const std::optional<std::int64_t> ts = row.time_us(1);
      if (!ts) row.fail(1, "the timestamp", "is neither ISO-8601 nor a unix time");
      std::string model(trim(row.text(2).value_or("")));
      if (model.empty()) model = "unknown";
      std::string provider(trim(row.text(3).value_or("")));
      if (provider.empty()) provider = "openai";  // v0.3 supported OpenAI only
      const std::int64_t input = row.count(4, "prompt_tokens");
      const std::int64_t output = row.count(5, "completion_tokens");
      const std::int64_t total = row.is_null(6) ? input + output : row.count(6, "total_tokens");
      std::optional<std::int64_t> cost = row.nano_usd(7, "cost_usd");
      if (!cost) cost = row.nano_usd(8, "estimated_cost_usd");

      std::optional<std::int64_t> token_id;
      if (auto old_token = row.integer(9)) token_id = resolve_token(*old_token);

      std::optional<std::string> event_id = row.text(10);
      if (event_id && trim(*event_id).empty()) event_id.reset();
      std::optional<std::string> meta;
      if (event_id && token_id && !seen_keys.emplace(*token_id, *event_id).second) {
        // v0.3 kept this repeat and counted it; so do we, without the key the new schema makes unique.
        meta = fmt::format("{{\"v0.3_duplicate_event_id\":{}}}", json_string(*event_id));
        event_id.reset();
      }

      insert.reset();
      insert.bind(1, rowid)
          .bind(2, *ts)
          .bind(3, token_id)
          .bind(4, event_id)
          .bind(5, provider)
          .bind(6, model)
          .bind(7, input)
          .bind(8, output)
          .bind(9, total)
          .bind(10, cost.value_or(0))
          .bind(11, std::string_view(cost ? "client" : "unpriced"))
          .bind(12, import_source)
          .bind(13, meta);
      insert.step();
    }
  }

  void update_token_totals() {
    db_.exec(R"sql(
      UPDATE tracking_tokens SET
        usage_count = (SELECT count(*) FROM usage_events WHERE token_id = tracking_tokens.id),
        last_seen_at = coalesce(
            max(last_seen_at, (SELECT max(received_at) FROM usage_events WHERE token_id = tracking_tokens.id)),
            last_seen_at,
            (SELECT max(received_at) FROM usage_events WHERE token_id = tracking_tokens.id))
    )sql");
  }

 private:
  std::int64_t insert_token(std::optional<std::int64_t> id, const std::string& label, const std::string& token,
                            bool active, std::int64_t created_at, std::optional<std::int64_t> last_seen_at,
                            std::optional<std::int64_t> deleted_at) {
    statement insert(db_,
                     "INSERT INTO tracking_tokens (id, label, token, active, created_at, last_seen_at, deleted_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
    insert.bind(1, id)
        .bind(2, label)
        .bind(3, token)
        .bind(4, std::int64_t{active ? 1 : 0})
        .bind(5, created_at)
        .bind(6, last_seen_at)
        .bind(7, deleted_at);
    insert.step();
    const std::int64_t new_id = insert.column_int64(0);
    used_ids_.insert(new_id);
    return new_id;
  }

  // v0.3 deleted tokens for good, leaving usage_log rows that point nowhere. Each such id gets a deleted token, so
  // its events stay grouped and the foreign key holds.
  std::int64_t resolve_token(std::int64_t old_id) {
    if (auto known = by_old_id_.find(old_id); known != by_old_id_.end()) return known->second;
    const std::string token = unique_token(fmt::format("v0.3-deleted-{}", old_id));
    tokens_.insert(token);
    const std::optional<std::int64_t> id =
        used_ids_.contains(old_id) ? std::nullopt : std::optional<std::int64_t>(old_id);
    const std::int64_t new_id =
        insert_token(id, fmt::format("deleted v0.3 token #{}", old_id), token, false, now_, std::nullopt, now_);
    by_old_id_.emplace(old_id, new_id);
    return new_id;
  }

  std::string unique_token(std::string candidate) const {
    while (tokens_.contains(candidate)) candidate += "-x";
    return candidate;
  }

  database& db_;
  std::int64_t now_;
  std::unordered_map<std::int64_t, std::int64_t> by_old_id_;
  std::unordered_set<std::int64_t> used_ids_;
  std::unordered_set<std::string> tokens_;
  std::unordered_set<std::string> live_labels_;
};

}  // namespace

void import_v0_3(database& db) {
  const bool has_tokens = table_exists(db, "ingest_tokens");
  const bool has_usage = table_exists(db, "usage_log");
  if (!has_tokens && !has_usage) return;
  importer run(db);
  if (has_tokens) run.import_tokens();
  if (has_usage) run.import_usage();
  run.update_token_totals();
}

}  // namespace cg::storage
