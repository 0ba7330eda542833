// The event's CSV row, /data item and OpenAPI schemas are derived from storage's column list: each names exactly
// the exported columns, in the list's order, and the old app's keys stay next to them.
#include "routes/csv_export.hpp"
#include "routes/event_json.hpp"
#include "routes/openapi.hpp"

#include "cg/storage/event_columns.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <set>
#include <string>

using namespace cg::server;
namespace json = boost::json;

TEST_SUITE("server.event_json") {

TEST_CASE("the CSV header is the exported columns' headers, in list order, and keeps the 0.4 columns first") {
  std::string expected;
  for (const auto& column : cg::storage::event_columns()) {
    if (!column.exported()) continue;
    expected += expected.empty() ? "" : ",";
    expected += column.csv_header;
  }
  CHECK(event_csv_header() == expected + "\r\n");
  // Spreadsheets read these by position: they never move, new columns come after them.
  CHECK(std::string(event_csv_header())
            .starts_with("id,timestamp,received_at,event_id,ingest_token_id,token_label,provider,model,input_tokens,"
                         "output_tokens,total_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_usd,"
                         "cost_source,price_ref,source,project,user,feature,environment,session_type,session_id,meta"));
}

TEST_CASE("a /data item has every exported column's key and the old app's keys, with their values") {
  cg::storage::stored_event e;
  e.id = 4;
  e.model = "gpt-4o";
  e.tokens = {.input = 100, .output = 20, .total = 120, .cache_read = 30};
  e.cost_nusd = 1'500;
  e.meta = R"({"k":[1]})";
  const json::object o = event_json(e);
  std::set<std::string> expected;
  for (const auto& column : cg::storage::event_columns()) {
    if (!column.exported()) continue;
    expected.insert(std::string(column.json_key));
    if (!column.seed_json_key.empty()) expected.insert(std::string(column.seed_json_key));
  }
  std::set<std::string> keys;
  for (const auto& member : o) keys.insert(std::string(member.key()));
  CHECK(keys == expected);
  CHECK(o.at("promptTokens") == 100);
  CHECK(o.at("input_tokens") == 100);
  CHECK(o.at("cache_read_tokens") == 30);
  CHECK(o.at("cost_usd_exact") == "0.000001500");
  CHECK(o.at("estimatedCostUSD").is_double());
  CHECK(o.at("meta") == json::parse(R"({"k":[1]})"));
  CHECK(o.at("user").is_null());
  // The old app's fields lead, as they always did.
  CHECK(o.begin()->key() == "id");
  CHECK(std::next(o.begin())->key() == "timestamp");
}

TEST_CASE("StoredEvent has one required property per /data key; UsageEvent every client-settable column") {
  router routes;
  const auto doc = build_openapi(routes, {});
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& stored = schemas.at("StoredEvent").as_object();
  const auto& properties = stored.at("properties").as_object();
  std::set<std::string> keys;
  for (const auto& member : event_json(cg::storage::stored_event{})) keys.insert(std::string(member.key()));
  std::set<std::string> described;
  for (const auto& member : properties) described.insert(std::string(member.key()));
  CHECK(described == keys);
  CHECK(stored.at("required").as_array().size() == keys.size());
  CHECK(properties.at("ingest_token_id").at("type") == json::array{"integer", "null"});
  CHECK(properties.at("timestamp").at("format") == "date-time");

  const auto& request = schemas.at("UsageEvent").at("properties").as_object();
  for (const auto& column : cg::storage::event_columns())
    if (!column.request_key.empty()) CHECK(request.contains(column.request_key));
  CHECK(request.contains("tracking_token"));
  CHECK(request.contains("usage"));
  CHECK(schemas.at("DataPage").at("properties").at("data").at("items").at("$ref") ==
        "#/components/schemas/StoredEvent");
}

}  // TEST_SUITE
