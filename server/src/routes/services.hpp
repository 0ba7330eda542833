#pragma once
// What the routes work with: the application's long-lived parts, handed to every handler by reference.

#include "app/read_pool.hpp"
#include "http/metrics.hpp"
#include "http/rate_limit.hpp"

#include "cg/ingest/admission.hpp"
#include "cg/ingest/group_commit_writer.hpp"
#include "cg/ingest/token_registry.hpp"
#include "cg/pricing/price_table.hpp"
#include "cg/server/config.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace cg::server {

/// What the handlers work with. Owned by the application; outlives every request.
struct services {
  const config& cfg;
  ingest::token_registry& tokens;
  ingest::group_commit_writer& writer;  ///< admin writes (tokens) and the health probe; events go through admission
  ingest::admission_service& admission;  ///< every event, whichever route it came in by
  read_pool& reads;
  std::atomic<std::shared_ptr<const pricing::price_table>>& prices;
  boost::asio::io_context& ioc;
  std::chrono::system_clock::time_point started_at;
  rate_limits& limits;         ///< ingestion handlers hand admission a request_quota (pipeline.hpp) over it
  metrics_registry& metrics;   ///< ingestion outcomes (counting_ingest_outcome) and GET /metrics
};

}  // namespace cg::server
