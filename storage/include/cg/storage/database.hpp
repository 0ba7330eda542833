#pragma once
/// RAII over one SQLite connection, its prepared statements and transactions.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace cg::storage {

/// A failed SQLite call. Keeps SQLite's extended result code (SQLITE_FULL, SQLITE_IOERR_*, SQLITE_CONSTRAINT_*...).
/// what() names the operation (the SQL or the file), SQLite's own message and the code.
/// Other backends (PostgreSQL) say what kind of failure it was with `kind` and keep extended_code() 0.
class storage_error : public std::runtime_error {
 public:
  enum class kind { other, unique_violation, unavailable };
  storage_error(int extended_code, const std::string& what);
  storage_error(kind k, const std::string& what);
  int extended_code() const noexcept { return code_; }
  /// True for SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, or kind::unique_violation.
  bool is_unique_violation() const noexcept;
  /// True when the database could not be reached at all (kind::unavailable): the call may work again later.
  bool is_unavailable() const noexcept { return kind_ == kind::unavailable; }

 private:
  int code_ = 0;
  kind kind_ = kind::other;
};

/// Durability of commits. `full` (default): `synchronous=FULL`, a commit survives power loss.
/// `normal`: `synchronous=NORMAL` in WAL mode, a commit survives a process crash but may be lost on power loss.
enum class durability { full, normal };

enum class open_mode { read_write, read_only };

/// One SQLite connection in WAL mode with the project's pragmas applied.
/// read_write creates the file if needed (its directory must exist) and switches it to WAL; read_only never writes.
/// Statements, transactions and stores keep a reference to it: do not move a database they still use.
/// Thread-safety: none; a connection belongs to one thread at a time (the writer, or one reader of the pool).
class database {
 public:
  database(const std::filesystem::path& path, open_mode mode, durability d = durability::full);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  database(database&& other) noexcept;
  database& operator=(database&& other) noexcept;

  /// Runs one or more statements that return no rows. Throws storage_error.
  void exec(std::string_view sql);
  sqlite3* handle() const noexcept { return db_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
  std::int64_t changes() const noexcept;
  /// True while a transaction is open on this connection.
  bool in_transaction() const noexcept;

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// A prepared statement. Bind indexes are 1-based, column indexes 0-based, as in SQLite.
/// Text bound with bind() is copied by SQLite; bind_static() does not copy (see there).
/// Thread-safety: none, like its connection.
class statement {
 public:
  statement(database& db, std::string_view sql);
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;

  statement& bind(int index, std::int64_t value);
  statement& bind(int index, std::string_view value);
  /// Without these two, a string literal or a `std::string` would be ambiguous between string_view and optional.
  statement& bind(int index, const std::string& value);
  template <std::size_t N>
  statement& bind(int index, const char (&value)[N]) {
    return bind(index, std::string_view(value));
  }
  statement& bind(int index, std::nullopt_t);
  statement& bind(int index, const std::optional<std::string>& value);
  statement& bind(int index, const std::optional<std::int64_t>& value);
  /// Binds text without copying it: `value` must stay alive and unchanged until the statement has been stepped
  /// and then reset or re-bound. For hot loops whose rows outlive the step.
  statement& bind_static(int index, std::string_view value);
  statement& bind_static(int index, const std::string& value);
  statement& bind_static(int index, const std::optional<std::string>& value);
  /// A temporary dies before the step: use bind() for it.
  statement& bind_static(int index, std::string&& value) = delete;
  statement& bind_static(int index, std::optional<std::string>&& value) = delete;

  /// Advances to the next row: true while there is one. Throws storage_error (and resets the statement).
  bool step();
  /// Resets the statement for re-use and clears its bindings.
  void reset();
  /// Resets the statement for re-use but keeps its bindings (for loops that re-bind every parameter anyway).
  void rewind() noexcept;

  std::int64_t column_int64(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;
  std::optional<std::string> column_optional_text(int index) const;
  std::optional<std::int64_t> column_optional_int64(int index) const;

  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

/// `BEGIN IMMEDIATE` on construction; `commit()` or roll back in the destructor (which never throws).
/// Thread-safety: none; lives on its connection's thread, within one scope.
class transaction {
 public:
  explicit transaction(database& db);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  /// Throws storage_error if COMMIT fails; the transaction is then rolled back.
  void commit();

 private:
  database& db_;
  bool done_ = false;
};

}  // namespace cg::storage
