#pragma once
// Reading events from PostgreSQL (storage-internal): the admin pages and the export, models, the figures behind
// /metrics and /health, and the pages `reprice` walks. The counterpart of event_query.hpp and cost_store.hpp.

#include "cg/storage/connection.hpp"
#include "pg_session.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cg::storage::pg {

/// The reads of usage_events. Each call runs on its session as it is (the connection around it reconnects and
/// retries).
/// Thread-safety: none, like its session.
class event_reader {
 public:
  explicit event_reader(session& s) : session_(s) {}

  /// page_sql() in the PostgreSQL dialect, one result per page, each row handed to `visit` in one reused object.
  std::size_t for_each(const event_filter& filter, std::span<const project_rule> rules, event_order order,
                       const std::optional<event_position>& after, std::size_t limit,
                       const std::function<void(const stored_event&)>& visit);
  std::vector<std::string> models();
  std::int64_t max_id();
  database_figures figures();
  /// One read of the schema version, for /health.
  void check_read();
  /// reprice_page_sql() in the PostgreSQL dialect.
  std::vector<priced_event> reprice_page(const reprice_filter& filter, std::int64_t after_id, std::size_t limit);

 private:
  session& session_;
};

}  // namespace cg::storage::pg
