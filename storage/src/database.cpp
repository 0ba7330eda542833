#include "cg/storage/database.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

namespace cg::storage {

namespace {

// SQLite's own spelling of "copy this text" is `((sqlite3_destructor_type)-1)`, an old-style cast; it is confined
// to this one definition.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
const sqlite3_destructor_type copy_text = SQLITE_TRANSIENT;
#pragma GCC diagnostic pop
// SQLITE_STATIC is a null destructor: "the caller keeps the text alive".
constexpr sqlite3_destructor_type keep_text = nullptr;

constexpr int busy_timeout_ms = 5000;
// Negative: KiB. 16 MiB of page cache for the writer, whose inserts land all over the indexes. Read connections
// scan (reports, exports) or seek (pages): a scan of millions of rows misses any cache of this size, and a seek
// keeps the few inner b-tree pages it needs in 2 MiB. A 30-day /costs scan of the 10-million-row benchmark database
// took the same time with either (1.35 s), while 16 MiB per reader added 16 MiB to the server's resident memory
// per read thread after one large export.
constexpr std::string_view cache_size_pragma = "PRAGMA cache_size = -16384";
constexpr std::string_view reader_cache_size_pragma = "PRAGMA cache_size = -2048";
// After a checkpoint the WAL file is truncated back to this size instead of keeping its high-water mark.
constexpr std::string_view journal_size_limit_pragma = "PRAGMA journal_size_limit = 67108864";

std::string_view shorten(std::string_view sql) {
  constexpr std::size_t max_length = 160;
  while (!sql.empty() && (sql.front() == ' ' || sql.front() == '\n')) {
    sql.remove_prefix(1);
  }
  return sql.size() <= max_length ? sql : sql.substr(0, max_length);
}

std::string database_name(sqlite3* db) {
  if (db == nullptr) return "(closed)";
  const char* file = sqlite3_db_filename(db, "main");
  return file == nullptr || *file == '\0' ? std::string(":memory:") : std::string(file);
}

// Builds the error from the connection's state right after the failed call: sqlite3_errmsg is only valid until the
// next call on that connection.
storage_error error_from(sqlite3* db, int code, std::string_view context) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  return storage_error(code, fmt::format("{}: {} (SQLite extended code {}, database '{}')", context, message, code,
                                         database_name(db)));
}

[[noreturn]] void throw_error(sqlite3* db, int code, std::string_view context) {
  throw error_from(db, code, context);
}

bool is_memory_path(const std::filesystem::path& path) {
  return path.empty() || path.native() == ":memory:";
}

// "cost-guardian (uid 10001)": who the process runs as, for a message about a file it may not write. In a
// container the user is not the one who made the folder, and the fix (chown) needs the uid.
std::string effective_user() {
  const uid_t uid = ::geteuid();
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr)
    return fmt::format("{} (uid {})", found->pw_name, uid);
  return fmt::format("uid {}", uid);
}

// AT_EACCESS: the effective user's rights, the ones open() is checked against.
void check_writable(const std::filesystem::path& database, const std::filesystem::path& target, bool is_directory) {
  if (::faccessat(AT_FDCWD, target.c_str(), is_directory ? (W_OK | X_OK) : (R_OK | W_OK), AT_EACCESS) == 0) return;
  const int error = errno;
  const std::string user = effective_user();
  const std::string hint =
      error == EACCES ? fmt::format("; give that user write access to it (e.g. chown {} '{}')", ::geteuid(),
                                    target.string())
                      : std::string();
  throw storage_error(
      SQLITE_CANTOPEN,
      fmt::format("cannot open database '{}': {} '{}' is not writable by user {}: {}{}{}", database.string(),
                  is_directory ? "directory" : "file", target.string(), user, std::strerror(error),
                  is_directory ? " (SQLite creates the database and its -wal and -shm files there)" : "", hint));
}

// SQLite says only "unable to open database file" for these; say which condition failed instead.
void check_path(const std::filesystem::path& path, open_mode mode) {
  if (is_memory_path(path)) return;
  std::error_code ec;
  if (mode == open_mode::read_only) {
    if (!std::filesystem::exists(path, ec)) {
      throw storage_error(SQLITE_CANTOPEN,
                          fmt::format("cannot open database '{}' read-only: the file does not exist", path.string()));
    }
    return;
  }
  const std::filesystem::path parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    throw storage_error(SQLITE_CANTOPEN,
                        fmt::format("cannot open database '{}': directory '{}' does not exist (create it first)",
                                    path.string(), parent.string()));
  }
  check_writable(path, parent.empty() ? std::filesystem::path(".") : parent, true);
  if (std::filesystem::exists(path, ec)) check_writable(path, path, false);
}

std::string pragma_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc != SQLITE_OK) throw_error(db, rc, sql);
  std::string value;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    if (const unsigned char* text = sqlite3_column_text(stmt, 0); text != nullptr) {
      value.assign(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
    }
  } else if (rc != SQLITE_DONE) {
    storage_error error = error_from(db, rc, sql);
    sqlite3_finalize(stmt);
    throw error;
  }
  sqlite3_finalize(stmt);
  return value;
}

}  // namespace

// ---- storage_error ----------------------------------------------------------------------------------------------

storage_error::storage_error(int extended_code, const std::string& what)
    : std::runtime_error(what), code_(extended_code) {}

storage_error::storage_error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}

bool storage_error::is_unique_violation() const noexcept {
  return kind_ == kind::unique_violation || code_ == SQLITE_CONSTRAINT_UNIQUE ||
         code_ == SQLITE_CONSTRAINT_PRIMARYKEY;
}

// ---- database ---------------------------------------------------------------------------------------------------

database::database(const std::filesystem::path& path, open_mode mode, durability d) : path_(path) {
  check_path(path, mode);

  // NOMUTEX: a connection is used by one thread at a time (see the class comment), so SQLite's per-connection
  // mutex would only cost. EXRESCODE: even the open itself reports an extended code.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= mode == open_mode::read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const std::string file = is_memory_path(path) ? std::string(":memory:") : path.string();

  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    // A handle is usually allocated even when the open fails; it carries the message and must be closed.
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw storage_error(rc, fmt::format("cannot open database '{}'{}: {} (SQLite extended code {})", file,
                                        mode == open_mode::read_only ? " read-only" : "", message, rc));
  }
  db_ = db;

  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);

    if (mode == open_mode::read_write && !is_memory_path(path)) {
      // journal_mode answers with the mode now in force: a file system without shared memory would stay on the
      // rollback journal silently, and readers would then block the writer.
      const std::string journal = pragma_text(db_, "PRAGMA journal_mode = WAL");
      if (journal != "wal") {
        throw storage_error(SQLITE_ERROR, fmt::format("cannot open database '{}': WAL mode refused (journal_mode "
                                                      "is '{}'); is the file on a network file system?",
                                                      file, journal));
      }
      exec(journal_size_limit_pragma);
    }
    exec(d == durability::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
    exec(mode == open_mode::read_only ? reader_cache_size_pragma : cache_size_pragma);
    exec("PRAGMA temp_store = MEMORY");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

database::~database() {
  // close_v2: should a statement outlive its connection by mistake, the handle becomes a zombie instead of leaking.
  sqlite3_close_v2(db_);
}

database::database(database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

database& database::operator=(database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

void database::exec(std::string_view sql) {
  // sqlite3_exec needs a terminated string; string_view may not be one.
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string error = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw storage_error(rc, fmt::format("{}: {} (SQLite extended code {}, database '{}')", shorten(sql), error, rc,
                                        database_name(db_)));
  }
}

std::int64_t database::changes() const noexcept {
  return sqlite3_changes64(db_);
}

bool database::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

// ---- statement --------------------------------------------------------------------------------------------------

statement::statement(database& db, std::string_view sql) : db_(db.handle()) {
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, &tail);
  if (rc != SQLITE_OK) throw_error(db_, rc, fmt::format("preparing `{}`", shorten(sql)));
  if (stmt_ == nullptr) {
    throw storage_error(SQLITE_MISUSE, fmt::format("preparing `{}`: no SQL statement in the text", shorten(sql)));
  }
  // A second statement in the text would be silently ignored by step(): refuse it.
  for (const char* end = sql.data() + sql.size(); tail != nullptr && tail < end; ++tail) {
    if (*tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r' && *tail != ';') {
      sqlite3_finalize(stmt_);
      stmt_ = nullptr;
      throw storage_error(SQLITE_MISUSE,
                          fmt::format("preparing `{}`: more than one SQL statement in the text", shorten(sql)));
    }
  }
}

statement::~statement() {
  sqlite3_finalize(stmt_);
}

statement::statement(statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

namespace {

void check_bind(sqlite3* db, sqlite3_stmt* stmt, int rc, int index) {
  if (rc != SQLITE_OK) throw_error(db, rc, fmt::format("binding parameter {} of `{}`", index, sqlite3_sql(stmt)));
}

}  // namespace

statement& statement::bind(int index, std::int64_t value) {
  check_bind(db_, stmt_, sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

statement& statement::bind(int index, std::string_view value) {
  // A non-null pointer even for "": a null pointer would bind SQL NULL instead of the empty string.
  check_bind(db_, stmt_,
             sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(), copy_text, SQLITE_UTF8),
             index);
  return *this;
}

statement& statement::bind(int index, const std::string& value) {
  return bind(index, std::string_view(value));
}

statement& statement::bind(int index, std::nullopt_t) {
  check_bind(db_, stmt_, sqlite3_bind_null(stmt_, index), index);
  return *this;
}

statement& statement::bind(int index, const std::optional<std::string>& value) {
  return value ? bind(index, std::string_view(*value)) : bind(index, std::nullopt);
}

statement& statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind(index, std::nullopt);
}

statement& statement::bind_static(int index, std::string_view value) {
  check_bind(db_, stmt_,
             sqlite3_bind_text64(stmt_, index, value.empty() ? "" : value.data(), value.size(), keep_text, SQLITE_UTF8),
             index);
  return *this;
}

statement& statement::bind_static(int index, const std::string& value) {
  return bind_static(index, std::string_view(value));
}

statement& statement::bind_static(int index, const std::optional<std::string>& value) {
  return value ? bind_static(index, std::string_view(*value)) : bind(index, std::nullopt);
}

bool statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Read the message before the reset; the reset leaves the statement reusable and releases its locks.
  storage_error error = error_from(db_, rc, fmt::format("executing `{}`", shorten(sqlite3_sql(stmt_))));
  sqlite3_reset(stmt_);
  throw error;
}

void statement::reset() {
  // The return value repeats the last step's error, which step() has already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void statement::rewind() noexcept {
  sqlite3_reset(stmt_);
}

std::int64_t statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

double statement::column_double(int index) const {
  return sqlite3_column_double(stmt_, index);
}

std::string statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)));
}

bool statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::optional<std::string> statement::column_optional_text(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_text(index);
}

std::optional<std::int64_t> statement::column_optional_int64(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_int64(index);
}

// ---- transaction ------------------------------------------------------------------------------------------------

transaction::transaction(database& db) : db_(db) {
  // IMMEDIATE takes the write lock now, so a busy database fails here (after busy_timeout) rather than half-way.
  db_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
  if (done_) return;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) may have rolled back already; only then is there
  // nothing to do. The result is ignored: a destructor must not throw, and SQLite ends the transaction regardless.
  if (db_.in_transaction()) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void transaction::commit() {
  done_ = true;
  const int rc = sqlite3_exec(db_.handle(), "COMMIT", nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return;
  storage_error error = error_from(db_.handle(), rc, "COMMIT (the transaction was rolled back)");
  // A failed COMMIT (SQLITE_BUSY, an I/O error) can leave the transaction open: end it so nothing half-done stays.
  if (db_.in_transaction()) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  throw error;
}

}  // namespace cg::storage
