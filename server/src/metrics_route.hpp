#pragma once
// GET /metrics (admin): the old app's JSON, or Prometheus text exposition 0.0.4 for `?format=prometheus` or a
// client that accepts text/plain (Prometheus itself does).

#include "handlers.hpp"
#include "router.hpp"

namespace cg::server {

void register_metrics_route(router& routes, services& s);

}  // namespace cg::server
