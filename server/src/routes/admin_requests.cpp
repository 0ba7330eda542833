#include "routes/admin_requests.hpp"

#include "cg/ingest/validation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <set>

namespace cg::server {

namespace {

using storage::event_filter;
using storage::time_zone_ref;

// The filters /data, /costs and /export.csv share, in the order the errors check them.
constexpr std::array<std::string_view, 9> filter_names{"model",   "provider",    "project",      "user",
                                                      "feature", "environment", "session_type", "session_id",
                                                      "ingest_token_id"};
constexpr std::size_t filter_value_max = 256;  // an attribution field is at most this long at ingest

constexpr std::string_view base64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(base64url_alphabet[(buffer >> static_cast<unsigned>(bits)) & 63U]);
    }
  }
  if (bits > 0) out.push_back(base64url_alphabet[(buffer << static_cast<unsigned>(6 - bits)) & 63U]);
  return out;
}

std::optional<std::string> unbase64url(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const auto at = base64url_alphabet.find(c);
    if (at == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  if (bits >= 6) return std::nullopt;  // a length no encoding produces
  return out;
}

template <typename Int>
std::optional<Int> parse_integer(std::string_view text) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

/// Which names a route accepts besides the shared filters.
struct accepted {
  bool filters = true;
  bool range = true;  // start and end
  std::vector<std::string_view> extra;
};

std::optional<request_error> check_names(const query_map& params, const accepted& ok) {
  for (const auto& [name, value] : params) {
    if (name.starts_with('_')) continue;  // cache-busters (`_=1712345678`) that browsers and jQuery add
    const bool is_range = name == "start" || name == "end";
    const bool is_filter = name == "tz" || std::find(filter_names.begin(), filter_names.end(), name) != filter_names.end();
    if (is_range && ok.range) continue;
    if (is_filter && ok.filters) continue;
    if (std::find(ok.extra.begin(), ok.extra.end(), name) != ok.extra.end()) continue;
    return request_error{name, fmt::format("unknown query parameter '{}'", name)};
  }
  return std::nullopt;
}

// An empty value means "no filter": that is what an HTML form's empty select sends.
const std::string* present(const query_map& params, std::string_view name) {
  const auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return nullptr;
  return &it->second;
}

std::variant<time_zone_ref, request_error> decode_zone(const query_map& params) {
  const auto* tz = present(params, "tz");
  if (!tz) return time_zone_ref{};
  auto zone = time_zone_ref::find(*tz);
  if (!zone)
    return request_error{"tz", fmt::format("unknown time zone '{}': use an IANA name such as Europe/Berlin or UTC",
                                           *tz)};
  return *zone;
}

// start: an instant, or a date meaning its first instant in the zone. end: inclusive, an instant (events at exactly
// that instant are in) or a date (the whole day is in). Both become the half-open [start_us, end_us).
std::optional<request_error> decode_bound(const query_map& params, std::string_view name, const time_zone_ref& zone,
                                          std::optional<std::int64_t>& out) {
  const auto* text = present(params, name);
  if (!text) return std::nullopt;
  const bool is_end = name == "end";
  if (text->size() == 10) {
    if (const auto day = storage::parse_day(*text)) {
      out = zone.day_start(is_end ? *day + 1 : *day);
      return std::nullopt;
    }
  } else if (const auto instant = ingest::parse_timestamp(*text)) {
    out = is_end ? *instant + 1 : *instant;
    return std::nullopt;
  }
  return request_error{std::string(name),
                       fmt::format("{} must be a date YYYY-MM-DD or an ISO-8601 timestamp with Z or an offset, got "
                                   "'{}'",
                                   name, *text)};
}

std::optional<request_error> decode_filters(const query_map& params, const time_zone_ref& zone, event_filter& f) {
  if (auto e = decode_bound(params, "start", zone, f.start_us)) return e;
  if (auto e = decode_bound(params, "end", zone, f.end_us)) return e;
  if (f.start_us && f.end_us && *f.start_us >= *f.end_us)
    return request_error{"start", fmt::format("start ({}) is after end ({})", params.find("start")->second,
                                              params.find("end")->second)};
  for (const auto name : filter_names) {
    const auto* value = present(params, name);
    if (!value) continue;
    if (name == "ingest_token_id") {
      const auto id = parse_integer<std::int64_t>(*value);
      if (!id || *id <= 0)
        return request_error{std::string(name),
                             fmt::format("ingest_token_id must be a positive integer, got '{}'", *value)};
      f.token_id = id;
      continue;
    }
    if (value->size() > filter_value_max)
      return request_error{std::string(name), fmt::format("{} is at most {} bytes", name, filter_value_max)};
    std::optional<std::string>* slot = nullptr;
    if (name == "model") slot = &f.model;
    if (name == "provider") slot = &f.provider;
    if (name == "project") slot = &f.project;
    if (name == "user") slot = &f.user;
    if (name == "feature") slot = &f.feature;
    if (name == "environment") slot = &f.environment;
    if (name == "session_type") slot = &f.session_type;
    if (name == "session_id") slot = &f.session_id;
    if (slot) *slot = *value;
  }
  return std::nullopt;
}

std::variant<std::vector<storage::report_dimension>, request_error> decode_group_by(std::string_view text) {
  std::vector<storage::report_dimension> dims;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = text.find(',', pos);
    const auto end = comma == std::string_view::npos ? text.size() : comma;
    auto name = text.substr(pos, end - pos);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    const auto dim = storage::parse_report_dimension(name);
    if (!dim)
      return request_error{"group_by", fmt::format("unknown group_by '{}': use a comma list of day, week, month, "
                                                   "model, provider, token, project, user, feature, environment, "
                                                   "session_type",
                                                   name)};
    if (std::find(dims.begin(), dims.end(), *dim) != dims.end())
      return request_error{"group_by", fmt::format("group_by names '{}' twice", name)};
    dims.push_back(*dim);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return dims;
}

std::string file_date(const time_zone_ref& zone, std::optional<std::int64_t> instant, std::string_view open) {
  if (!instant) return std::string(open);
  return storage::format_day(zone.day_of(*instant));
}

}  // namespace

std::string encode_cursor(const storage::event_position& position) {
  return base64url(fmt::format("{}.{}", position.ts_us, position.id));
}

std::optional<storage::event_position> decode_cursor(std::string_view cursor) {
  const auto text = unbase64url(cursor);
  if (!text) return std::nullopt;
  const auto dot = text->find('.');
  if (dot == std::string::npos) return std::nullopt;
  const auto ts = parse_integer<std::int64_t>(std::string_view(*text).substr(0, dot));
  const auto id = parse_integer<std::int64_t>(std::string_view(*text).substr(dot + 1));
  if (!ts || !id || *id <= 0) return std::nullopt;
  return storage::event_position{*ts, *id};
}

std::optional<request_error> reject_any_params(const query_map& params) {
  return check_names(params, accepted{false, false, {}});
}

std::variant<data_query, request_error> decode_data_query(const query_map& params) {
  if (auto e = check_names(params, accepted{true, true, {"limit", "cursor"}})) return *e;
  auto zone = decode_zone(params);
  if (auto* e = std::get_if<request_error>(&zone)) return *e;
  data_query q;
  if (auto e = decode_filters(params, std::get<time_zone_ref>(zone), q.filter)) return *e;
  if (const auto* limit = present(params, "limit")) {
    const auto n = parse_integer<std::int64_t>(*limit);
    if (!n || *n < 1) return request_error{"limit", fmt::format("limit must be a positive integer, got '{}'", *limit)};
    q.limit = static_cast<std::size_t>(std::min<std::int64_t>(*n, data_max_limit));
  }
  if (const auto* cursor = present(params, "cursor")) {
    q.after = decode_cursor(*cursor);
    if (!q.after)
      return request_error{"cursor", "cursor is not one this server gave out (use next_cursor as it was returned)"};
  }
  return q;
}

std::variant<storage::cost_report_request, request_error> decode_cost_query(const query_map& params, cost_route route,
                                                                            std::int64_t now_us) {
  using storage::report_dimension;
  accepted ok;
  if (route == cost_route::costs) ok.extra.emplace_back("group_by");
  if (route == cost_route::daily) {
    ok.range = false;
    ok.extra.emplace_back("date");
  }
  if (auto e = check_names(params, ok)) return *e;

  auto zone = decode_zone(params);
  if (auto* e = std::get_if<request_error>(&zone)) return *e;
  storage::cost_report_request request;
  request.zone = std::get<time_zone_ref>(zone);
  if (auto e = decode_filters(params, request.zone, request.filter)) return *e;

  switch (route) {
    case cost_route::costs:
      if (const auto* group_by = present(params, "group_by")) {
        auto dims = decode_group_by(*group_by);
        if (auto* e = std::get_if<request_error>(&dims)) return *e;
        request.group_by = std::move(std::get<0>(dims));
      }
      break;
    case cost_route::daily: {
      storage::local_day day = request.zone.day_of(now_us);
      if (const auto* date = present(params, "date")) {
        const auto parsed = storage::parse_day(*date);
        if (!parsed) return request_error{"date", fmt::format("date must be YYYY-MM-DD, got '{}'", *date)};
        day = *parsed;
      }
      request.filter.start_us = request.zone.day_start(day);
      request.filter.end_us = request.zone.day_start(day + 1);
      request.group_by = {report_dimension::model};
      break;
    }
    case cost_route::range:
      if (!present(params, "start")) return request_error{"start", "start is required (a date or a timestamp)"};
      if (!present(params, "end")) return request_error{"end", "end is required (a date or a timestamp)"};
      request.group_by = {report_dimension::day};
      break;
    case cost_route::weekly: request.group_by = {report_dimension::week}; break;
    case cost_route::monthly: request.group_by = {report_dimension::month}; break;
    case cost_route::by_model: request.group_by = {report_dimension::model}; break;
    case cost_route::by_project: request.group_by = {report_dimension::project}; break;
    case cost_route::by_session_type: request.group_by = {report_dimension::session_type}; break;
  }
  return request;
}

std::variant<export_query, request_error> decode_export_query(const query_map& params) {
  if (auto e = check_names(params, accepted{true, true, {"group_by"}})) return *e;
  auto zone = decode_zone(params);
  if (auto* e = std::get_if<request_error>(&zone)) return *e;
  export_query q;
  q.zone = std::get<time_zone_ref>(zone);
  if (auto e = decode_filters(params, q.zone, q.filter)) return *e;
  if (const auto* group_by = present(params, "group_by")) {
    auto dims = decode_group_by(*group_by);
    if (auto* e = std::get_if<request_error>(&dims)) return *e;
    q.report = storage::cost_report_request{q.filter, std::move(std::get<0>(dims)), q.zone};
  }
  const std::optional<std::int64_t> last =
      q.filter.end_us ? std::optional<std::int64_t>(*q.filter.end_us - 1) : std::nullopt;
  q.filename = fmt::format("cost-guardian-{}-{}.csv", file_date(q.zone, q.filter.start_us, "all"),
                           file_date(q.zone, last, "now"));
  return q;
}

}  // namespace cg::server
