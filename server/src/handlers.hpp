#pragma once
// The HTTP handlers: decode, call a module, encode. Business rules live in the modules, not here.

#include "metrics.hpp"
#include "rate_limit.hpp"
#include "read_pool.hpp"
#include "router.hpp"

#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/token_registry.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/server/config.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>

namespace cg::server {

/// What the handlers work with. Owned by the application; outlives every request.
struct services {
  const config& cfg;
  ingest::token_registry& tokens;
  ingest::group_commit_writer& writer;
  read_pool& reads;
  std::atomic<std::shared_ptr<const pricing::price_table>>& prices;
  boost::asio::io_context& ioc;
  std::chrono::system_clock::time_point started_at;
  rate_limits& limits;         ///< ingestion handlers call admit_ingest() (pipeline.hpp) with it
  metrics_registry& metrics;   ///< ingestion outcomes (counting_ingest_outcome) and GET /metrics
};

void register_routes(router& routes, services& s);

}  // namespace cg::server
