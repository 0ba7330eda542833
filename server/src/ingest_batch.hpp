#pragma once
// POST /ingest/batch: many usage events in one request, each judged as POST /ingest would judge it alone.

#include "handlers.hpp"

namespace cg::server {

/// Adds POST /ingest/batch (and its documentation) to `routes`.
void register_ingest_batch_route(router& routes, services& s);

}  // namespace cg::server
