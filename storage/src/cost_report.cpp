#include "cg/storage/cost_report.hpp"

#include "report_accumulator.hpp"
#include "sqlite_events.hpp"

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
  detail::checked_add(requests, other.requests);
  detail::checked_add(tokens.input, other.tokens.input);
  detail::checked_add(tokens.output, other.tokens.output);
  detail::checked_add(tokens.total, other.tokens.total);
  detail::checked_add(tokens.cache_read, other.tokens.cache_read);
  detail::checked_add(tokens.cache_write, other.tokens.cache_write);
  detail::checked_add(tokens.reasoning, other.tokens.reasoning);
  detail::checked_add(cost_nusd, other.cost_nusd);
}

std::string detail::report_sum_columns(bool summed) {
  std::string out;
  for (const auto& column : event_columns()) {
    if (!column.summed()) continue;
    if (!out.empty()) out += ", ";
    out += summed ? "sum(e.\"" : "e.\"";
    out += column.name;
    out += summed ? "\")" : "\"";
  }
  return out;
}

bound_sql cost_report_sql(const cost_report_request& request, std::span<const project_rule> rules) {
  detail::sql_builder sql;
  sql.text("SELECT ");
  if (detail::report_needs_time(request)) sql.text("e.ts, ");
  bool reads_project = detail::filter_needs_project(request.filter);
  for (const auto d : detail::report_key_columns(request)) {
    detail::append_report_column(sql, d, rules, reads_project);
    sql.text(", ");
  }
  sql.text(detail::report_sum_columns(false)).text(detail::events_from);
  if (reads_project && detail::project_needs_token(rules)) sql.text(detail::token_join);
  detail::append_where(sql, request.filter, rules);
  return std::move(sql).finish();
}

cost_report run_cost_report(database& db, const cost_report_request& request, std::span<const project_rule> rules) {
  const bound_sql query = cost_report_sql(request, rules);
  statement stmt(db, query.text);
  query.bind_to(stmt);
  sqlite3_stmt* const raw = stmt.handle();

  const bool with_time = detail::report_needs_time(request);
  const int first_key = with_time ? 1 : 0;
  const int first_sum = first_key + static_cast<int>(detail::report_key_columns(request).size());
  detail::day_cache days(request.zone);
  detail::report_accumulator groups(request);

  usage_totals row;
  row.requests = 1;
  while (stmt.step()) {
    groups.start_row(with_time ? days.day_of(sqlite3_column_int64(raw, 0)) : 0);
    for (int c = first_key; c < first_sum; ++c) {
      if (sqlite3_column_type(raw, c) == SQLITE_NULL) {
        groups.null();
        continue;
      }
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
      groups.value(std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(raw, c))));
    }
    detail::decode_report_sums(detail::sqlite_result_row(raw), first_sum, row);
    groups.add(row);
  }
  std::unordered_map<std::int64_t, std::string> labels;
  if (groups.needs_token_labels()) labels = token_labels(db);
  return std::move(groups).finish(labels);
}

namespace detail {

void checked_add(std::int64_t& sum, std::int64_t value) {
  if (__builtin_add_overflow(sum, value, &sum))
    throw std::overflow_error("a report sum exceeds the 64-bit integer range; narrow the range or the filters");
}

bool report_needs_time(const cost_report_request& request) {
  return std::any_of(request.group_by.begin(), request.group_by.end(), is_time);
}

std::vector<report_dimension> report_key_columns(const cost_report_request& request) {
  std::vector<report_dimension> out;
  for (const auto d : request.group_by)
    if (!is_time(d)) out.push_back(d);
  return out;
}

void append_report_column(sql_builder& sql, report_dimension d, std::span<const project_rule> rules,
                          bool& reads_project) {
  switch (d) {
    case report_dimension::model: sql.text("e.model"); break;
    case report_dimension::provider: sql.text("e.provider"); break;
    case report_dimension::token: sql.text("e.token_id"); break;
    case report_dimension::project:
      append_project(sql, rules);
      reads_project = true;
      break;
    case report_dimension::user: sql.text("e.\"user\""); break;
    case report_dimension::feature: sql.text("e.feature"); break;
    case report_dimension::environment: sql.text("e.environment"); break;
    case report_dimension::session_type: sql.text("e.session_type"); break;
    default: break;  // time dimensions come from e.ts
  }
}

bool report_accumulator::needs_token_labels() const {
  return std::find(request_.group_by.begin(), request_.group_by.end(), report_dimension::token) !=
         request_.group_by.end();
}

cost_report report_accumulator::finish(const std::unordered_map<std::int64_t, std::string>& labels) && {
  // From local days and key columns to the requested keys; days of one week or month merge here.
  std::map<std::vector<std::optional<std::string>>, usage_totals, key_order> merged(key_order{&request_.group_by});
  std::vector<std::optional<std::string>> values;
  for (const auto& [bytes, totals] : groups_) {
    local_day day = 0;
    std::memcpy(&day, bytes.data(), sizeof day);
    values.clear();
    for (std::size_t at = sizeof day; at < bytes.size();) {
      if (bytes[at++] == '\0') {
        values.emplace_back();
        continue;
      }
      std::uint32_t size = 0;
      std::memcpy(&size, bytes.data() + at, sizeof size);
      at += sizeof size;
      values.emplace_back(bytes.substr(at, size));
      at += size;
    }
    std::vector<std::optional<std::string>> keys;
    keys.reserve(request_.group_by.size());
    std::size_t next_value = 0;
    for (const auto d : request_.group_by) {
      switch (d) {
        case report_dimension::day: keys.emplace_back(format_day(day)); break;
        case report_dimension::week: keys.emplace_back(format_day(week_start(day))); break;
        case report_dimension::month: keys.emplace_back(format_month(day)); break;
        default: keys.push_back(std::move(values[next_value++])); break;
      }
    }
    merged[std::move(keys)].add(totals);
  }

  cost_report report;
  const auto token_at = std::find(request_.group_by.begin(), request_.group_by.end(), report_dimension::token);
  report.rows.reserve(merged.size());
  for (auto& [keys, totals] : merged) {
    cost_report_row row;
    row.keys = keys;
    row.totals = totals;
    if (token_at != request_.group_by.end()) {
      row.token_id = to_int(keys[static_cast<std::size_t>(token_at - request_.group_by.begin())]);
      if (row.token_id) {
        if (const auto found = labels.find(*row.token_id); found != labels.end()) row.token_label = found->second;
      }
    }
    report.totals.add(totals);
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace detail

}  // namespace cg::storage
