#include "cg/storage/connection.hpp"

#include "postgres/postgres_connection.hpp"
#include "sqlite_connection.hpp"

#include <fmt/format.h>

namespace cg::storage {

bool is_postgresql_url(std::string_view url) noexcept {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // postgresql://user:password@host/...: the password sits between the first ':' after the scheme and the '@'.
  const auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority = scheme_end + 3;
    const auto at = out.find('@', authority);
    const auto slash = out.find('/', authority);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const auto colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // ...?password=secret&...
  for (auto pos = out.find("password="); pos != std::string::npos; pos = out.find("password=", pos + 1)) {
    if (pos > 0 && out[pos - 1] != '?' && out[pos - 1] != '&') continue;
    const auto value = pos + 9;
    const auto end = out.find('&', value);
    out.replace(value, (end == std::string::npos ? out.size() : end) - value, "***");
  }
  return out;
}

bool database_location::is_postgresql() const noexcept { return is_postgresql_url(url); }

std::string database_location::describe() const {
  return is_postgresql() ? redact_url(url) : sqlite_path.string();
}

std::vector<stored_event> connection::events_page(const event_filter& filter, std::span<const project_rule> rules,
                                                  event_order order, const std::optional<event_position>& after,
                                                  std::size_t limit) {
  std::vector<stored_event> rows;
  rows.reserve(std::min<std::size_t>(limit, 4096));
  for_each_event(filter, rules, order, after, limit, [&rows](const stored_event& e) { rows.push_back(e); });
  return rows;
}

std::unique_ptr<connection> open_writer(const database_location& where, const migration_observer& observer) {
  return where.is_postgresql() ? open_postgres_writer(where) : open_sqlite_writer(where, observer);
}

std::unique_ptr<connection> open_reader(const database_location& where) {
  return where.is_postgresql() ? open_postgres_reader(where) : open_sqlite_reader(where);
}

}  // namespace cg::storage
