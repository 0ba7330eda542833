#pragma once
// RAII over libpq (storage-internal): one server connection that reconnects with backoff, its results, its
// prepared statements and transactions. The PostgreSQL counterpart of database.hpp; nothing outside
// storage/src/postgres/ includes libpq.

#include "cg/storage/database.hpp"
#include "cg/storage/event_query.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace cg::storage::pg {

/// One result of a query, freed with it. Row and column indexes are 0-based, as in libpq; values are read from
/// libpq's text format.
/// Thread-safety: none; read it on the thread that ran the query.
class query_result {
 public:
  query_result() = default;
  explicit query_result(PGresult* r) noexcept : result_(r) {}
  ~query_result() { PQclear(result_); }
  query_result(const query_result&) = delete;
  query_result& operator=(const query_result&) = delete;
  query_result(query_result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  query_result& operator=(query_result&& other) noexcept {
    if (this != &other) {
      PQclear(result_);
      result_ = std::exchange(other.result_, nullptr);
    }
    return *this;
  }

  PGresult* handle() const noexcept { return result_; }
  int rows() const noexcept { return PQntuples(result_); }
  /// Rows an INSERT, UPDATE or DELETE changed (PQcmdTuples).
  std::int64_t affected() const;

  bool is_null(int row, int column) const noexcept { return PQgetisnull(result_, row, column) != 0; }
  std::string_view text(int row, int column) const noexcept {
    return {PQgetvalue(result_, row, column), static_cast<std::size_t>(PQgetlength(result_, row, column))};
  }
  /// A bigint; throws std::overflow_error when the value (a numeric sum) leaves the 64-bit range.
  std::int64_t int64(int row, int column) const;
  bool boolean(int row, int column) const noexcept { return text(row, column) == "t"; }
  std::optional<std::int64_t> optional_int64(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    return int64(row, column);
  }
  std::optional<std::string> optional_text(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    return std::string(text(row, column));
  }

 private:
  PGresult* result_ = nullptr;
};

/// One row of a result, as the column list's decoders (detail::decode_event, detail::decode_report_sums) read it.
class result_row {
 public:
  result_row(const query_result& r, int row) noexcept : r_(r), row_(row) {}
  bool is_null(int column) const noexcept { return r_.is_null(row_, column); }
  std::int64_t int64(int column) const { return r_.int64(row_, column); }
  void text(int column, std::string& out) const { out.assign(r_.text(row_, column)); }

 private:
  const query_result& r_;
  int row_;
};

/// Parses a decimal integer as PostgreSQL prints it. Throws std::overflow_error outside the 64-bit range (a report
/// sum), std::invalid_argument for anything else that is not an integer.
std::int64_t parse_int64(std::string_view text);

/// Query parameters in libpq's text format, in `$1, $2…` order.
class query_params {
 public:
  query_params& add(std::int64_t value);
  query_params& add(bool value);
  query_params& add(std::string_view value);
  query_params& add(const std::string& value) { return add(std::string_view(value)); }
  query_params& add(const char* value) { return add(std::string_view(value)); }
  query_params& add(const std::optional<std::string>& value);
  query_params& add(const std::optional<std::int64_t>& value);
  /// A bytea value, sent as binary.
  query_params& add_binary(std::string_view bytes);

  int size() const noexcept { return static_cast<int>(values_.size()); }
  /// The arrays libpq takes. Valid until the next add().
  std::vector<const char*> pointers() const;
  const int* lengths() const noexcept { return lengths_.data(); }
  const int* formats() const noexcept { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

/// The values of SQL that sql_builder wrote in the PostgreSQL dialect, in their `$n` order.
query_params params_of(const bound_sql& sql);

/// Builds a PostgreSQL array literal (`{1,2,NULL}`, `{"a","b\"c"}`) for one `unnest($n::type[])` parameter: a
/// batch of rows travels as one array per column, so one statement inserts the whole batch.
class array_literal {
 public:
  array_literal() { text_ = "{"; }
  void add(std::int64_t value);
  void add(bool value);
  void add(std::string_view value);
  void add(const std::optional<std::string>& value);
  void add(const std::optional<std::int64_t>& value);
  std::string finish() &&;

 private:
  void separate() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_;
};

/// How a session talks to the server.
struct session_settings {
  std::string url;  ///< a libpq URI (postgresql://…) or key=value connection string
  /// `SET` statements run after every (re)connect: timeouts, read-only.
  std::vector<std::string> setup;
};

/// One libpq connection that comes back by itself. Every call first makes sure the connection is up: if it broke,
/// the call reconnects, but not more often than a backoff schedule (100 ms doubling to 5 s, reset by a success), and
/// when the server is still unreachable it throws storage_error kind::unavailable at once rather than wait. Connects
/// time out after 5 s and TCP keepalives detect a dead peer, so no call waits forever on the network.
/// Prepared statements are prepared on first use on each underlying connection.
/// Thread-safety: none; a session belongs to one thread at a time (the writer, or one reader of the pool).
class session {
 public:
  /// Connects at once: throws storage_error (kind::unavailable when the server cannot be reached).
  explicit session(session_settings settings);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Reconnects when the connection is broken (subject to the backoff). Throws kind::unavailable.
  void ensure_open();
  /// Drops the connection, so that the next call reconnects (for tests, and after a failure that left the
  /// connection in an unknown state).
  void disconnect() noexcept;
  /// Bumped by every successful (re)connect: what was cached about the old connection is void.
  std::uint64_t generation() const noexcept { return generation_; }
  /// Completed round trips; unchanged after a call whose first statement failed.
  std::uint64_t round_trips() const noexcept { return round_trips_; }
  /// The SQLSTATE of the last failure since ensure_open() ("" when none), for callers that react to one code.
  const std::string& last_sqlstate() const noexcept { return last_sqlstate_; }
  /// `database "x" on host y port z`, for messages (never the password).
  const std::string& describe() const noexcept { return describe_; }

  /// One or more statements without parameters.
  query_result exec(std::string_view sql, std::string_view what);
  query_result exec(std::string_view sql, const query_params& params, std::string_view what);
  /// Prepares `sql` as `name` on first use per connection, then runs it.
  query_result exec_prepared(const char* name, std::string_view sql, const query_params& params,
                             std::string_view what);
  /// `COPY … FROM STDIN` with `data` in COPY's text format.
  query_result copy_in(std::string_view copy_sql, std::string_view data, std::string_view what);
  /// Runs a query in single-row mode and hands each row to `row` as its own one-row result, so a result of any
  /// size is never held at once. If `row` throws, the query is cancelled and the exception passes on.
  void stream(std::string_view sql, const query_params& params, std::string_view what,
              const std::function<void(const query_result&)>& row);

  /// ROLLBACK, ignoring any failure (a broken connection has rolled back already). For destructors.
  void rollback_quietly() noexcept;

  /// The storage_error for a failed call: kind from the SQLSTATE and the connection status.
  [[noreturn]] void fail(const PGresult* result, std::string_view what);

 private:
  void connect();
  query_result check(PGresult* result, std::string_view what);

  session_settings settings_;
  PGconn* conn_ = nullptr;
  std::string describe_;
  std::uint64_t generation_ = 0;
  std::uint64_t round_trips_ = 0;
  std::unordered_set<std::string> prepared_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  std::string last_failure_;
  std::string last_sqlstate_;
};

/// `BEGIN` on construction; `commit()` or `ROLLBACK` in the destructor (which never throws: on a broken connection
/// the server has rolled back already).
/// Thread-safety: none; lives on its session's thread, within one scope.
class transaction {
 public:
  explicit transaction(session& s, std::string_view begin = "BEGIN");
  /// `begin` is `BEGIN; <one query without parameters>`: the transaction and its first query in one round trip,
  /// the query's result in `first`.
  transaction(session& s, std::string_view begin, query_result& first);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  /// Throws storage_error when COMMIT fails or the server answers that it rolled back instead.
  void commit();

 private:
  session& session_;
  bool done_ = false;
};

}  // namespace cg::storage::pg
