#include "http/rate_limit.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace cg::server;

namespace {

constexpr std::int64_t ms = 1'000'000;  // in nanoseconds
constexpr std::int64_t s = 1'000 * ms;

}  // namespace

TEST_SUITE("server.rate_limit") {
  TEST_CASE("a new bucket is full: the whole burst passes, then the next request is refused") {
    const rate_limit limit{60, 3};  // one token per second, three at most
    token_bucket bucket(limit, 0);
    for (std::uint32_t left = 2;; --left) {
      const auto d = bucket.take(limit, 0);
      CHECK(d.allowed);
      CHECK(d.limit == 3);
      CHECK(d.remaining == left);
      if (left == 0) break;
    }
    const auto refused = bucket.take(limit, 0);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.remaining == 0);
    CHECK(refused.retry_after_s == 1);  // one token comes back after a second
    CHECK(refused.reset_s == 3);        // full again after three
  }

  TEST_CASE("refill is exact and never exceeds the burst") {
    const rate_limit limit{60, 3};
    token_bucket bucket(limit, 0);
    for (int i = 0; i < 3; ++i) REQUIRE(bucket.take(limit, 0).allowed);
    SUBCASE("half a token is not enough; Retry-After rounds the rest up") {
      const auto d = bucket.take(limit, 500 * ms);
      CHECK_FALSE(d.allowed);
      CHECK(d.retry_after_s == 1);
      CHECK(bucket.take(limit, 999 * ms).allowed == false);
      CHECK(bucket.take(limit, 1 * s).allowed);
    }
    SUBCASE("a long idle time refills to the burst, not beyond") {
      const auto d = bucket.take(limit, 3600 * s);
      CHECK(d.allowed);
      CHECK(d.remaining == 2);
      CHECK(d.reset_s == 1);
    }
    SUBCASE("days idle do not overflow the arithmetic") {
      const auto d = bucket.take(limit, 400LL * 24 * 3600 * s);
      CHECK(d.allowed);
      CHECK(d.remaining == 2);
    }
    SUBCASE("a clock read that is slightly older never refills backwards") {
      CHECK_FALSE(bucket.take(limit, -5 * s).allowed);
    }
  }

  TEST_CASE("Retry-After follows the rate: 6 per minute means 10 s per request") {
    const rate_limit limit{6, 1};
    token_bucket bucket(limit, 0);
    REQUIRE(bucket.take(limit, 0).allowed);
    auto d = bucket.take(limit, 0);
    CHECK_FALSE(d.allowed);
    CHECK(d.retry_after_s == 10);
    d = bucket.take(limit, 4 * s);
    CHECK(d.retry_after_s == 6);
    CHECK(bucket.take(limit, 10 * s).allowed);
  }

  TEST_CASE("a high rate: 600,000 per minute is 10 per millisecond") {
    const rate_limit limit{600'000, 20};
    token_bucket bucket(limit, 0);
    for (int i = 0; i < 20; ++i) REQUIRE(bucket.take(limit, 0).allowed);
    CHECK_FALSE(bucket.take(limit, 0).allowed);
    CHECK(bucket.take(limit, 0).retry_after_s == 1);  // never 0: a client must wait at least a second
    const auto d = bucket.take(limit, 1 * ms);       // 10 back, this one takes 1
    CHECK(d.allowed);
    CHECK(d.remaining == 9);
  }

  TEST_CASE("a cost above the burst is charged as the whole burst") {
    const rate_limit limit{60, 5};
    token_bucket bucket(limit, 0);
    CHECK(bucket.take(limit, 0, 50).allowed);
    CHECK_FALSE(bucket.take(limit, 0, 1).allowed);
    CHECK_FALSE(bucket.take(limit, 1 * s, 2).allowed);
    CHECK(bucket.take(limit, 2 * s, 2).allowed);
  }

  TEST_CASE("full_at: a bucket is forgettable exactly when it has refilled completely") {
    const rate_limit limit{60, 2};
    token_bucket bucket(limit, 0);
    CHECK(bucket.full_at(limit, 0));
    REQUIRE(bucket.take(limit, 0).allowed);
    CHECK_FALSE(bucket.full_at(limit, 999 * ms));
    CHECK(bucket.full_at(limit, 1 * s));
  }

  TEST_CASE("bucket_map: keys are independent") {
    bucket_map map({.limit = {60, 1}, .shards = 4, .max_per_shard = 16});
    CHECK(map.take("a", 0).allowed);
    CHECK_FALSE(map.take("a", 0).allowed);
    CHECK(map.take("b", 0).allowed);
    CHECK(map.size() == 2);
  }

  TEST_CASE("bucket_map: 100,000 random keys never grow the map past its bound") {
    bucket_map map({.limit = {60, 10}, .shards = 16, .max_per_shard = 256});
    REQUIRE(map.capacity() == 4096);
    std::mt19937_64 random(42);
    std::size_t largest = 0;
    std::int64_t now = 0;
    for (int i = 0; i < 100'000; ++i) {
      now += 1000;  // 1 µs apart: nothing refills, so every bucket is "in use" and eviction must fall back to LRU
      const auto d = map.take(std::to_string(random()), now);
      CHECK(d.allowed);  // a new key always starts full
      largest = std::max(largest, map.size());
    }
    largest = std::max(largest, map.size());
    MESSAGE("largest size seen: " << largest << " of " << map.capacity() << "; evictions: " << map.evictions());
    CHECK(largest <= map.capacity());
    CHECK(map.evictions() >= 100'000 - map.capacity());
  }

  TEST_CASE("bucket_map: idle (refilled) buckets are evicted first, an active one survives") {
    bucket_map map({.limit = {60, 2}, .shards = 1, .max_per_shard = 64});
    REQUIRE(map.take("busy", 0, 2).allowed);  // empties its bucket
    for (int i = 0; i < 63; ++i) REQUIRE(map.take("idle" + std::to_string(i), 0).allowed);  // half empty
    REQUIRE(map.size() == 64);
    // One second later the idle buckets are full again (forgettable); busy's holds one token of two.
    REQUIRE(map.take("newcomer", 1 * s).allowed);
    CHECK(map.size() == 2);
    CHECK(map.evictions() == 63);
    // busy was kept: a forgotten bucket would start full and allow two.
    CHECK_FALSE(map.take("busy", 1 * s, 2).allowed);
  }

  TEST_CASE("bucket_map: concurrent takes on one key never hand out more than the burst") {
    bucket_map map({.limit = {1, 1000}, .shards = 8, .max_per_shard = 64});  // effectively no refill during the test
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 1000; ++i)
          if (map.take("shared", steady_now_ns()).allowed) ++allowed;
      });
    for (auto& t : threads) t.join();
    CHECK(allowed.load() >= 1000);
    CHECK(allowed.load() <= 1001);  // at 1 per minute, at most one more can refill during the run
  }

  TEST_CASE("rate_limits: exempt paths match themselves and everything below them") {
    rate_limits limits({.admin = {60, 10}, .ingest = {60, 10}, .exempt = {"/ping", "/health", "/dashboard/"}});
    CHECK(limits.exempt("/ping"));
    CHECK(limits.exempt("/dashboard"));
    CHECK(limits.exempt("/dashboard/app.js"));
    CHECK_FALSE(limits.exempt("/pingpong"));
    CHECK_FALSE(limits.exempt("/data"));
    CHECK_FALSE(limits.exempt("/"));
  }

  TEST_CASE("rate_limits: refusals are counted per limiter") {
    rate_limits limits({.admin = {60, 1}, .ingest = {60, 1}, .exempt = {}});
    CHECK(limits.check_admin("ip:1").allowed);
    CHECK_FALSE(limits.check_admin("ip:1").allowed);
    CHECK(limits.check_ingest("tok").allowed);
    CHECK_FALSE(limits.check_ingest("tok").allowed);
    CHECK_FALSE(limits.check_ingest("tok").allowed);
    CHECK(limits.admin_hits() == 1);
    CHECK(limits.ingest_hits() == 2);
  }

  TEST_CASE("a limit that is off allows everything and keeps no state") {
    const rate_limit off{0, 0};
    CHECK_FALSE(off.enabled());
    token_bucket bucket(off, 0);
    for (int i = 0; i < 10; ++i) CHECK(bucket.take(off, 0).allowed);
  }
}
