#include "http/metrics.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <sstream>
#include <thread>
#include <vector>

using namespace cg::server;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

}  // namespace

TEST_SUITE("server.metrics") {
  TEST_CASE("histogram buckets are cumulative, le-inclusive, and +Inf equals the count") {
    static constexpr std::uint64_t bounds[] = {10, 100, 1000};
    fixed_histogram h(bounds);
    for (const std::uint64_t v : {1, 10, 11, 100, 5000}) h.observe(v);
    const auto snap = h.read();
    CHECK(snap.cumulative == std::vector<std::uint64_t>{2, 4, 4, 5});
    CHECK(snap.count == 5);
    CHECK(snap.sum == 5122);

    prometheus_text out;
    out.family("x_seconds", "histogram", "a test");
    out.histogram("x_seconds", {{"route", "/a"}}, snap, 1000.0);
    const auto text = out.take();
    CHECK(has_line(text, "# HELP x_seconds a test"));
    CHECK(has_line(text, "# TYPE x_seconds histogram"));
    CHECK(has_line(text, R"x(x_seconds_bucket{route="/a",le="0.01"} 2)x"));
    CHECK(has_line(text, R"x(x_seconds_bucket{route="/a",le="0.1"} 4)x"));
    CHECK(has_line(text, R"x(x_seconds_bucket{route="/a",le="1"} 4)x"));
    CHECK(has_line(text, R"x(x_seconds_bucket{route="/a",le="+Inf"} 5)x"));
    CHECK(has_line(text, R"x(x_seconds_sum{route="/a"} 5.122)x"));
    CHECK(has_line(text, R"x(x_seconds_count{route="/a"} 5)x"));
  }

  TEST_CASE("label values and help text are escaped") {
    prometheus_text out;
    out.family("x", "gauge", "back\\slash\nnewline");
    out.sample("x", {{"v", "a\"b\\c\nd"}}, std::uint64_t{1});
    out.sample("x", {}, 0.5);
    const auto text = out.take();
    CHECK(has_line(text, R"x(# HELP x back\\slash\nnewline)x"));
    CHECK(has_line(text, R"x(x{v="a\"b\\c\nd"} 1)x"));
    CHECK(has_line(text, "x 0.5"));
    CHECK(prometheus_number(std::numeric_limits<double>::infinity()) == "+Inf");
  }

  TEST_CASE("requests are counted by route slot and status, ingest outcomes by result") {
    metrics_registry m;
    m.set_routes({{"GET", "/ping"}, {"POST", "/ingest"}});
    m.record_request(0, 200, std::chrono::microseconds(300));
    m.record_request(1, 201, std::chrono::milliseconds(2));
    m.record_request(1, 201, std::chrono::milliseconds(3));
    m.record_request(m.unmatched_slot(), 404, std::chrono::microseconds(50));
    m.record_request(m.preflight_slot(), 204, std::chrono::microseconds(50));
    m.record_ingest(metrics_registry::ingest_result::created, 201);
    m.record_ingest(metrics_registry::ingest_result::duplicate, 200);
    m.record_ingest(metrics_registry::ingest_result::refused, 401);
    m.record_ingest(metrics_registry::ingest_result::refused, 429);
    m.record_ingest(metrics_registry::ingest_result::refused, 429);
    m.record_batch(23, std::chrono::milliseconds(4));
    CHECK(m.ingest_created() == 1);
    CHECK(m.ingest_duplicate() == 1);
    CHECK(m.ingest_refused(401) == 1);
    CHECK(m.ingest_refused(429) == 2);

    prometheus_text out;
    m.render(out);
    const auto text = out.take();
    CHECK(has_line(text, R"x(cost_guardian_http_requests_total{method="GET",route="/ping",status="200"} 1)x"));
    CHECK(has_line(text, R"x(cost_guardian_http_requests_total{method="POST",route="/ingest",status="201"} 2)x"));
    CHECK(has_line(text, R"x(cost_guardian_http_requests_total{method="(any)",route="(unmatched)",status="404"} 1)x"));
    CHECK(has_line(text,
                   R"x(cost_guardian_http_requests_total{method="OPTIONS",route="(cors-preflight)",status="204"} 1)x"));
    CHECK(has_line(text, R"x(cost_guardian_http_request_duration_seconds_bucket{method="POST",route="/ingest",)x"
                         R"x(le="0.0025"} 1)x"));
    CHECK(has_line(text, R"x(cost_guardian_http_request_duration_seconds_sum{method="POST",route="/ingest"} 0.005)x"));
    CHECK(has_line(text, R"x(cost_guardian_ingest_events_total{result="refused"} 3)x"));
    CHECK(has_line(text, R"x(cost_guardian_ingest_refused_total{status="429"} 2)x"));
    CHECK(has_line(text, R"x(cost_guardian_writer_batch_rows_bucket{le="50"} 1)x"));
    CHECK(has_line(text, R"x(cost_guardian_writer_batch_rows_sum 23)x"));
    CHECK(has_line(text, R"x(cost_guardian_writer_commit_duration_seconds_count 1)x"));
  }

  TEST_CASE("concurrent writers lose no counts") {
    metrics_registry m;
    m.set_routes({{"GET", "/ping"}});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10'000; ++i) m.record_request(0, 200, std::chrono::microseconds(i % 900));
      });
    for (auto& t : threads) t.join();
    prometheus_text out;
    m.render(out);
    CHECK(has_line(out.take(),
                   R"x(cost_guardian_http_requests_total{method="GET",route="/ping",status="200"} 40000)x"));
  }
}
