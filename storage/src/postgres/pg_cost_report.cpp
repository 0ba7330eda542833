#include "pg_cost_report.hpp"

#include "../event_sql.hpp"
#include "../report_accumulator.hpp"

#include "cg/values/time.hpp"

#include <fmt/format.h>

#include <string>
#include <unordered_map>

namespace cg::storage::pg {

namespace {

using values::us_per_day;
// Every UTC offset in use since 1972 is a whole number of quarter hours, so a local day starts on a quarter hour
// (UTC): reports sum per quarter hour in SQL and bucket those into local days in C++.
constexpr std::int64_t us_per_quarter_hour = 900'000'000;

// Thrown inside a report's row stream when a pre-aggregated bucket straddles two local days (a zone whose offset is
// not a whole number of quarter hours, such as local mean time before 1972): the report is then summed per instant.
struct bucket_straddles_days {};

// Sums per (key columns, bucket) in SQL, so the server returns groups rather than events; the buckets become local
// days in C++. In UTC a bucket can be a whole day.
bound_sql report_sql(const cost_report_request& request, std::span<const project_rule> rules, std::int64_t bucket_us) {
  detail::sql_builder sql(detail::sql_dialect::postgresql);
  sql.text("SELECT ");
  int grouped = 0;
  if (detail::report_needs_time(request)) {
    sql.text(fmt::format("e.ts - mod(mod(e.ts, {0}) + {0}, {0}), ", bucket_us));
    ++grouped;
  }
  bool reads_project = detail::filter_needs_project(request.filter);
  for (const auto d : detail::report_key_columns(request)) {
    detail::append_report_column(sql, d, rules, reads_project);
    sql.text(", ");
    ++grouped;
  }
  sql.text("count(*), ").text(detail::report_sum_columns(true));
  sql.text(detail::events_from);
  if (reads_project && detail::project_needs_token(rules)) sql.text(detail::token_join);
  detail::append_where(sql, request.filter, rules);
  for (int i = 1; i <= grouped; ++i) sql.text(i == 1 ? " GROUP BY " : ", ").text(std::to_string(i));
  return std::move(sql).finish();
}

cost_report sum_report(session& s, const cost_report_request& request, std::span<const project_rule> rules,
                       std::int64_t bucket_us) {
  const bound_sql query = report_sql(request, rules, bucket_us);
  const bool with_time = detail::report_needs_time(request);
  detail::day_cache days(request.zone);
  detail::report_accumulator groups(request);
  const int first_key = with_time ? 1 : 0;
  const int first_sum = first_key + static_cast<int>(detail::report_key_columns(request).size());
  s.stream(query.text, params_of(query), "running the cost report", [&](const query_result& r) {
    usage_totals totals;
    totals.requests = r.int64(0, first_sum);
    if (totals.requests == 0) return;  // no GROUP BY and no events: one row of nulls
    local_day day = 0;
    if (with_time) {
      const std::int64_t bucket = r.int64(0, 0);
      day = days.day_of(bucket);
      if (bucket_us > 1 && days.day_of(bucket + bucket_us - 1) != day) throw bucket_straddles_days{};
    }
    groups.start_row(day);
    for (int c = first_key; c < first_sum; ++c) {
      if (r.is_null(0, c))
        groups.null();
      else
        groups.value(r.text(0, c));
    }
    detail::decode_report_sums(result_row(r, 0), first_sum + 1, totals);
    groups.add(totals);
  });
  std::unordered_map<std::int64_t, std::string> labels;
  if (groups.needs_token_labels()) {
    const query_result r = s.exec("SELECT id, label FROM tracking_tokens", "reading token labels");
    for (int i = 0; i < r.rows(); ++i) labels.emplace(r.int64(i, 0), std::string(r.text(i, 1)));
  }
  return std::move(groups).finish(labels);
}

}  // namespace

cost_report run_cost_report(session& s, const cost_report_request& request, std::span<const project_rule> rules) {
  try {
    return sum_report(s, request, rules, request.zone.is_utc() ? us_per_day : us_per_quarter_hour);
  } catch (const bucket_straddles_days&) {
    return sum_report(s, request, rules, 1);
  }
}

}  // namespace cg::storage::pg
