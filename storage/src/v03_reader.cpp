// Reading a v0.3 database: the helpers of v03_reader.hpp.

#include "v03_reader.hpp"

namespace cg::storage::v03 {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool table_exists(database& db, std::string_view table) {
  statement query(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE");
  query.bind(1, table);
  return query.step();
}

std::int64_t count_rows(database& db, std::string_view table) {
  statement query(db, fmt::format("SELECT count(*) FROM \"{}\"", table));
  query.step();
  return query.column_int64(0);
}

void add_to(v03_totals& totals, const old_usage_row& row) {
  ++totals.rows;
  totals.counts.input += row.input;
  totals.counts.output += row.output;
  totals.counts.total += row.total;
  totals.cost_nusd += row.cost_nusd.value_or(0);
  if (!row.cost_nusd) ++totals.unpriced_rows;
  ++totals.rows_by_source[row.source];
}

bool truthy(const old_value& value) {
  if (value.is_null()) return true;  // a column that allowed NULL meant "never deactivated"
  if (value.type() == SQLITE_INTEGER || value.type() == SQLITE_FLOAT) return *value.whole() != 0;
  const std::string word = lower(trim(*value.text()));
  return word == "1" || word == "true" || word == "t" || word == "yes" || word == "y" || word == "on";
}

}  // namespace cg::storage::v03
