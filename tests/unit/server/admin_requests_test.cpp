#include "routes/admin_requests.hpp"
#include "http/query_params.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace cg::server;
using cg::storage::report_dimension;

namespace {

constexpr std::int64_t us_per_hour = 3'600'000'000;
constexpr std::int64_t jan_1_2025 = 1'735'689'600'000'000;

query_map params(std::string_view query) {
  auto parsed = parse_query(query);
  REQUIRE(std::holds_alternative<query_map>(parsed));
  return std::get<query_map>(parsed);
}

template <typename T>
std::string error_field(const std::variant<T, request_error>& result) {
  const auto* e = std::get_if<request_error>(&result);
  return e ? e->field : std::string("<no error>");
}

data_query decode_data(std::string_view query) {
  auto result = decode_data_query(params(query));
  INFO(error_field(result));
  REQUIRE(std::holds_alternative<data_query>(result));
  return std::get<data_query>(result);
}

cg::storage::cost_report_request costs(std::string_view query, cost_route route = cost_route::costs) {
  auto result = decode_cost_query(params(query), route, jan_1_2025 + 5 * us_per_hour);
  INFO(error_field(result));
  REQUIRE(std::holds_alternative<cg::storage::cost_report_request>(result));
  return std::get<cg::storage::cost_report_request>(result);
}

}  // namespace

TEST_SUITE("server") {

TEST_CASE("parse_query decodes escapes and plus signs and refuses duplicates and bad escapes") {
  const auto q = params("model=gpt%2D4o+mini&user=a%26b&flag&&empty=");
  CHECK(q.at("model") == "gpt-4o mini");
  CHECK(q.at("user") == "a&b");
  CHECK(q.at("flag").empty());
  CHECK(q.at("empty").empty());
  CHECK(params("").empty());

  const auto dup = parse_query("model=a&model=b");
  REQUIRE(std::holds_alternative<query_error>(dup));
  CHECK(std::get<query_error>(dup).field == "model");
  for (const auto bad : {"model=%", "model=%4", "model=%zz", "mo%1zel=x"}) {
    CAPTURE(bad);
    CHECK(std::holds_alternative<query_error>(parse_query(bad)));
  }
}

TEST_CASE("cursors round-trip and anything else is refused") {
  const cg::storage::event_position p{jan_1_2025 + 17, 123456};
  const auto text = encode_cursor(p);
  CHECK(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(decode_cursor(text) == p);
  CHECK(decode_cursor(encode_cursor({-5, 1})) == cg::storage::event_position{-5, 1});
  for (const auto bad : {"", "!!!", "MTIz", "bm9wZQ", "MS4w", "MS4tMQ", "MTIzLjQ1Ng=", "YWJj"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_cursor(bad).has_value());
  }
}

TEST_CASE("/data: dates, inclusive end dates, timestamps and the limit") {
  const auto d = decode_data("start=2025-01-01&end=2025-01-01");
  CHECK(d.filter.start_us == jan_1_2025);
  CHECK(d.filter.end_us == jan_1_2025 + 24 * us_per_hour);  // a bare end date includes that whole day
  CHECK(d.limit == data_default_limit);

  const auto t = decode_data("start=2025-01-01T01:00:00%2B01:00&end=2025-01-01T05:00:00Z");
  CHECK(t.filter.start_us == jan_1_2025);
  CHECK(t.filter.end_us == jan_1_2025 + 5 * us_per_hour + 1);  // an end instant is included

  // tz says where a bare date's days begin.
  const auto berlin = decode_data("start=2025-01-01&end=2025-01-01&tz=Europe/Berlin");
  CHECK(berlin.filter.start_us == jan_1_2025 - us_per_hour);
  CHECK(berlin.filter.end_us == jan_1_2025 + 23 * us_per_hour);

  CHECK(decode_data("limit=7").limit == 7);
  CHECK(decode_data("limit=5000").limit == 5000);
  CHECK(decode_data("limit=999999").limit == data_max_limit);  // lowered, not refused
  CHECK(decode_data("model=&user=").filter.model == std::nullopt);  // an empty value is no filter
  CHECK(decode_data("_=1712345678").limit == data_default_limit);   // cache-busters are ignored

  const auto f = decode_data("model=m&provider=p&project=j&user=u&feature=f&environment=e&session_type=s&session_id=i&"
                      "ingest_token_id=12");
  CHECK(f.filter.model == "m");
  CHECK(f.filter.provider == "p");
  CHECK(f.filter.project == "j");
  CHECK(f.filter.user == "u");
  CHECK(f.filter.feature == "f");
  CHECK(f.filter.environment == "e");
  CHECK(f.filter.session_type == "s");
  CHECK(f.filter.session_id == "i");
  CHECK(f.filter.token_id == 12);

  const auto c = decode_data("cursor=" + encode_cursor({5, 6}));
  CHECK(c.after == cg::storage::event_position{5, 6});
}

TEST_CASE("/data: every bad parameter is a 400 naming it") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"start=yesterday", "start"},
      {"start=2025-13-01", "start"},
      {"start=2025-02-30", "start"},
      {"end=2025-01-01T10:00:00", "end"},  // a time without a zone
      {"start=2025-01-02&end=2025-01-01", "start"},
      {"start=2025-01-01T10:00:00Z&end=2025-01-01T09:59:59Z", "start"},
      {"ingest_token_id=abc", "ingest_token_id"},
      {"ingest_token_id=0", "ingest_token_id"},
      {"ingest_token_id=-3", "ingest_token_id"},
      {"ingest_token_id=1.5", "ingest_token_id"},
      {"ingest_token_id=99999999999999999999", "ingest_token_id"},
      {"limit=0", "limit"},
      {"limit=-1", "limit"},
      {"limit=ten", "limit"},
      {"cursor=garbage!", "cursor"},
      {"tz=Mars/Olympus", "tz"},
      {"tz=../../etc/passwd", "tz"},
      {"modle=gpt-4o", "modle"},
      {"group_by=model", "group_by"},
      {"model=" + std::string(257, 'm'), "model"},
  };
  for (const auto& [query, field] : cases) {
    CAPTURE(query);
    CHECK(error_field(decode_data_query(params(query))) == field);
  }
}

TEST_CASE("/costs: group_by lists, filters, and the convenience routes' mappings") {
  const auto r = costs("group_by=day,model&tz=Europe/Berlin&start=2025-03-30&end=2025-03-30");
  CHECK(r.group_by == std::vector{report_dimension::day, report_dimension::model});
  CHECK(r.zone.name() == "Europe/Berlin");
  CHECK(*r.filter.end_us - *r.filter.start_us == 23 * us_per_hour);
  CHECK(costs("group_by=week, month ,token").group_by ==
        std::vector{report_dimension::week, report_dimension::month, report_dimension::token});
  CHECK(costs("").group_by.empty());

  const auto daily = costs("date=2025-03-30&tz=Europe/Berlin", cost_route::daily);
  CHECK(daily.group_by == std::vector{report_dimension::model});
  CHECK(*daily.filter.end_us - *daily.filter.start_us == 23 * us_per_hour);
  const auto today = costs("", cost_route::daily);  // the clock says 2025-01-01 05:00 UTC
  CHECK(today.filter.start_us == jan_1_2025);
  CHECK(costs("start=2025-01-01&end=2025-01-31", cost_route::range).group_by == std::vector{report_dimension::day});
  CHECK(costs("", cost_route::weekly).group_by == std::vector{report_dimension::week});
  CHECK(costs("", cost_route::monthly).group_by == std::vector{report_dimension::month});
  CHECK(costs("", cost_route::by_model).group_by == std::vector{report_dimension::model});
  CHECK(costs("", cost_route::by_project).group_by == std::vector{report_dimension::project});
  CHECK(costs("", cost_route::by_session_type).group_by == std::vector{report_dimension::session_type});

  const auto field = [](std::string_view q, cost_route route = cost_route::costs) {
    return error_field(decode_cost_query(params(q), route, jan_1_2025));
  };
  CHECK(field("group_by=hour") == "group_by");
  CHECK(field("group_by=day,,model") == "group_by");
  CHECK(field("group_by=day,day") == "group_by");
  CHECK(field("tz=Nowhere/City") == "tz");
  CHECK(field("limit=5") == "limit");
  CHECK(field("group_by=model", cost_route::by_model) == "group_by");  // fixed by the route
  CHECK(field("date=2025-02-30", cost_route::daily) == "date");
  CHECK(field("start=2025-01-01", cost_route::daily) == "start");  // daily takes a date, not a range
  CHECK(field("end=2025-01-31", cost_route::range) == "start");
  CHECK(field("start=2025-01-01", cost_route::range) == "end");
}

TEST_CASE("/export.csv: filters, group_by and the file name") {
  auto decode = [](std::string_view q) {
    auto result = decode_export_query(params(q));
    INFO(error_field(result));
    REQUIRE(std::holds_alternative<export_query>(result));
    return std::get<export_query>(result);
  };
  CHECK(decode("start=2025-03-01&end=2025-03-31").filename == "cost-guardian-2025-03-01-2025-03-31.csv");
  CHECK(decode("start=2025-03-01T10:00:00Z").filename == "cost-guardian-2025-03-01-now.csv");
  CHECK(decode("").filename == "cost-guardian-all-now.csv");
  CHECK(decode("end=2025-03-31T23:00:00Z&tz=Europe/Berlin").filename == "cost-guardian-all-2025-04-01.csv");
  CHECK_FALSE(decode("model=m").report.has_value());
  const auto grouped = decode("group_by=day,model&model=m");
  REQUIRE(grouped.report.has_value());
  CHECK(grouped.report->filter.model == "m");
  CHECK(error_field(decode_export_query(params("group_by=nope"))) == "group_by");
  CHECK(error_field(decode_export_query(params("limit=10"))) == "limit");
  CHECK_FALSE(reject_any_params(params("_=1")).has_value());
  CHECK(reject_any_params(params("model=x"))->field == "model");
}

}  // TEST_SUITE
