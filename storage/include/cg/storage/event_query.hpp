#pragma once
/// Reading usage events for the admin API: filters, keyset pages (newest or oldest first), distinct models, and the
/// reset. Every value reaches SQLite as a bound parameter; the SQL text is built only from fixed fragments.

#include "cg/storage/database.hpp"
#include "cg/storage/event_row.hpp"
#include "cg/storage/project_rules.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace cg::storage {

/// Which events a read looks at. Every member is optional; those that are set must all match.
struct event_filter {
  std::optional<std::int64_t> start_us;  ///< ts >= start_us (unix µs UTC)
  std::optional<std::int64_t> end_us;    ///< ts < end_us
  std::optional<std::int64_t> token_id;
  std::optional<std::string> model;
  std::optional<std::string> provider;
  std::optional<std::string> project;  ///< matched after PROJECT_PATTERNS: the project reports show
  std::optional<std::string> user;
  std::optional<std::string> feature;
  std::optional<std::string> environment;
  std::optional<std::string> session_type;
  std::optional<std::string> session_id;
  std::optional<std::int64_t> max_id;  ///< id <= max_id: pins an export to the rows stored when it began
};

/// A keyset position: the (ts, id) of the last row a page returned. Rows are ordered by (ts, id), so the position
/// says exactly where the next page starts, however deep, at the cost of one index seek.
struct event_position {
  std::int64_t ts_us = 0;
  std::int64_t id = 0;
  bool operator==(const event_position&) const = default;
};

enum class event_order { newest_first, oldest_first };

/// SQL text with `?` placeholders and their values, in order.
struct bound_sql {
  using value = std::variant<std::int64_t, std::string>;
  std::string text;
  std::vector<value> params;
  /// Binds every parameter to `stmt` (prepared from `text`).
  void bind_to(statement& stmt) const;
};

/// The query of one page (exposed so tests can check its plan). `limit` rows at most.
bound_sql page_sql(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                   const std::optional<event_position>& after, std::size_t limit);

/// The query behind models(): one index seek per distinct model (a loose index scan), not a scan of every row.
std::string_view distinct_models_sql();

/// Thread-safety: none, like its connection (one reader of the pool).
class event_reader {
 public:
  explicit event_reader(database& db, std::span<const project_rule> rules = {});

  /// Up to `limit` events matching `filter` in `order`, after `after` (exclusive) when given.
  std::vector<stored_event> page(const event_filter& filter, event_order order,
                                 const std::optional<event_position>& after, std::size_t limit);
  /// The same rows as page(), handed to `visit` one by one as they are read, in one reused object (copy what you
  /// keep): what an export needs to encode a page without holding it. Returns how many rows were visited.
  std::size_t for_each(const event_filter& filter, event_order order, const std::optional<event_position>& after,
                       std::size_t limit, const std::function<void(const stored_event&)>& visit);
  /// Every distinct model name, sorted (byte order).
  std::vector<std::string> models();
  /// The largest event id stored (0 when there is none).
  std::int64_t max_id();

 private:
  database& db_;
  std::span<const project_rule> rules_;
};

/// Deletes every usage event and sets each tracking token's usage_count to 0 and last_seen_at to null, in one
/// transaction; tokens themselves stay. Returns the number of events deleted. For the writer's connection.
std::int64_t reset_usage(database& db);

}  // namespace cg::storage
