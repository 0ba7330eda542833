#include "cg/storage/cost_report.hpp"

#include "event_sql.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace cg::storage {

namespace {

constexpr std::array dimension_names{
    std::pair{report_dimension::day, std::string_view("day")},
    std::pair{report_dimension::week, std::string_view("week")},
    std::pair{report_dimension::month, std::string_view("month")},
    std::pair{report_dimension::model, std::string_view("model")},
    std::pair{report_dimension::provider, std::string_view("provider")},
    std::pair{report_dimension::token, std::string_view("token")},
    std::pair{report_dimension::project, std::string_view("project")},
    std::pair{report_dimension::user, std::string_view("user")},
    std::pair{report_dimension::feature, std::string_view("feature")},
    std::pair{report_dimension::environment, std::string_view("environment")},
    std::pair{report_dimension::session_type, std::string_view("session_type")},
};

bool is_time(report_dimension d) {
  return d == report_dimension::day || d == report_dimension::week || d == report_dimension::month;
}

void checked_add(std::int64_t& sum, std::int64_t value) {
  if (__builtin_add_overflow(sum, value, &sum))
    throw std::overflow_error("a report sum exceeds the 64-bit integer range; narrow the range or the filters");
}

// The event columns a report reads after the grouping columns, in this order.
constexpr std::string_view sum_columns =
    "e.input_tokens, e.output_tokens, e.total_tokens, e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens, "
    "e.cost_nusd";
constexpr int sum_column_count = 7;

// The non-time dimensions the request groups by, in request order: these are the scan's key columns.
std::vector<report_dimension> column_dimensions(const cost_report_request& request) {
  std::vector<report_dimension> out;
  for (const auto d : request.group_by)
    if (!is_time(d)) out.push_back(d);
  return out;
}

bool needs_time(const cost_report_request& request) {
  return std::any_of(request.group_by.begin(), request.group_by.end(), is_time);
}

// One group while streaming: its local day (when a time dimension is asked for), its key column values, its sums.
struct partial_group {
  local_day day = 0;
  std::vector<std::optional<std::string>> values;
  usage_totals totals;
};

// Finds the local day of each row without a time-zone lookup per row: rows mostly arrive in time order, so the day
// of the previous row is usually the day of this one.
class day_cache {
 public:
  explicit day_cache(const time_zone_ref& zone) : zone_(zone) {}
  local_day day_of(std::int64_t ts) {
    if (ts >= start_ && ts < end_) return day_;
    day_ = zone_.day_of(ts);
    start_ = zone_.day_start(day_);
    end_ = zone_.day_start(day_ + 1);
    if (!(start_ <= ts && ts < end_)) start_ = end_ = 0;  // never cache a day the zone data disagrees with
    return day_;
  }

 private:
  const time_zone_ref& zone_;
  local_day day_ = 0;
  std::int64_t start_ = 0;
  std::int64_t end_ = 0;
};

std::optional<std::int64_t> to_int(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return std::stoll(*text);
}

// Orders keys dimension by dimension: nulls last, token ids as numbers, everything else (ISO dates included) as
// bytes.
struct key_order {
  const std::vector<report_dimension>* dims;
  bool operator()(const std::vector<std::optional<std::string>>& a,
                  const std::vector<std::optional<std::string>>& b) const {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i]) continue;
      if (!a[i]) return false;
      if (!b[i]) return true;
      if ((*dims)[i] == report_dimension::token) return to_int(a[i]) < to_int(b[i]);
      return *a[i] < *b[i];
    }
    return false;
  }
};

std::unordered_map<std::int64_t, std::string> token_labels(database& db) {
  std::unordered_map<std::int64_t, std::string> labels;
  statement q(db, "SELECT id, label FROM tracking_tokens");
  while (q.step()) labels.emplace(q.column_int64(0), q.column_text(1));
  return labels;
}

}  // namespace

std::optional<report_dimension> parse_report_dimension(std::string_view name) {
  for (const auto& [d, n] : dimension_names)
    if (n == name) return d;
  return std::nullopt;
}

std::string_view report_dimension_name(report_dimension d) {
  for (const auto& [dim, n] : dimension_names)
    if (dim == d) return n;
  return "?";
}

void usage_totals::add(const usage_totals& other) {
  checked_add(requests, other.requests);
  checked_add(input_tokens, other.input_tokens);
  checked_add(output_tokens, other.output_tokens);
  checked_add(total_tokens, other.total_tokens);
  checked_add(cache_read_tokens, other.cache_read_tokens);
  checked_add(cache_write_tokens, other.cache_write_tokens);
  checked_add(reasoning_tokens, other.reasoning_tokens);
  checked_add(cost_nusd, other.cost_nusd);
}

bound_sql cost_report_sql(const cost_report_request& request, std::span<const project_rule> rules) {
  detail::sql_builder sql;
  sql.text("SELECT ");
  if (needs_time(request)) sql.text("e.ts, ");
  bool reads_project = detail::filter_needs_project(request.filter);
  for (const auto d : column_dimensions(request)) {
    switch (d) {
      case report_dimension::model: sql.text("e.model"); break;
      case report_dimension::provider: sql.text("e.provider"); break;
      case report_dimension::token: sql.text("e.token_id"); break;
      case report_dimension::project:
        detail::append_project(sql, rules);
        reads_project = true;
        break;
      case report_dimension::user: sql.text("e.user"); break;
      case report_dimension::feature: sql.text("e.feature"); break;
      case report_dimension::environment: sql.text("e.environment"); break;
      case report_dimension::session_type: sql.text("e.session_type"); break;
      default: break;  // time dimensions come from e.ts
    }
    sql.text(", ");
  }
  sql.text(sum_columns).text(detail::events_from);
  if (reads_project && detail::project_needs_token(rules)) sql.text(detail::token_join);
  detail::append_where(sql, request.filter, rules);
  return std::move(sql).finish();
}

cost_report run_cost_report(database& db, const cost_report_request& request, std::span<const project_rule> rules) {
  const bound_sql query = cost_report_sql(request, rules);
  statement stmt(db, query.text);
  query.bind_to(stmt);
  sqlite3_stmt* const raw = stmt.handle();

  const bool with_time = needs_time(request);
  const auto key_dims = column_dimensions(request);
  const int first_key = with_time ? 1 : 0;
  const int first_sum = first_key + static_cast<int>(key_dims.size());
  day_cache days(request.zone);

  // Key bytes: the local day, then per key column a null flag or its length and bytes.
  std::unordered_map<std::string, partial_group> groups;
  std::string key;
  while (stmt.step()) {
    key.clear();
    local_day day = 0;
    if (with_time) {
      day = days.day_of(sqlite3_column_int64(raw, 0));
      key.append(reinterpret_cast<const char*>(&day), sizeof day);
    }
    for (int c = first_key; c < first_sum; ++c) {
      if (sqlite3_column_type(raw, c) == SQLITE_NULL) {
        key.push_back('\0');
        continue;
      }
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
      const auto size = static_cast<std::uint32_t>(sqlite3_column_bytes(raw, c));
      key.push_back('\1');
      key.append(reinterpret_cast<const char*>(&size), sizeof size);
      key.append(text, size);
    }
    auto [it, inserted] = groups.try_emplace(key);
    partial_group& group = it->second;
    if (inserted) {
      group.day = day;
      for (int c = first_key; c < first_sum; ++c) group.values.push_back(stmt.column_optional_text(c));
    }
    usage_totals row;
    row.requests = 1;
    row.input_tokens = sqlite3_column_int64(raw, first_sum);
    row.output_tokens = sqlite3_column_int64(raw, first_sum + 1);
    row.total_tokens = sqlite3_column_int64(raw, first_sum + 2);
    row.cache_read_tokens = sqlite3_column_int64(raw, first_sum + 3);
    row.cache_write_tokens = sqlite3_column_int64(raw, first_sum + 4);
    row.reasoning_tokens = sqlite3_column_int64(raw, first_sum + 5);
    row.cost_nusd = sqlite3_column_int64(raw, first_sum + sum_column_count - 1);
    group.totals.add(row);
  }

  // From local days and key columns to the requested keys; days of one week or month merge here.
  std::map<std::vector<std::optional<std::string>>, usage_totals, key_order> merged(key_order{&request.group_by});
  for (auto& [bytes, group] : groups) {
    std::vector<std::optional<std::string>> keys;
    keys.reserve(request.group_by.size());
    std::size_t next_value = 0;
    for (const auto d : request.group_by) {
      switch (d) {
        case report_dimension::day: keys.emplace_back(format_day(group.day)); break;
        case report_dimension::week: keys.emplace_back(format_day(week_start(group.day))); break;
        case report_dimension::month: keys.emplace_back(format_month(group.day)); break;
        default: keys.push_back(std::move(group.values[next_value++])); break;
      }
    }
    merged[std::move(keys)].add(group.totals);
  }

  cost_report report;
  const auto token_at = std::find(request.group_by.begin(), request.group_by.end(), report_dimension::token);
  std::unordered_map<std::int64_t, std::string> labels;
  if (token_at != request.group_by.end()) labels = token_labels(db);
  report.rows.reserve(merged.size());
  for (auto& [keys, totals] : merged) {
    cost_report_row row;
    row.keys = keys;
    row.totals = totals;
    if (token_at != request.group_by.end()) {
      row.token_id = to_int(keys[static_cast<std::size_t>(token_at - request.group_by.begin())]);
      if (row.token_id) {
        if (const auto found = labels.find(*row.token_id); found != labels.end()) row.token_label = found->second;
      }
    }
    report.totals.add(totals);
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace cg::storage
