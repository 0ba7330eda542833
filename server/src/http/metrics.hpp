#pragma once
// The metrics registry: atomic counters and fixed-bucket histograms written on the hot path without a lock, and a
// writer for the Prometheus text exposition format (0.0.4). No Beast here.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cg::server {

/// A histogram over fixed upper bounds, in an integer base unit (nanoseconds, rows), exported with a divisor
/// (1e9 for seconds). Thread-safety: observe() from any thread (relaxed atomics, no lock); read() may run
/// concurrently and sees each bucket at some moment, so its total is the sum of the buckets it read.
class fixed_histogram {
 public:
  static constexpr std::size_t max_bounds = 20;

  explicit fixed_histogram(std::span<const std::uint64_t> upper_bounds) noexcept;
  void observe(std::uint64_t value) noexcept;

  struct snapshot {
    std::vector<std::uint64_t> upper_bounds;
    std::vector<std::uint64_t> cumulative;  ///< one per bound, then +Inf (== count)
    std::uint64_t count = 0;
    std::uint64_t sum = 0;  ///< in the base unit
  };
  snapshot read() const;

 private:
  std::span<const std::uint64_t> bounds_;
  std::array<std::atomic<std::uint64_t>, max_bounds + 1> counts_{};
  std::atomic<std::uint64_t> sum_{0};
};

/// Builds a Prometheus text exposition (format 0.0.4): each family once, its HELP and TYPE lines, then its samples.
/// Label values are escaped (backslash, double quote, newline). Not thread-safe: one per scrape.
class prometheus_text {
 public:
  using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  /// Starts a family. type: counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, labels l, double value);
  void sample(std::string_view name, labels l, std::uint64_t value);
  /// The `_bucket` (with `le`), `_sum` and `_count` samples of one histogram series; values are divided by
  /// `divisor` (1e9: nanoseconds to seconds). Dividing, not multiplying by 1e-9, keeps 0.0005 from printing as
  /// 0.0005000000000000001.
  void histogram(std::string_view name, labels l, const fixed_histogram::snapshot& h, double divisor);

  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view name, labels l, std::string_view extra_name = {}, std::string_view extra_value = {});
  std::string out_;
};

/// Formats a double the way Prometheus reads it: shortest round-trip form, `+Inf`, `-Inf`, `NaN`.
std::string prometheus_number(double value);

/// Everything the server counts by itself. Written on IO threads and the writer thread; read by GET /metrics.
/// Thread-safety: set_routes() once at start-up, before the first request; everything else from any thread, lock-free.
class metrics_registry {
 public:
  /// One row of the per-route tables: the route's method and pattern (a bounded label set, unlike raw paths).
  struct route_label {
    std::string method;
    std::string route;
  };

  enum class ingest_result { created, duplicate, refused };
  /// Why the listener turned a connection away: MAX_CONNECTIONS (closed at once) or MAX_CONNECTIONS_PER_CLIENT (503).
  enum class connection_refusal { max_connections, per_client };

  metrics_registry();

  /// Sizes the per-route tables for the router's routes (in table order), plus three slots of its own: CORS
  /// preflights, requests that matched no route (404/405), and requests the connection layer refused before they
  /// reached the pipeline (413 body too large, 431 headers too large, 400 malformed HTTP or framing).
  void set_routes(std::vector<route_label> routes);
  std::size_t preflight_slot() const noexcept { return routes_.size(); }
  std::size_t unmatched_slot() const noexcept { return routes_.size() + 1; }
  std::size_t refused_slot() const noexcept { return routes_.size() + 2; }

  /// One answered request: its route slot, status and time from request read to response handed to the session.
  void record_request(std::size_t slot, unsigned status, std::chrono::nanoseconds latency) noexcept;
  /// One ingested event's result; `status` is the HTTP status it was answered with (per event for batches).
  void record_ingest(ingest_result result, unsigned status) noexcept;
  /// One group-commit batch (the writer's observer): rows and time from BEGIN to COMMIT returning (or failing).
  void record_batch(std::size_t rows, std::chrono::nanoseconds commit_time) noexcept;
  /// One failed accept (EMFILE: descriptors exhausted, ENOBUFS, ...); the listener then waits before the next one.
  void record_accept_error() noexcept { accept_errors_.fetch_add(1, std::memory_order_relaxed); }
  /// One accepted connection turned away.
  void record_connection_refused(connection_refusal why) noexcept {
    connections_refused_[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
  }

  std::uint64_t ingest_created() const noexcept { return ingest_created_.load(std::memory_order_relaxed); }
  std::uint64_t ingest_duplicate() const noexcept { return ingest_duplicate_.load(std::memory_order_relaxed); }
  std::uint64_t accept_errors() const noexcept { return accept_errors_.load(std::memory_order_relaxed); }
  std::uint64_t connections_refused(connection_refusal why) const noexcept {
    return connections_refused_[static_cast<std::size_t>(why)].load(std::memory_order_relaxed);
  }
  /// Events refused with this status (401 bad key, 429 rate limited, 400/403/404/413/415 invalid, 503 unavailable).
  std::uint64_t ingest_refused(unsigned status) const noexcept;
  /// Every status with a non-zero refused count, ascending.
  std::vector<std::pair<unsigned, std::uint64_t>> ingest_refused_by_status() const;
  /// Requests refused by the connection layer (refused_slot), by status, ascending; statuses never seen are left out.
  std::vector<std::pair<unsigned, std::uint64_t>> connection_refused_by_status() const;

  /// Adds the request, ingest, connection and writer-batch families to `out`.
  void render(prometheus_text& out) const;

 private:
  static constexpr unsigned first_status = 100;
  static constexpr unsigned status_count = 500;  // 100..599
  static constexpr std::size_t own_slots = 3;     // preflight, unmatched, refused

  struct route_stats {
    std::array<std::atomic<std::uint64_t>, status_count> by_status{};
    fixed_histogram latency;
    route_stats();
  };

  static std::size_t status_index(unsigned status) noexcept;

  std::vector<route_label> routes_;
  std::unique_ptr<route_stats[]> route_stats_;
  std::atomic<std::uint64_t> ingest_created_{0};
  std::atomic<std::uint64_t> ingest_duplicate_{0};
  std::array<std::atomic<std::uint64_t>, status_count> ingest_refused_{};
  fixed_histogram batch_rows_;
  fixed_histogram commit_time_;
  std::atomic<std::uint64_t> accept_errors_{0};
  std::array<std::atomic<std::uint64_t>, 2> connections_refused_{};
};

}  // namespace cg::server
