// register_routes of routes/routes.hpp: the groups in the order GET /openapi.json lists them.

#include "routes/routes.hpp"

namespace cg::server {

void register_routes(router& routes, services& s) {
  register_health_routes(routes, s);
  register_ingest_routes(routes, s);
  register_ingest_batch_route(routes, s);
  register_legacy_log_route(routes, s);
  register_token_routes(routes, s);
  register_admin_routes(routes, s);
}

}  // namespace cg::server
