#pragma once
// Decoding the query parameters of the admin reads (/data, /costs and its routes, /export.csv) into storage
// requests. Plain functions: every rule is unit-tested without a network, and every error names its parameter.

#include "http/query_params.hpp"

#include "cg/storage/calendar.hpp"
#include "cg/storage/cost_report.hpp"
#include "cg/storage/event_query.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cg::server {

/// A parameter the request got wrong: answered 400 with `field` = the parameter's name.
struct request_error {
  std::string field;
  std::string message;
};

/// `GET /data`: default and maximum page size. A larger `limit` is lowered to the maximum (and the response says
/// which limit applied), as the seed did, rather than refused.
inline constexpr std::size_t data_default_limit = 500;
inline constexpr std::size_t data_max_limit = 5000;

struct data_query {
  storage::event_filter filter;
  std::size_t limit = data_default_limit;
  std::optional<storage::event_position> after;
};

/// Which /costs route is asked: the general one, or a convenience route that fixes the grouping.
enum class cost_route { costs, daily, range, weekly, monthly, by_model, by_project, by_session_type };

struct export_query {
  storage::event_filter filter;
  storage::time_zone_ref zone;
  /// Set when `group_by` was given: the export is the /costs report as CSV instead of one row per event.
  std::optional<storage::cost_report_request> report;
  /// `cost-guardian-<start>-<end>.csv`: local dates of the first and last instant asked for, `all` / `now` when open.
  std::string filename;
};

/// The opaque `next_cursor`: base64url of `<ts_us>.<id>`.
std::string encode_cursor(const storage::event_position& position);
std::optional<storage::event_position> decode_cursor(std::string_view cursor);

std::variant<data_query, request_error> decode_data_query(const query_map& params);
/// `now_us` picks the day /costs/daily reports when no `date` is given (today in the request's `tz`); passing the
/// clock in keeps this a pure function.
std::variant<storage::cost_report_request, request_error> decode_cost_query(const query_map& params, cost_route route,
                                                                            std::int64_t now_us);
std::variant<export_query, request_error> decode_export_query(const query_map& params);

/// Checks that a route taking no parameters got none (names starting with `_`, cache-busters, are ignored).
std::optional<request_error> reject_any_params(const query_map& params);

}  // namespace cg::server
