#pragma once
// Events in and out of SQLite, by event_columns() (storage-internal): the insert text, its bindings, and a result
// row as detail::decode_event() reads it.

#include "cg/storage/database.hpp"
#include "cg/storage/event_row.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cg::storage::detail {

/// `INSERT INTO usage_events (<every inserted column>) VALUES (?1, ...)`, with `"id"` first when `with_id`.
std::string sqlite_event_insert(bool with_id);

/// Binds `row`'s inserted columns in event_columns() order, after `id` (at 1) when given. Text is bound with
/// bind_static: the row must outlive the step.
void bind_event(statement& insert, const event_row& row, std::optional<std::int64_t> id = std::nullopt);


/// One row of a SQLite result, as decode_event() reads it.
class sqlite_result_row {
 public:
  explicit sqlite_result_row(sqlite3_stmt* row) noexcept : row_(row) {}
  bool is_null(int column) const { return sqlite3_column_type(row_, column) == SQLITE_NULL; }
  std::int64_t int64(int column) const { return sqlite3_column_int64(row_, column); }
  /// NULL reads as "" (price_ref of an old row, say), as for every non-nullable text column.
  void text(int column, std::string& out) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(row_, column));
    out.assign(text == nullptr ? "" : text, static_cast<std::size_t>(sqlite3_column_bytes(row_, column)));
  }

 private:
  sqlite3_stmt* row_;
};

}  // namespace cg::storage::detail
