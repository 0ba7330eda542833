#include "http/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cg::server {

namespace {

// Upper bounds, in the base unit of each histogram. Request latency: 100 µs to 10 s, in nanoseconds.
constexpr std::array<std::uint64_t, 16> latency_bounds_ns = {
    100'000,     250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
    10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
// Commit latency (BEGIN to COMMIT returned, fsync included): 250 µs to 5 s.
constexpr std::array<std::uint64_t, 14> commit_bounds_ns = {
    250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,     10'000'000,    25'000'000,
    50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000};
// Rows per batch: 1 to WRITER_MAX_BATCH's largest sensible values.
constexpr std::array<std::uint64_t, 13> batch_bounds_rows = {1,   2,    5,    10,   20,   50,   100,
                                                             200, 500, 1000, 2000, 5000, 10000};

constexpr double ns_per_second = 1e9;

void append_escaped(std::string& out, std::string_view value, bool quote_too) {
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quote_too)
      out += "\\\"";
    else
      out += c;
  }
}

}  // namespace

// ---- fixed_histogram ----------------------------------------------------------------------------------------

fixed_histogram::fixed_histogram(std::span<const std::uint64_t> upper_bounds) noexcept
    : bounds_(upper_bounds.first(std::min(upper_bounds.size(), max_bounds))) {}

void fixed_histogram::observe(std::uint64_t value) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;  // le: a value equal to a bound belongs to it
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

fixed_histogram::snapshot fixed_histogram::read() const {
  snapshot s;
  s.upper_bounds.assign(bounds_.begin(), bounds_.end());
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;  // the +Inf bucket, by construction: the exposition's _count always equals it
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- prometheus_text ----------------------------------------------------------------------------------------

std::string prometheus_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void prometheus_text::series(std::string_view name, labels l, std::string_view extra_name,
                             std::string_view extra_value) {
  out_ += name;
  if (l.size() == 0 && extra_name.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto label = [&](std::string_view key, std::string_view value) {
    if (!first) out_ += ',';
    first = false;
    out_ += key;
    out_ += "=\"";
    append_escaped(out_, value, true);
    out_ += '"';
  };
  for (const auto& [key, value] : l) label(key, value);
  if (!extra_name.empty()) label(extra_name, extra_value);
  out_ += "} ";
}

void prometheus_text::sample(std::string_view name, labels l, double value) {
  series(name, l);
  out_ += prometheus_number(value);
  out_ += '\n';
}

void prometheus_text::sample(std::string_view name, labels l, std::uint64_t value) {
  series(name, l);
  out_ += fmt::format("{}\n", value);
}

void prometheus_text::histogram(std::string_view name, labels l, const fixed_histogram::snapshot& h, double divisor) {
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < h.upper_bounds.size(); ++i) {
    series(bucket, l, "le", prometheus_number(static_cast<double>(h.upper_bounds[i]) / divisor));
    out_ += fmt::format("{}\n", h.cumulative[i]);
  }
  series(bucket, l, "le", "+Inf");
  out_ += fmt::format("{}\n", h.count);
  series(std::string(name) + "_sum", l);
  out_ += prometheus_number(static_cast<double>(h.sum) / divisor);
  out_ += '\n';
  series(std::string(name) + "_count", l);
  out_ += fmt::format("{}\n", h.count);
}

// ---- metrics_registry ---------------------------------------------------------------------------------------

metrics_registry::route_stats::route_stats() : latency(latency_bounds_ns) {}

metrics_registry::metrics_registry()
    : route_stats_(std::make_unique<route_stats[]>(own_slots)),
      batch_rows_(batch_bounds_rows),
      commit_time_(commit_bounds_ns) {}

void metrics_registry::set_routes(std::vector<route_label> routes) {
  routes_ = std::move(routes);
  route_stats_ = std::make_unique<route_stats[]>(routes_.size() + own_slots);
}

std::size_t metrics_registry::status_index(unsigned status) noexcept {
  if (status < first_status || status >= first_status + status_count) return 500 - first_status;  // as a 500
  return status - first_status;
}

void metrics_registry::record_request(std::size_t slot, unsigned status, std::chrono::nanoseconds latency) noexcept {
  if (slot > refused_slot()) slot = unmatched_slot();
  auto& stats = route_stats_[slot];
  stats.by_status[status_index(status)].fetch_add(1, std::memory_order_relaxed);
  stats.latency.observe(static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0)));
}

void metrics_registry::record_ingest(ingest_result result, unsigned status) noexcept {
  switch (result) {
    case ingest_result::created:
      ingest_created_.fetch_add(1, std::memory_order_relaxed);
      return;
    case ingest_result::duplicate:
      ingest_duplicate_.fetch_add(1, std::memory_order_relaxed);
      return;
    case ingest_result::refused:
      ingest_refused_[status_index(status)].fetch_add(1, std::memory_order_relaxed);
      return;
  }
}

void metrics_registry::record_batch(std::size_t rows, std::chrono::nanoseconds commit_time) noexcept {
  batch_rows_.observe(rows);
  commit_time_.observe(static_cast<std::uint64_t>(std::max<std::int64_t>(commit_time.count(), 0)));
}

std::uint64_t metrics_registry::ingest_refused(unsigned status) const noexcept {
  return ingest_refused_[status_index(status)].load(std::memory_order_relaxed);
}

std::vector<std::pair<unsigned, std::uint64_t>> metrics_registry::ingest_refused_by_status() const {
  std::vector<std::pair<unsigned, std::uint64_t>> out;
  for (unsigned i = 0; i < status_count; ++i)
    if (const auto n = ingest_refused_[i].load(std::memory_order_relaxed)) out.emplace_back(first_status + i, n);
  return out;
}

std::vector<std::pair<unsigned, std::uint64_t>> metrics_registry::connection_refused_by_status() const {
  std::vector<std::pair<unsigned, std::uint64_t>> out;
  const auto& stats = route_stats_[refused_slot()];
  for (unsigned i = 0; i < status_count; ++i)
    if (const auto n = stats.by_status[i].load(std::memory_order_relaxed)) out.emplace_back(first_status + i, n);
  return out;
}

void metrics_registry::render(prometheus_text& out) const {
  auto label_of = [&](std::size_t slot) -> std::pair<std::string_view, std::string_view> {
    if (slot < routes_.size()) return {routes_[slot].method, routes_[slot].route};
    if (slot == preflight_slot()) return {"OPTIONS", "(cors-preflight)"};
    if (slot == refused_slot()) return {"(any)", "(refused)"};
    return {"(any)", "(unmatched)"};
  };
  const std::size_t slots = routes_.size() + own_slots;

  out.family("cost_guardian_http_requests_total", "counter",
             "HTTP requests answered, by route pattern (not raw path) and status");
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const auto [method, route] = label_of(slot);
    for (unsigned i = 0; i < status_count; ++i) {
      const auto n = route_stats_[slot].by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const auto status = std::to_string(first_status + i);
      out.sample("cost_guardian_http_requests_total", {{"method", method}, {"route", route}, {"status", status}}, n);
    }
  }

  out.family("cost_guardian_http_request_duration_seconds", "histogram",
             "Time from a request read whole to its response handed to the connection, by route pattern");
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const auto h = route_stats_[slot].latency.read();
    if (h.count == 0) continue;
    const auto [method, route] = label_of(slot);
    out.histogram("cost_guardian_http_request_duration_seconds", {{"method", method}, {"route", route}}, h,
                  ns_per_second);
  }

  out.family("cost_guardian_ingest_events_total", "counter",
             "Ingested events by result: created (stored), duplicate (already stored), refused (see by status)");
  out.sample("cost_guardian_ingest_events_total", {{"result", "created"}}, ingest_created());
  out.sample("cost_guardian_ingest_events_total", {{"result", "duplicate"}}, ingest_duplicate());
  std::uint64_t refused = 0;
  const auto by_status = ingest_refused_by_status();
  for (const auto& [status, n] : by_status) refused += n;
  out.sample("cost_guardian_ingest_events_total", {{"result", "refused"}}, refused);

  out.family("cost_guardian_ingest_refused_total", "counter",
             "Ingested events refused, by status: 401 bad key, 429 rate limited, 4xx invalid, 503 unavailable");
  for (const auto& [status, n] : by_status)
    out.sample("cost_guardian_ingest_refused_total", {{"status", std::to_string(status)}}, n);

  out.family("cost_guardian_accept_errors_total", "counter",
             "Failed accepts (descriptors exhausted and the like); each one makes the listener wait 50 ms, doubling "
             "to 1 s, before accepting again");
  out.sample("cost_guardian_accept_errors_total", {}, accept_errors());
  out.family("cost_guardian_connections_refused_total", "counter",
             "Connections turned away on accept: max_connections (closed at once), per_client (503)");
  out.sample("cost_guardian_connections_refused_total", {{"reason", "max_connections"}},
             connections_refused(connection_refusal::max_connections));
  out.sample("cost_guardian_connections_refused_total", {{"reason", "per_client"}},
             connections_refused(connection_refusal::per_client));

  out.family("cost_guardian_writer_batch_rows", "histogram", "Rows per group-commit transaction");
  out.histogram("cost_guardian_writer_batch_rows", {}, batch_rows_.read(), 1.0);
  out.family("cost_guardian_writer_commit_duration_seconds", "histogram",
             "Time from BEGIN to COMMIT returning (fsync included) per group-commit transaction");
  out.histogram("cost_guardian_writer_commit_duration_seconds", {}, commit_time_.read(), ns_per_second);
}

}  // namespace cg::server
