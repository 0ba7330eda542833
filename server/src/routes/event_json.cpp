#include "routes/event_json.hpp"

#include "cg/ingest/validation.hpp"
#include "cg/pricing/money.hpp"
#include "cg/storage/event_columns.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <optional>
#include <string>
#include <type_traits>
#include <variant>

namespace cg::server {

namespace json = boost::json;

namespace {

using storage::column_type;

json::value value_json(column_type type, std::int64_t value) {
  switch (type) {
    case column_type::timestamp: return json::value(ingest::format_timestamp(value));
    case column_type::money: return json::value(pricing::format_usd(value));
    case column_type::integer:
    case column_type::text:
    case column_type::json_text: break;
  }
  return json::value(value);
}

// `meta` is stored as compact JSON text; shown as JSON. Text that does not parse (an imported v0.3 oddity) is shown
// as the string it is rather than dropped.
json::value value_json(column_type type, const std::string& text) {
  if (type != column_type::json_text) return json::value(text);
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec) return json::value(text);
  return parsed;
}

template <typename T>
json::value value_json(column_type type, const std::optional<T>& value) {
  if (!value) return nullptr;
  return value_json(type, *value);
}

json::value column_json(const storage::event_column& column, const storage::stored_event& e) {
  return std::visit([&](const auto* member) { return value_json(column.type, *member); },
                    storage::field_of(column, e));
}

// The old app's keys hold the same values, except its cost, which it gave as a floating-point number of USD.
json::value seed_json(const storage::event_column& column, const storage::stored_event& e) {
  if (column.type != column_type::money) return column_json(column, e);
  const auto* nano = std::get<const std::int64_t*>(storage::field_of(column, e));
  return json::value(pricing::to_double_usd(*nano));
}

json::object type_schema(const storage::event_column& column) {
  json::object schema;
  const auto type_of = [&](std::string_view type) -> json::value {
    if (!column.nullable) return json::value(type);
    return json::array{json::value(type), json::value("null")};
  };
  switch (column.type) {
    case column_type::integer: schema["type"] = type_of("integer"); break;
    case column_type::text: schema["type"] = type_of("string"); break;
    case column_type::json_text: break;  // any JSON value
    case column_type::timestamp:
      schema["type"] = type_of("string");
      schema["format"] = "date-time";
      break;
    case column_type::money:
      schema["type"] = type_of("string");
      schema["pattern"] = "^[0-9]+\\.[0-9]{9}$";
      break;
  }
  schema["description"] = column.description;
  return schema;
}

json::object seed_schema(const storage::event_column& column) {
  if (column.type == column_type::money) {
    return {{"type", "number"},
            {"description", fmt::format("{} as a floating-point number of USD (the old app's field); {} is exact.",
                                        column.json_key, column.json_key)}};
  }
  json::object schema = type_schema(column);
  schema["description"] = fmt::format("The same as {} (the old app's name for it).", column.json_key);
  return schema;
}

}  // namespace

json::object event_json(const storage::stored_event& e) {
  json::object o;
  for (const auto& column : storage::event_columns())
    if (column.exported() && !column.seed_json_key.empty()) o[column.seed_json_key] = seed_json(column, e);
  // A key the old app shared with the list (id, timestamp, model) keeps its place and value.
  for (const auto& column : storage::event_columns())
    if (column.exported()) o[column.json_key] = column_json(column, e);
  return o;
}

json::object stored_event_schema() {
  json::object properties;
  json::array required;
  for (const auto& column : storage::event_columns()) {
    if (!column.exported()) continue;
    if (!column.seed_json_key.empty() && column.seed_json_key != column.json_key) {
      properties[column.seed_json_key] = seed_schema(column);
      required.emplace_back(column.seed_json_key);
    }
    properties[column.json_key] = type_schema(column);
    required.emplace_back(column.json_key);
  }
  return {{"type", "object"},
          {"description", "One stored usage event, as GET /data lists it."},
          {"required", std::move(required)},
          {"properties", std::move(properties)}};
}

json::object settable_event_properties() {
  json::object properties;
  for (const auto& column : storage::event_columns()) {
    if (column.request_key.empty()) continue;
    json::value schema = json::parse(column.request_schema);
    auto& object = schema.as_object();
    if (!object.contains("description")) object["description"] = column.description;
    properties[column.request_key] = std::move(schema);
  }
  return properties;
}

}  // namespace cg::server
