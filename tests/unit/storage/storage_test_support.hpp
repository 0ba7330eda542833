#pragma once
// Helpers shared by the storage unit tests.

#include "temp_dir.hpp"

#include "cg/storage/database.hpp"
#include "cg/storage/event_store.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace cg::storage::test {

using cg::test::temp_dir;

/// The storage_error thrown by `action`, or nullopt when it threw nothing.
inline std::optional<storage_error> error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const storage_error& e) {
    return e;
  }
  return std::nullopt;
}

inline std::int64_t query_int(database& db, const std::string& sql) {
  statement query(db, sql);
  if (!query.step()) throw std::runtime_error("no row: " + sql);
  return query.column_int64(0);
}

inline std::string query_text(database& db, const std::string& sql) {
  statement query(db, sql);
  if (!query.step()) throw std::runtime_error("no row: " + sql);
  return query.column_text(0);
}

inline event_row make_event(std::int64_t token_id, std::optional<std::string> event_id, std::int64_t ts_us) {
  event_row row;
  row.ts_us = ts_us;
  row.received_at_us = ts_us + 1'000;
  row.token_id = token_id;
  row.event_id = std::move(event_id);
  row.provider = "openai";
  row.model = "gpt-4o-mini-2024-07-18";
  row.tokens.input = 10;
  row.tokens.output = 5;
  row.tokens.total = 15;
  row.cost_nusd = 4'500;
  row.cost_source = "server";
  row.price_ref = "openai/gpt-4o-mini@2024-07-18";
  row.source = "ingest";
  return row;
}

}  // namespace cg::storage::test
