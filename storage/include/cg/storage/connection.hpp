#pragma once
/// The one storage interface the rest of the gateway uses: a connection to the event database, whichever backend
/// serves it (an embedded SQLite file, the default, or a PostgreSQL server shared by several gateways). Handlers,
/// the group-commit writer and the reports call only this; the SQL of each backend stays inside its backend.

#include "cg/storage/cost_report.hpp"
#include "cg/storage/cost_store.hpp"
#include "cg/storage/database.hpp"
#include "cg/storage/event_query.hpp"
#include "cg/storage/event_store.hpp"
#include "cg/storage/project_rules.hpp"
#include "cg/storage/token_store.hpp"
#include "cg/storage/v03_import.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cg::storage {

/// Where the events live. A `postgresql://` or `postgres://` URL selects PostgreSQL; anything else (or nothing) is
/// the SQLite file at `sqlite_path`.
struct database_location {
  std::string url;                       ///< DATABASE_URL as given (empty: SQLite)
  std::filesystem::path sqlite_path;     ///< the SQLite file (DB_PATH) when `url` does not select PostgreSQL
  durability sqlite_durability = durability::full;

  bool is_postgresql() const noexcept;
  /// For logs and /health: the SQLite path, or the URL with its password replaced by `***`.
  std::string describe() const;
};

/// True for `postgresql://…` and `postgres://…` (libpq's two URI schemes).
bool is_postgresql_url(std::string_view url) noexcept;
/// `url` with the password of its user-info part (and a `password=` query parameter) replaced by `***`.
std::string redact_url(std::string_view url);

/// Counts for /metrics, read in one go.
struct database_figures {
  std::int64_t usage_rows = 0;
  std::int64_t active_tokens = 0;
  std::optional<std::int64_t> last_received_at_us;  ///< of the newest stored event
};

/// What a retention pass removed.
struct retention_result {
  std::int64_t events_deleted = 0;
  std::vector<std::string> months_dropped;  ///< `2024-01`…: whole partitions dropped (PostgreSQL)
};

/// One connection to the event database. A writer connection (open_writer) also does every write; a reader
/// connection (open_reader) only reads. Every method throws storage_error on failure; a storage_error from a write
/// means nothing of that call was stored. is_unavailable() on the error says the database could not be reached
/// (the connection retries on the next call, with backoff), so callers answer 503 rather than 500.
/// Thread-safety: none; a connection belongs to one thread at a time (the writer, or one reader of the pool).
class connection {
 public:
  virtual ~connection() = default;
  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// `sqlite` or `postgresql`.
  virtual std::string_view backend_name() const noexcept = 0;

  // ---- writes: the writer's connection only -------------------------------------------------------------------

  /// Inserts all rows in one transaction, detecting duplicates of (token_id, event_id) per row (also within the
  /// batch, and against rows another gateway commits at the same moment), and updates each token's usage_count and
  /// last_seen_at in the same transaction. One outcome per row, in order. On failure nothing was stored.
  virtual std::vector<insert_outcome> commit_batch(std::span<const event_row> rows) = 0;
  /// Throws storage_error with is_unique_violation() when an undeleted token has this label.
  virtual tracking_token_row create_token(const std::string& label, const std::string& token, std::int64_t now_us) = 0;
  /// false when no undeleted token has this id.
  virtual bool set_token_active(std::int64_t id, bool active) = 0;
  /// Soft delete (the events keep the label); false when no undeleted token has this id.
  virtual bool remove_token(std::int64_t id, std::int64_t now_us) = 0;
  /// Deletes every usage event and zeroes the tokens' usage counts, in one transaction. Returns events deleted.
  virtual std::int64_t reset_usage() = 0;
  /// A real write of realistic size (about 64 KiB) in its own committed transaction, for /health.
  virtual void write_probe(std::int64_t now_us) = 0;
  /// Rewrites costs in one transaction; rows whose cost_source is `client` are never touched. Returns rows changed.
  virtual std::int64_t apply_costs(std::span<const cost_update> updates) = 0;
  /// Removes every event with ts before `cutoff_us` (a month boundary, UTC). PostgreSQL drops whole monthly
  /// partitions; SQLite deletes the rows.
  virtual retention_result drop_events_before(std::int64_t cutoff_us) = 0;
  /// For `migrate-db`: stores tokens with their own ids (deleted ones too, so events keep their labels), skipping
  /// ids already present, and moves the id sequence past them. Returns how many were new.
  virtual std::int64_t import_tokens(std::span<const tracking_token_row> rows) = 0;
  /// For `migrate-db`: stores events with their own ids in one transaction, skipping ids (and dedupe keys) already
  /// present, so a copy can be re-run; moves the id sequence past them. Returns how many were new.
  virtual std::int64_t import_events(std::span<const stored_event> rows) = 0;
  /// Makes sure events of the months around `now_us` can be stored without a schema change on the hot path
  /// (PostgreSQL creates the monthly partitions ahead of time; SQLite has nothing to do).
  virtual void prepare_months(std::int64_t now_us) = 0;

  // ---- reads --------------------------------------------------------------------------------------------------

  /// Undeleted tokens, oldest first.
  virtual std::vector<tracking_token_row> list_tokens() = 0;
  /// Every token, deleted ones included (deleted_at_us set), by id: what `migrate-db` copies.
  virtual std::vector<tracking_token_row> all_tokens() = 0;
  /// Up to `limit` events matching `filter` in `order`, after `after` (exclusive) when given, handed to `visit`
  /// one by one in one reused object (copy what you keep). Returns how many rows were visited.
  virtual std::size_t for_each_event(const event_filter& filter, std::span<const project_rule> rules,
                                     event_order order, const std::optional<event_position>& after,
                                     std::size_t limit, const std::function<void(const stored_event&)>& visit) = 0;
  /// Every distinct model name, sorted by bytes.
  virtual std::vector<std::string> models() = 0;
  /// The largest event id stored (0 when there is none).
  virtual std::int64_t max_event_id() = 0;
  /// The aggregate report behind /costs. Throws std::overflow_error when a sum leaves the 64-bit range.
  virtual cost_report run_cost_report(const cost_report_request& request, std::span<const project_rule> rules) = 0;
  virtual database_figures figures() = 0;
  /// Proves a read works (for /health).
  virtual void check_read() = 0;
  /// For `reprice`: up to `limit` server/unpriced events with id > `after_id` matching `filter`, in id order.
  virtual std::vector<priced_event> reprice_page(const reprice_filter& filter, std::int64_t after_id,
                                                 std::size_t limit) = 0;

  /// page(): for_each_event() into a vector.
  std::vector<stored_event> events_page(const event_filter& filter, std::span<const project_rule> rules,
                                        event_order order, const std::optional<event_position>& after,
                                        std::size_t limit);
};

/// Opens the read-write connection and brings the schema up to date (once, even when several gateways start
/// together on one PostgreSQL database). What the writer, `reprice` and `migrate-db` use. A SQLite file written by
/// Cost Guardian v0.3 is upgraded on the way, and `observer` hears of it (PostgreSQL never holds v0.3 tables).
std::unique_ptr<connection> open_writer(const database_location& where, const migration_observer& observer = {});
/// Opens a read-only connection. Open it after open_writer() migrated the schema.
std::unique_ptr<connection> open_reader(const database_location& where);

/// Wraps an open SQLite database (already migrated when it is to be written) as a connection.
std::unique_ptr<connection> adopt_sqlite(database db);
/// The SQLite database behind `c`, or nullptr for another backend: for tests and SQLite-only tooling.
database* sqlite_database(connection& c) noexcept;

}  // namespace cg::storage
