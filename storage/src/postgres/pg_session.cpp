#include "pg_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <system_error>

namespace cg::storage::pg {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds first_backoff{100};
constexpr milliseconds max_backoff{5000};
// Rows of a COPY travel in chunks of this size: PQputCopyData takes an int length.
constexpr std::size_t copy_chunk = 1 << 20;

std::string trimmed(std::string_view message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.remove_suffix(1);
  return std::string(message);
}

// Text goes to libpq as C strings: a NUL byte would cut the value short without a word, so refuse it instead.
void refuse_nul(std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    throw storage_error(storage_error::kind::other,
                        "a text value contains a NUL byte (\\u0000), which PostgreSQL cannot store");
  }
}

// The SQLSTATEs that say the server went away or refuses connections for now: retrying later may work.
bool is_unavailable_state(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

// `database "x" on host:port` from the connection string alone, so messages can name the server before (or
// without) a connection, and never carry the password.
std::string describe_target(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "PostgreSQL (unparsable connection string)";
  }
  std::string db, host, port;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "dbname") db = o->val;
    if (key == "host") host = o->val;
    if (key == "hostaddr" && host.empty()) host = o->val;
    if (key == "port") port = o->val;
  }
  PQconninfoFree(options);
  return fmt::format("PostgreSQL database \"{}\" on {}{}{}", db.empty() ? "(default)" : db,
                     host.empty() ? "(default host)" : host, port.empty() ? "" : ":", port);
}

}  // namespace

// ---- query_result ---------------------------------------------------------------------------------------------

std::int64_t query_result::affected() const {
  const std::string_view count = PQcmdTuples(result_);
  return count.empty() ? 0 : parse_int64(count);
}

std::int64_t query_result::int64(int row, int column) const { return parse_int64(text(row, column)); }

std::int64_t parse_int64(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range)
    throw std::overflow_error("a report sum exceeds the 64-bit integer range; narrow the range or the filters");
  if (ec != std::errc() || end != text.data() + text.size())
    throw std::invalid_argument(fmt::format("PostgreSQL returned '{}' where an integer was expected", text));
  return value;
}

// ---- query_params -----------------------------------------------------------------------------------------------

query_params params_of(const bound_sql& sql) {
  query_params params;
  for (const auto& v : sql.params) {
    if (const auto* number = std::get_if<std::int64_t>(&v))
      params.add(*number);
    else
      params.add(std::get<std::string>(v));
  }
  return params;
}

query_params& query_params::add(std::int64_t value) { return add(std::string_view(std::to_string(value))); }

query_params& query_params::add(bool value) { return add(std::string_view(value ? "t" : "f")); }

query_params& query_params::add(std::string_view value) {
  refuse_nul(value);
  values_.emplace_back(value);
  nulls_.push_back(false);
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(0);
  return *this;
}

query_params& query_params::add(const std::optional<std::string>& value) {
  if (value) return add(std::string_view(*value));
  values_.emplace_back();
  nulls_.push_back(true);
  lengths_.push_back(0);
  formats_.push_back(0);
  return *this;
}

query_params& query_params::add(const std::optional<std::int64_t>& value) {
  if (value) return add(*value);
  return add(std::optional<std::string>());
}

query_params& query_params::add_binary(std::string_view bytes) {
  values_.emplace_back(bytes);
  nulls_.push_back(false);
  lengths_.push_back(static_cast<int>(bytes.size()));
  formats_.push_back(1);
  return *this;
}

std::vector<const char*> query_params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  return out;
}

// ---- array_literal ----------------------------------------------------------------------------------------------

void array_literal::add(std::int64_t value) {
  separate();
  text_ += std::to_string(value);
}

void array_literal::add(bool value) {
  separate();
  text_ += value ? 't' : 'f';
}

void array_literal::add(std::string_view value) {
  refuse_nul(value);
  separate();
  // Always quoted: then only `"` and `\` need a backslash, and an element spelled NULL stays the text "NULL".
  text_ += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

void array_literal::add(const std::optional<std::string>& value) {
  if (value) return add(std::string_view(*value));
  separate();
  text_ += "NULL";
}

void array_literal::add(const std::optional<std::int64_t>& value) {
  if (value) return add(*value);
  separate();
  text_ += "NULL";
}

std::string array_literal::finish() && {
  text_ += '}';
  return std::move(text_);
}

// ---- session ----------------------------------------------------------------------------------------------------

session::session(session_settings settings) : settings_(std::move(settings)) {
  describe_ = describe_target(settings_.url);
  connect();
}

session::~session() { disconnect(); }

void session::disconnect() noexcept {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

void session::connect() {
  disconnect();
  // Entries before `dbname` are defaults the URL may override; the URL (expanded from `dbname`) says where.
  // connect_timeout bounds a connect to a silent host; keepalives and tcp_user_timeout find a peer that vanished
  // while we wait for an answer, so a call fails (and the gateway answers 503) instead of hanging.
  const std::array<const char*, 10> keywords{"connect_timeout", "keepalives",       "keepalives_idle",
                                             "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                                             "application_name", "client_encoding",  "dbname", nullptr};
  const std::array<const char*, 10> values{"5",  "1",  "30", "10", "3", "30000", "cost-guardian", "UTF8",
                                           settings_.url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords.data(), values.data(), 1);
  const auto now = std::chrono::steady_clock::now();
  std::string failure;
  if (conn_ == nullptr) {
    failure = "out of memory";
  } else if (PQstatus(conn_) != CONNECTION_OK) {
    failure = trimmed(PQerrorMessage(conn_));
  } else if (const int version = PQserverVersion(conn_); version < 140000) {
    // DETACH PARTITION … CONCURRENTLY (retention without blocking ingest) came with 14.
    disconnect();
    throw storage_error(storage_error::kind::other,
                        fmt::format("{} runs PostgreSQL {}.{}: Cost Guardian needs PostgreSQL 14 or newer", describe_,
                                    version / 10000, version % 10000));
  }
  if (failure.empty()) {
    // Notices ("relation … already exists, skipping" from IF NOT EXISTS) are expected; libpq would print them on
    // stderr, in the middle of the access log.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    try {
      for (const auto& statement : settings_.setup) {
        query_result r(PQexec(conn_, statement.c_str()));
        if (PQresultStatus(r.handle()) != PGRES_COMMAND_OK) failure = trimmed(PQresultErrorMessage(r.handle()));
      }
    } catch (...) {
      failure = "session setup failed";
    }
  }
  if (!failure.empty()) {
    disconnect();
    backoff_ = backoff_.count() == 0 ? first_backoff : std::min(backoff_ * 2, max_backoff);
    next_attempt_ = now + backoff_;
    last_failure_ = failure;
    throw storage_error(storage_error::kind::unavailable,
                        fmt::format("cannot connect to {}: {} (next attempt in {} ms at the earliest)", describe_,
                                    failure, backoff_.count()));
  }
  backoff_ = milliseconds{0};
  last_failure_.clear();
  prepared_.clear();
  ++generation_;
}

void session::ensure_open() {
  last_sqlstate_.clear();
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    const auto wait = std::chrono::duration_cast<milliseconds>(next_attempt_ - now);
    throw storage_error(storage_error::kind::unavailable,
                        fmt::format("{} is unreachable ({}); next connection attempt in {} ms", describe_,
                                    last_failure_.empty() ? "connection lost" : last_failure_, wait.count()));
  }
  connect();
}

void session::fail(const PGresult* result, std::string_view what) {
  const char* state_field = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view state = state_field != nullptr ? state_field : "";
  std::string message = trimmed(result != nullptr && *PQresultErrorMessage(result) != '\0'
                                    ? PQresultErrorMessage(result)
                                    : conn_ != nullptr ? PQerrorMessage(conn_) : "no connection");
  last_sqlstate_ = state;
  const bool broken = conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD || is_unavailable_state(state);
  auto k = storage_error::kind::other;
  if (broken) {
    k = storage_error::kind::unavailable;
    last_failure_ = message;
    // The next call reconnects at once; only repeated failures back off.
    if (conn_ != nullptr && PQstatus(conn_) != CONNECTION_BAD) disconnect();
  } else if (state == "23505") {
    k = storage_error::kind::unique_violation;
  }
  throw storage_error(k, fmt::format("{}: {} (SQLSTATE {}, {})", what, message, state.empty() ? "none" : state,
                                     describe_));
}

query_result session::check(PGresult* raw, std::string_view what) {
  query_result result(raw);
  const auto status = PQresultStatus(raw);
  if (raw == nullptr || (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)) fail(raw, what);
  ++round_trips_;
  return result;
}

query_result session::exec(std::string_view sql, std::string_view what) {
  if (conn_ == nullptr) fail(nullptr, what);
  return check(PQexec(conn_, std::string(sql).c_str()), what);
}

query_result session::exec(std::string_view sql, const query_params& params, std::string_view what) {
  if (conn_ == nullptr) fail(nullptr, what);
  const auto values = params.pointers();
  return check(PQexecParams(conn_, std::string(sql).c_str(), params.size(), nullptr, values.data(), params.lengths(),
                            params.formats(), 0),
               what);
}

query_result session::exec_prepared(const char* name, std::string_view sql, const query_params& params,
                                    std::string_view what) {
  if (conn_ == nullptr) fail(nullptr, what);
  if (!prepared_.contains(name)) {
    check(PQprepare(conn_, name, std::string(sql).c_str(), 0, nullptr), what);
    prepared_.insert(name);
  }
  const auto values = params.pointers();
  return check(PQexecPrepared(conn_, name, params.size(), values.data(), params.lengths(), params.formats(), 0),
               what);
}

query_result session::copy_in(std::string_view copy_sql, std::string_view data, std::string_view what) {
  if (conn_ == nullptr) fail(nullptr, what);
  {
    query_result start(PQexec(conn_, std::string(copy_sql).c_str()));
    if (PQresultStatus(start.handle()) != PGRES_COPY_IN) fail(start.handle(), what);
  }
  bool sent = true;
  for (std::size_t at = 0; at < data.size() && sent; at += copy_chunk) {
    const auto size = std::min(copy_chunk, data.size() - at);
    sent = PQputCopyData(conn_, data.data() + at, static_cast<int>(size)) == 1;
  }
  if (PQputCopyEnd(conn_, sent ? nullptr : "sending COPY data failed") != 1) fail(nullptr, what);
  query_result end(PQgetResult(conn_));
  // Drain: a COPY has exactly one final result, then null.
  while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  if (PQresultStatus(end.handle()) != PGRES_COMMAND_OK) fail(end.handle(), what);
  ++round_trips_;
  return end;
}

void session::stream(std::string_view sql, const query_params& params, std::string_view what,
                     const std::function<void(const query_result&)>& row) {
  if (conn_ == nullptr) fail(nullptr, what);
  const auto values = params.pointers();
  if (PQsendQueryParams(conn_, std::string(sql).c_str(), params.size(), nullptr, values.data(), params.lengths(),
                        params.formats(), 0) != 1) {
    fail(nullptr, what);
  }
  PQsetSingleRowMode(conn_);
  query_result failed;
  try {
    while (PGresult* raw = PQgetResult(conn_)) {
      query_result result(raw);
      const auto status = PQresultStatus(raw);
      if (status == PGRES_SINGLE_TUPLE) {
        if (!failed.handle()) row(result);
      } else if (status != PGRES_TUPLES_OK && !failed.handle()) {
        failed = std::move(result);  // keep reading until null: the connection is busy until then
      }
    }
  } catch (...) {
    // Stop the server's work, then read what is left so the connection is usable again.
    if (PGcancel* cancel = PQgetCancel(conn_)) {
      std::array<char, 256> error{};
      PQcancel(cancel, error.data(), static_cast<int>(error.size()));
      PQfreeCancel(cancel);
    }
    while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
    throw;
  }
  if (failed.handle() != nullptr) fail(failed.handle(), what);
  if (PQstatus(conn_) == CONNECTION_BAD) fail(nullptr, what);
  ++round_trips_;
}

void session::rollback_quietly() noexcept {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

// ---- transaction ------------------------------------------------------------------------------------------------

transaction::transaction(session& s, std::string_view begin) : session_(s) { session_.exec(begin, "BEGIN"); }

transaction::transaction(session& s, std::string_view begin, query_result& first) : session_(s) {
  try {
    first = session_.exec(begin, begin);
  } catch (...) {
    // The BEGIN may have gone through before the query failed: end it before the exception leaves.
    session_.rollback_quietly();
    throw;
  }
}

transaction::~transaction() {
  if (!done_) session_.rollback_quietly();
}

void transaction::commit() {
  done_ = true;
  query_result result = session_.exec("COMMIT", "COMMIT");
  // COMMIT of a transaction that failed earlier succeeds as a command but answers ROLLBACK.
  if (std::string_view(PQcmdStatus(result.handle())) != "COMMIT") {
    throw storage_error(storage_error::kind::other,
                        fmt::format("COMMIT: the server rolled the transaction back instead ({})", session_.describe()));
  }
}

}  // namespace cg::storage::pg
