#pragma once
// Reading a Cost Guardian v0.3 (or v0.2) database as the old app meant it (storage-internal): its tables' columns
// checked against what the old app created, each value converted with the row named when it cannot be, and
// `usage_log` read row by row. The import and its check (v03_import.cpp) build on it.

#include "cg/storage/database.hpp"
#include "cg/storage/v03_import.hpp"

#include "v03_values.hpp"

#include "cg/values/money_text.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace cg::storage::v03 {

/// The cost source of a cost the old app computed (at its one reference model's rates, whatever the model):
/// `reprice --source v0.3-import` replaces it with the price table's, and only on request.
inline constexpr std::string_view imported_cost_source = "v0.3-import";
/// What an earlier release wrote in `source` for every row it converted (and lost the counts of).
inline constexpr std::string_view earlier_import_source = "v0.3-import";
inline constexpr std::int64_t progress_every = 5'000;

/// `text` in ASCII lower case.
std::string lower(std::string_view text);
bool table_exists(database& db, std::string_view table);
std::int64_t count_rows(database& db, std::string_view table);

/// The columns of an old table, checked against what the old app created: a missing one stops the import (naming
/// it), an unknown one is listed. SQLite matches names without regard to case, so the lower-case form is the key.
class old_columns {
 public:
  old_columns(database& db, std::string_view table) : table_(table) {
    statement query(db, fmt::format("PRAGMA table_info(\"{}\")", table));
    while (query.step()) present_.emplace(lower(query.column_text(1)), query.column_text(1));
  }

  /// The column as the old app spelled it; throws when the table lacks it.
  std::string require(std::string_view name) {
    known_.insert(lower(name));
    if (!present_.contains(lower(name))) {
      throw storage_error(SQLITE_MISMATCH,
                          fmt::format("importing the Cost Guardian v0.3 table {}: it has no column {} (a v0.3 or v0.2 "
                                      "database always has it); nothing was imported, the file is unchanged",
                                      table_, name));
    }
    return fmt::format("\"{}\"", name);
  }
  /// The column, or NULL for a table from before the old app added it.
  std::string optional(std::string_view name) {
    known_.insert(lower(name));
    return present_.contains(lower(name)) ? fmt::format("\"{}\"", name) : std::string("NULL");
  }
  bool has(std::string_view name) const { return present_.contains(lower(name)); }

  void list_unknown(std::vector<std::string>& out) const {
    for (const auto& [key, spelled] : present_) {
      if (!known_.contains(key)) out.push_back(fmt::format("{}.{}", table_, spelled));
    }
  }

 private:
  std::string table_;
  std::map<std::string, std::string> present_;
  std::set<std::string> known_;
};

/// One value of an old row, read as the old app meant it; anything else stops the import naming table, column and
/// row.
class old_value {
 public:
  old_value(const statement& query, int column, std::string_view table, std::string_view name, std::int64_t rowid)
      : stmt_(query.handle()), column_(column), table_(table), name_(name), rowid_(rowid) {}

  int type() const { return sqlite3_column_type(stmt_, column_); }
  bool is_null() const { return type() == SQLITE_NULL; }

  std::optional<std::string> text() const {
    switch (type()) {
      case SQLITE_NULL:
        return std::nullopt;
      case SQLITE_FLOAT:
        return values::shortest_decimal(sqlite3_column_double(stmt_, column_));
      default:
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column_)),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column_)));
    }
  }

  /// A whole number: INTEGER, a REAL without a fraction, or text of digits. NULL is nullopt.
  std::optional<std::int64_t> whole(std::string_view what = "is not a whole number") const {
    switch (type()) {
      case SQLITE_NULL:
        return std::nullopt;
      case SQLITE_INTEGER:
        return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column_));
      case SQLITE_FLOAT: {
        const double value = sqlite3_column_double(stmt_, column_);
        if (std::isfinite(value) && std::fabs(value) < 9e18 && std::trunc(value) == value)
          return static_cast<std::int64_t>(value);
        break;
      }
      default:
        if (auto value = v03::whole_integer(*text())) return value;
    }
    fail(what);
  }

  std::optional<std::int64_t> time_us() const {
    std::optional<std::int64_t> us;
    switch (type()) {
      case SQLITE_NULL:
        fail("is missing: a row's time is required");
      case SQLITE_INTEGER:
        us = v03::unix_number_to_us(static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column_)));
        break;
      case SQLITE_FLOAT:
        us = v03::unix_number_to_us(sqlite3_column_double(stmt_, column_));
        break;
      default:
        us = v03::text_time_to_us(*text());
    }
    if (!us) fail("is neither ISO-8601 nor a unix time");
    return us;
  }

  /// A cost in USD → nano-USD, rounded once, half to even. NULL is nullopt (no cost stored).
  std::optional<std::int64_t> nano_usd() const {
    if (is_null()) return std::nullopt;
    if (type() == SQLITE_FLOAT && !std::isfinite(sqlite3_column_double(stmt_, column_)))
      fail("is not a finite amount of USD");
    if (auto value = v03::decimal_to_nano(*text())) return value;
    fail("is not a decimal amount of USD");
  }

  [[noreturn]] void fail(std::string_view why) const {
    const std::string value = is_null() ? std::string("NULL") : fmt::format("'{}'", *text());
    throw storage_error(SQLITE_MISMATCH,
                        fmt::format("importing the Cost Guardian v0.3 table {}, column {}, row {}: {} {}; fix or "
                                    "delete that row in the old table and start again (nothing was imported, the "
                                    "file is unchanged)",
                                    table_, name_, rowid_, value, why));
  }

 private:
  sqlite3_stmt* stmt_;
  int column_;
  std::string_view table_;
  std::string_view name_;
  std::int64_t rowid_;
};

/// A `usage_log` row as it will be stored.
struct old_usage_row {
  std::int64_t rowid = 0;
  std::int64_t ts_us = 0;
  std::string model;
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t total = 0;
  std::optional<std::int64_t> cost_nusd;
  std::string source;  ///< `ingest` or `log`
  std::optional<std::int64_t> old_token_id;
  std::optional<std::string> event_id;
  std::optional<std::int64_t> api_key_id;

  std::string_view cost_source() const { return cost_nusd ? imported_cost_source : std::string_view("unpriced"); }
};

/// Reads `usage_log` in rowid order, converting each row; the column set is checked first.
class usage_log_reader {
 public:
  /// `describe`, when given, gets the file's generation and the columns nobody reads; `observer` hears of the
  /// rows read every few thousand, and of the last.
  usage_log_reader(database& db, v03_report* describe, const migration_observer& observer) : observer_(observer) {
    old_columns columns(db, "usage_log");
    (void)columns.optional("id");  // the rowid alias: ids are taken from the rowid itself
    const std::string sql =
        fmt::format("SELECT rowid, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM usage_log ORDER BY rowid",
                    columns.require("timestamp"), columns.require("model"), columns.require("promptTokens"),
                    columns.require("completionTokens"), columns.require("totalTokens"),
                    columns.require("estimatedCostUSD"), columns.optional("source"),
                    columns.optional("ingest_token_id"), columns.optional("event_id"), columns.optional("api_key_id"));
    if (describe != nullptr) {
      describe->generation = columns.has("ingest_token_id") ? "v0.3" : "v0.2";
      columns.list_unknown(describe->unknown_columns);
    }
    query_.emplace(db, sql);
    total_ = count_rows(db, "usage_log");
  }

  bool next(old_usage_row& row) {
    if (!query_->step()) return false;
    ++read_;
    if (observer_.on_progress && (read_ % progress_every == 0 || read_ == total_))
      observer_.on_progress(read_, total_);
    const statement& q = *query_;
    row.rowid = q.column_int64(0);
    const auto value = [&](int column, std::string_view name) {
      return old_value(q, column, "usage_log", name, row.rowid);
    };

    row.ts_us = *value(1, "timestamp").time_us();
    row.model = std::string(trim(value(2, "model").text().value_or("")));
    if (row.model.empty()) row.model = "unknown";
    row.input = value(3, "promptTokens").whole().value_or(0);
    row.output = value(4, "completionTokens").whole().value_or(0);
    row.total = value(5, "totalTokens").whole().value_or(row.input + row.output);
    row.cost_nusd = value(6, "estimatedCostUSD").nano_usd();

    // v0.3 wrote 'ingest' (POST /ingest) or 'legacy' (POST /log); its ALTER TABLE gave older rows 'ingest'.
    const auto source = value(7, "source");
    const std::string old_source = source.is_null() ? "ingest" : lower(trim(*source.text()));
    if (old_source == "ingest") {
      row.source = "ingest";
    } else if (old_source == "legacy") {
      row.source = "log";
    } else {
      source.fail("is neither 'ingest' nor 'legacy'");
    }
    row.old_token_id = value(8, "ingest_token_id").whole("is not a token id");
    row.event_id = value(9, "event_id").text();
    if (row.event_id && trim(*row.event_id).empty()) row.event_id.reset();
    row.api_key_id = value(10, "api_key_id").whole("is not a key id");
    return true;
  }

 private:
  const migration_observer& observer_;
  std::optional<statement> query_;
  std::int64_t total_ = 0;
  std::int64_t read_ = 0;
};

/// Adds one converted row to the totals the report compares.
void add_to(v03_totals& totals, const old_usage_row& row);
/// An old `active` flag: NULL, a non-zero number or a yes-word is true.
bool truthy(const old_value& value);

}  // namespace cg::storage::v03
