#include "cg/storage/v03_import.hpp"

#include "v03_reader.hpp"
#include "v03_values.hpp"

#include "cg/values/json_text.hpp"
#include "cg/values/money_text.hpp"
#include "cg/values/time.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace cg::storage {

namespace {

using v03::trim;
using v03::add_to;
using v03::count_rows;
using v03::earlier_import_source;
using v03::old_columns;
using v03::old_usage_row;
using v03::old_value;
using v03::table_exists;
using v03::truthy;
using v03::usage_log_reader;

/// Writes the old tables into the new ones (fresh import) or restores what an earlier release lost (repair).
class upgrader {
 public:
  upgrader(database& db, v03_report& report, const migration_observer& observer)
      : db_(db), report_(report), observer_(observer), now_(values::now_us()) {}

  void import_tokens() {
    old_columns columns(db_, "ingest_tokens");
    (void)columns.optional("id");
    const std::string sql = fmt::format("SELECT rowid, {}, {}, {}, {}, {}, {} FROM ingest_tokens ORDER BY rowid",
                                        columns.optional("id"), columns.require("label"), columns.require("token"),
                                        columns.require("active"), columns.require("created_at"),
                                        columns.require("last_seen_at"));
    columns.list_unknown(report_.unknown_columns);
    statement query(db_, sql);
    while (query.step()) {
      const std::int64_t rowid = query.column_int64(0);
      const auto value = [&](int column, std::string_view name) {
        return old_value(query, column, "ingest_tokens", name, rowid);
      };
      // `id` is the rowid in v0.3 (INTEGER PRIMARY KEY); usage_log refers to it.
      const std::int64_t old_id = value(1, "id").whole("is not a token id").value_or(rowid);

      std::string label(trim(value(2, "label").text().value_or("")));
      if (label.empty()) label = fmt::format("v0.3 token {}", old_id);
      while (live_labels_.contains(label)) label = fmt::format("{} (v0.3 #{})", label, old_id);
      live_labels_.insert(label);

      bool active = truthy(value(4, "active"));
      std::string token(trim(value(3, "token").text().value_or("")));
      if (token.empty()) token = fmt::format("v0.3-token-{}", old_id);
      if (tokens_.contains(token)) {
        // Two rows with one token cannot both resolve: the later one is kept for its history, inactive.
        token = unique_token(fmt::format("{}-v0.3-duplicate-{}", token, old_id));
        active = false;
      }
      tokens_.insert(token);

      // DATETIME('now') text; a value that is not a time is not worth stopping for: the import's time stands in.
      const auto optional_time = [&](int column, std::string_view name) -> std::optional<std::int64_t> {
        const auto v = value(column, name);
        if (v.is_null()) return std::nullopt;
        const auto text = v.text();
        return text ? v03::text_time_to_us(*text) : std::nullopt;
      };
      const std::int64_t created_at = optional_time(5, "created_at").value_or(now_);
      const std::optional<std::int64_t> last_seen_at = optional_time(6, "last_seen_at");
      by_old_id_.emplace(old_id, insert_token(rowid, label, token, active, created_at, last_seen_at, std::nullopt));
    }
  }

  void import_usage() {
    usage_log_reader reader(db_, &report_, observer_);
    statement insert(db_,
                     "INSERT INTO usage_events (id, ts, received_at, token_id, event_id, provider, model, "
                     "input_tokens, output_tokens, total_tokens, cost_nusd, cost_source, price_ref, source, meta) "
                     "VALUES (?1, ?2, ?2, ?3, ?4, 'openai', ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12)");
    std::set<std::pair<std::int64_t, std::string>> seen_keys;
    old_usage_row row;
    while (reader.next(row)) {
      std::optional<std::int64_t> token_id;
      if (row.old_token_id) token_id = resolve_token(*row.old_token_id);
      std::optional<std::string> meta = api_key_meta(row);
      if (row.event_id && token_id && !seen_keys.emplace(*token_id, *row.event_id).second) {
        // v0.3 kept this repeat and counted it; so do we, without the key the new schema makes unique.
        ++report_.repeated_event_ids;
        meta = fmt::format("{{\"v0.3_duplicate_event_id\":{}{}}}", values::json_string(*row.event_id),
                           row.api_key_id ? fmt::format(",\"v0.2_api_key_id\":{}", *row.api_key_id) : "");
        row.event_id.reset();
      }
      insert.reset();
      insert.bind(1, row.rowid)
          .bind(2, row.ts_us)
          .bind(3, token_id)
          .bind(4, row.event_id)
          .bind(5, row.model)
          .bind(6, row.input)
          .bind(7, row.output)
          .bind(8, row.total)
          .bind(9, row.cost_nusd.value_or(0))
          .bind(10, row.cost_source())
          .bind(11, row.source)
          .bind(12, meta);
      insert.step();
    }
  }

  /// An earlier release read none of the camelCase columns: every row it wrote has zero counts and no cost. Each of
  /// its rows gets the old row's counts, cost and source back; ids were kept, so the old rowid finds it.
  void repair_usage() {
    usage_log_reader reader(db_, &report_, observer_);
    statement find(db_,
                   "SELECT input_tokens, output_tokens, total_tokens, cost_nusd, cost_source, source FROM usage_events "
                   "WHERE id = ?1 AND source = ?2");
    statement update(db_,
                     "UPDATE usage_events SET input_tokens = ?2, output_tokens = ?3, total_tokens = ?4, cost_nusd = "
                     "?5, cost_source = ?6, price_ref = '', source = ?7 WHERE id = ?1");
    old_usage_row row;
    while (reader.next(row)) {
      find.reset();
      find.bind(1, row.rowid).bind(2, earlier_import_source);
      if (!find.step()) continue;  // deleted since the earlier import: verify() counts it as missing
      const bool same = find.column_int64(0) == row.input && find.column_int64(1) == row.output &&
                        find.column_int64(2) == row.total && find.column_int64(3) == row.cost_nusd.value_or(0) &&
                        find.column_text(4) == row.cost_source() && find.column_text(5) == row.source;
      if (same) continue;
      update.reset();
      update.bind(1, row.rowid)
          .bind(2, row.input)
          .bind(3, row.output)
          .bind(4, row.total)
          .bind(5, row.cost_nusd.value_or(0))
          .bind(6, row.cost_source())
          .bind(7, row.source);
      update.step();
      ++report_.rows_changed;
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
  static std::optional<std::string> api_key_meta(const old_usage_row& row) {
    if (!row.api_key_id) return std::nullopt;
    return fmt::format("{{\"v0.2_api_key_id\":{}}}", *row.api_key_id);
  }

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
    ++report_.placeholder_tokens;
    return new_id;
  }

  std::string unique_token(std::string candidate) const {
    while (tokens_.contains(candidate)) candidate += "-x";
    return candidate;
  }

  database& db_;
  v03_report& report_;
  const migration_observer& observer_;
  std::int64_t now_;
  std::unordered_map<std::int64_t, std::int64_t> by_old_id_;
  std::unordered_set<std::int64_t> used_ids_;
  std::unordered_set<std::string> tokens_;
  std::unordered_set<std::string> live_labels_;
};

/// Fills report.before from the old tables and report.after from the new ones, row by row by id.
void compare(database& db, v03_report& report, const migration_observer& observer, bool describe) {
  report.before = {};
  report.after = {};
  report.rows_missing = report.rows_mismatched = report.rows_repriced = 0;
  if (table_exists(db, "ingest_tokens")) {
    report.before.tokens = count_rows(db, "ingest_tokens");
    statement kept(db, "SELECT count(*) FROM tracking_tokens WHERE id IN (SELECT rowid FROM ingest_tokens)");
    kept.step();
    report.after.tokens = kept.column_int64(0);
  }
  if (!table_exists(db, "usage_log")) return;
  {
    statement sum(db, "SELECT total(\"estimatedCostUSD\") FROM usage_log");
    sum.step();
    report.old_cost_real_sum = sum.column_double(0);
  }
  usage_log_reader reader(db, describe ? &report : nullptr, observer);
  statement find(db,
                 "SELECT ts, model, input_tokens, output_tokens, total_tokens, cost_nusd, cost_source, source "
                 "FROM usage_events WHERE id = ?1");
  old_usage_row row;
  while (reader.next(row)) {
    add_to(report.before, row);
    find.reset();
    find.bind(1, row.rowid);
    if (!find.step()) {
      ++report.rows_missing;
      continue;
    }
    old_usage_row stored;
    stored.ts_us = find.column_int64(0);
    stored.model = find.column_text(1);
    stored.input = find.column_int64(2);
    stored.output = find.column_int64(3);
    stored.total = find.column_int64(4);
    const std::string cost_source = find.column_text(6);
    stored.cost_nusd = cost_source == "unpriced" ? std::nullopt : std::optional(find.column_int64(5));
    stored.source = find.column_text(7);
    // A cost `reprice --source v0.3-import` replaced is the operator's choice, not a loss: compare the rest.
    const bool repriced = cost_source != row.cost_source();
    if (repriced) {
      ++report.rows_repriced;
      stored.cost_nusd = row.cost_nusd;
    }
    const bool same = stored.ts_us == row.ts_us && stored.model == row.model && stored.input == row.input &&
                      stored.output == row.output && stored.total == row.total && stored.cost_nusd == row.cost_nusd &&
                      stored.source == row.source;
    if (!same) ++report.rows_mismatched;
    add_to(report.after, repriced ? row : stored);
  }
}

}  // namespace

std::string_view to_string(v03_action action) noexcept {
  switch (action) {
    case v03_action::imported:
      return "imported";
    case v03_action::repaired:
      return "repaired";
    case v03_action::verified:
      return "verified";
  }
  return "verified";
}

bool v03_report::consistent() const noexcept {
  return rows_mismatched == 0 && rows_missing == 0 && before == after;
}

bool has_v03_tables(database& db) { return table_exists(db, "usage_log") || table_exists(db, "ingest_tokens"); }

namespace {

/// A raw connection for the moments before the database class opens the file (which switches it to WAL).
struct raw_connection {
  sqlite3* handle = nullptr;
  raw_connection(const std::filesystem::path& path, int flags) {
    if (sqlite3_open_v2(path.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
      const std::string message = handle ? sqlite3_errmsg(handle) : "out of memory";
      sqlite3_close(handle);
      handle = nullptr;
      throw storage_error(SQLITE_CANTOPEN, fmt::format("cannot open '{}': {}", path.string(), message));
    }
  }
  ~raw_connection() { sqlite3_close(handle); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  std::int64_t number(const char* sql) const {
    sqlite3_stmt* stmt = nullptr;
    std::int64_t value = 0;
    const int rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nullptr);
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    const int final_rc = sqlite3_finalize(stmt);
    if (rc != SQLITE_OK || final_rc != SQLITE_OK)
      throw storage_error(final_rc, fmt::format("reading '{}': {}", sqlite3_db_filename(handle, "main"),
                                                sqlite3_errmsg(handle)));
    return value;
  }
};

}  // namespace

namespace detail {
bool v03_upgrade_pending(const std::filesystem::path& path, int schema_version_with_upgrade) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::file_size(path, ec) == 0) return false;
  raw_connection db(path, SQLITE_OPEN_READONLY);
  if (db.number("PRAGMA user_version") >= schema_version_with_upgrade) return false;
  return db.number("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                   "('usage_log', 'ingest_tokens') COLLATE NOCASE") > 0;
}
}  // namespace detail

std::filesystem::path backup_database_file(const std::filesystem::path& path) {
  std::filesystem::path target = path;
  target += ".v0.3-backup";
  for (int n = 2; std::filesystem::exists(target); ++n) {
    target = path;
    target += fmt::format(".v0.3-backup.{}", n);
  }
  copy_database_file(path, target);
  return target;
}

void copy_database_file(const std::filesystem::path& path, const std::filesystem::path& target) {
  if (std::filesystem::exists(target))
    throw storage_error(SQLITE_CANTOPEN, fmt::format("'{}' exists already: not overwritten", target.string()));
  // Byte for byte, under a read lock so that nobody writes meanwhile. Opening read-write and reading once rolls back
  // a hot journal the old app left; a file in WAL mode (an earlier release's) is checkpointed first, so the main
  // file holds everything.
  raw_connection source(path, SQLITE_OPEN_READWRITE);
  (void)source.number("SELECT count(*) FROM sqlite_master");
  if (sqlite3_exec(source.handle, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(source.handle, "BEGIN; SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw storage_error(sqlite3_extended_errcode(source.handle),
                        fmt::format("cannot lock '{}' to copy it: {}", path.string(), sqlite3_errmsg(source.handle)));
  std::error_code ec;
  std::filesystem::copy_file(path, target, std::filesystem::copy_options::none, ec);
  sqlite3_exec(source.handle, "COMMIT", nullptr, nullptr, nullptr);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(target, ignored);
    throw storage_error(SQLITE_IOERR, fmt::format("copying '{}' to '{}' failed: {}", path.string(), target.string(),
                                                  ec.message()));
  }
}

v03_report verify_v03(database& db, const migration_observer& observer) {
  v03_report report;
  report.action = v03_action::verified;
  compare(db, report, observer, true);
  return report;
}

namespace detail {

void upgrade_v03(database& db, int from_version, const migration_observer& observer,
                 const std::filesystem::path& backup) {
  if (!has_v03_tables(db)) return;
  v03_report report;
  report.backup = backup;
  upgrader run(db, report, observer);
  const bool has_usage = table_exists(db, "usage_log");
  if (from_version == 0) {
    // Seen for the first time: schema step 1 made the empty tables this fills.
    report.action = v03_action::imported;
    if (table_exists(db, "ingest_tokens")) run.import_tokens();
    if (has_usage) run.import_usage();
    run.update_token_totals();
  } else {
    // Schema step 1 of an earlier release imported the tokens (right) and the rows (with zero counts and no cost).
    report.action = v03_action::repaired;
    if (has_usage) run.repair_usage();
  }
  if (!has_usage) report.generation = "v0.3";
  if (table_exists(db, "api_keys")) {
    report.notes.push_back(fmt::format(
        "api_keys ({} rows, v0.2's stored provider keys) is not imported: Cost Guardian keeps no provider keys; the "
        "table stays in the file, unread",
        count_rows(db, "api_keys")));
  }
  compare(db, report, observer, false);
  // A fresh import must match row for row; a repair cannot bring back rows deleted since the earlier import.
  const bool ok = report.rows_mismatched == 0 && (report.action == v03_action::repaired || report.consistent());
  if (!ok) {
    throw storage_error(SQLITE_MISMATCH,
                        fmt::format("the v0.3 upgrade does not add up ({} rows differ, {} missing; old: {} rows, {} "
                                    "nano-USD; new: {} rows, {} nano-USD); rolled back, the file is unchanged",
                                    report.rows_mismatched, report.rows_missing, report.before.rows,
                                    report.before.cost_nusd, report.after.rows, report.after.cost_nusd));
  }
  if (observer.on_v03_report) observer.on_v03_report(report);
}

}  // namespace detail

}  // namespace cg::storage
