#pragma once
// A usage event in JSON, derived from storage's event_columns(): the /data item and the OpenAPI schemas that
// describe it (StoredEvent) and the request body that sets it (UsageEvent's client-settable fields).

#include "cg/storage/event_row.hpp"

#include <boost/json/object.hpp>

namespace cg::server {

/// One /data item: the old app's keys first (`promptTokens`, `estimatedCostUSD`, ...), then every exported column
/// under its own key.
boost::json::object event_json(const storage::stored_event& e);

/// The JSON Schema of event_json()'s objects: one property per key it writes.
boost::json::object stored_event_schema();

/// The UsageEvent properties of the columns a client sets, each under its request key.
boost::json::object settable_event_properties();

}  // namespace cg::server
