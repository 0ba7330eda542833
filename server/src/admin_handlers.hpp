#pragma once
// The admin read side: /data, /models, /costs and its convenience routes, /export.csv, and DELETE /reset.

#include "handlers.hpp"
#include "router.hpp"

namespace cg::server {

/// Adds the admin read routes (all behind the admin key) to `routes`.
void register_admin_routes(router& routes, services& s);

}  // namespace cg::server
