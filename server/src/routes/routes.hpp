#pragma once
// Every route group the server answers. Each group's file holds its thin handlers (decode -> call a module ->
// encode) and, next to each registration, the route's documentation (route_doc) that GET /openapi.json reads.

#include "http/router.hpp"
#include "routes/services.hpp"

namespace cg::server {

/// Registers the groups below, in this order (the order GET /openapi.json lists them in).
void register_routes(router& routes, services& s);

void register_health_routes(router& routes, services& s);       ///< GET /ping, GET /health (health_routes.cpp)
void register_ingest_routes(router& routes, services& s);       ///< POST /ingest (ingest_routes.cpp)
void register_ingest_batch_route(router& routes, services& s);  ///< POST /ingest/batch (ingest_batch.cpp)
void register_legacy_log_route(router& routes, services& s);    ///< POST /log, deprecated (ingest_routes.cpp)
void register_token_routes(router& routes, services& s);        ///< /ingest/tokens (token_routes.cpp)
void register_admin_routes(router& routes, services& s);        ///< /data, /costs, /export.csv (admin_handlers.cpp)
void register_metrics_route(router& routes, services& s);       ///< GET /metrics (metrics_route.cpp)

}  // namespace cg::server
