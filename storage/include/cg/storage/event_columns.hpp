#pragma once
/// The one description of a usage event's columns. Everything that lists an event's values is derived from it:
/// the insert and the select of both backends and their row decoding, the reprice reader, the CSV export, the
/// /data JSON and the OpenAPI schemas. A new field is a member of event_row.hpp, an entry in event_columns.cpp and
/// a schema migration; the outputs follow.

#include "cg/storage/event_row.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace cg::storage {

/// What a column holds, which decides how each output spells it.
enum class column_type : std::uint8_t {
  integer,    ///< a count or an id: an integer everywhere
  text,       ///< free text: a JSON string, an escaped and neutralised CSV cell
  json_text,  ///< compact JSON text: /data shows the JSON it holds
  timestamp,  ///< unix µs UTC: ISO-8601 text with Z in CSV and JSON
  money,      ///< integer nano-USD: exact decimal USD text, never a double in storage or CSV
};

/// What a column is about, for people and for the groups that travel together.
enum class column_group : std::uint8_t { identity, time, token_counts, cost, provenance, attribution };

/// The token class a column of the token_counts group counts; `none` in the other groups.
enum class token_class : std::uint8_t { none, input, output, total, cache_read, cache_write, reasoning };

/// Where a column's value comes from.
enum class column_origin : std::uint8_t {
  stored,       ///< a column of usage_events that every insert writes
  row_id,       ///< usage_events.id: assigned on insert, written only by a copy that keeps ids (migrate-db)
  token_label,  ///< not in usage_events: the label of the event's tracking token, joined when events are read
};

/// A pointer to one member of an event, whichever its C++ type.
using event_field =
    std::variant<std::int64_t*, std::optional<std::int64_t>*, std::string*, std::optional<std::string>*>;
/// The same, for reading.
using const_event_field = std::variant<const std::int64_t*, const std::optional<std::int64_t>*, const std::string*,
                                       const std::optional<std::string>*>;

/// One column. Function pointers rather than member pointers, because they reach nested members (the token counts).
struct event_column {
  std::string_view name{};  ///< SQL name in usage_events (for the token label: `label` of tracking_tokens)
  column_type type = column_type::text;
  bool nullable = false;
  column_group group = column_group::identity;
  token_class tokens = token_class::none;
  column_origin origin = column_origin::stored;
  /// The CSV header of an exported column; empty: neither in the CSV nor in /data.
  std::string_view csv_header{};
  std::string_view json_key{};  ///< its key in each /data item
  /// The old app's /data key for the same value (`promptTokens`), kept for its clients: written before the other
  /// keys, and for money as the old app's floating-point USD. Empty when the old app had none.
  std::string_view seed_json_key{};
  /// The top-level /ingest body key a client sets it with (its camelCase alias is the validation's business);
  /// empty when only the server decides it.
  std::string_view request_key{};
  /// The JSON Schema of `request_key`'s value in the UsageEvent request schema (JSON text).
  std::string_view request_schema{};
  bool read_by_reprice = false;  ///< what a cost is computed from, or the cost itself
  /// Read as PROJECT_PATTERNS show it: the event's own value, else the one a pattern assigns.
  bool project_patterns = false;
  std::string_view description{};  ///< for OpenAPI
  /// The member of a row that holds the value; null for the token counts (found by their class), the row id and
  /// the token label (see field_of()).
  event_field (*field)(event_row&) = nullptr;

  bool exported() const noexcept { return !csv_header.empty(); }
  /// True for what reports sum: every token count, and the cost.
  bool summed() const noexcept { return group == column_group::token_counts || type == column_type::money; }
  /// True when every insert writes it (neither the row id nor a joined value).
  bool inserted() const noexcept { return origin == column_origin::stored; }
};

/// Every column of an event, in export order: the CSV's column order, which finance spreadsheets read by position,
/// so a new column is only ever appended.
std::span<const event_column> event_columns() noexcept;

/// The column named `name` (SQL name), or nullptr.
const event_column* find_event_column(std::string_view name) noexcept;

/// The member of token_counts that counts class `tokens` (`total` for none, which no token-count column has).
std::int64_t pricing::token_counts::*count_member(token_class tokens) noexcept;

/// The member of `e` that holds `column`'s value.
event_field field_of(const event_column& column, stored_event& e) noexcept;
const_event_field field_of(const event_column& column, const stored_event& e) noexcept;
/// The same for a row about to be inserted; only for columns that are inserted().
const_event_field field_of(const event_column& column, const event_row& row) noexcept;

}  // namespace cg::storage
