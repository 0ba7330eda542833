#pragma once
// Token-bucket rate limits: the bucket arithmetic, a bounded sharded map of buckets, and the three limiters the
// server runs (admin per key or client address, ingest per tracking token, failed authentication per client
// address). No Beast here: unit tests drive it
// with a fake clock.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cg::server {

/// A limit as the settings give it: `per_minute` tokens refilled per minute, at most `burst` held. 0 = off.
struct rate_limit {
  std::uint32_t per_minute = 0;
  std::uint32_t burst = 0;
  bool enabled() const noexcept { return per_minute > 0 && burst > 0; }
};

/// What one check decided, with everything the response headers need.
struct rate_decision {
  bool allowed = true;
  std::uint32_t limit = 0;          ///< RateLimit-Limit: the burst, the most requests possible at once
  std::uint32_t remaining = 0;      ///< RateLimit-Remaining: whole requests left after this one
  std::uint32_t reset_s = 0;        ///< RateLimit-Reset: seconds until the bucket is full again
  std::uint32_t retry_after_s = 0;  ///< Retry-After when refused: seconds until this request would pass (>= 1)
};

/// One bucket. Integer fixed point, so refill is exact and tests can assert exact values: one token is
/// `units_per_token` units, and a limit of R per minute refills R units per nanosecond.
/// Thread-safety: none; the map below guards each bucket with its shard's mutex.
class token_bucket {
 public:
  static constexpr std::int64_t units_per_token = 60'000'000'000;  // ns per minute

  /// A new bucket is full: a client's first burst is always allowed.
  token_bucket(const rate_limit& limit, std::int64_t now_ns) noexcept;

  /// Refills for the time since the last call, then takes `cost` tokens if there are that many. A cost above the
  /// burst is charged as the whole burst (a large batch passes when the bucket is full, and empties it).
  rate_decision take(const rate_limit& limit, std::int64_t now_ns, std::uint32_t cost = 1) noexcept;

  /// True when, at `now_ns`, the bucket has refilled completely: forgetting it changes nothing, because a new bucket
  /// starts full. This is what makes eviction of idle buckets lossless.
  bool full_at(const rate_limit& limit, std::int64_t now_ns) const noexcept;

  std::int64_t updated_ns() const noexcept { return updated_ns_; }

 private:
  void refill(const rate_limit& limit, std::int64_t now_ns) noexcept;

  std::int64_t level_;       ///< units held
  std::int64_t updated_ns_;  ///< time of the last refill
};

/// Buckets by key (an address, a key, a tracking token), bounded in memory whatever keys clients send.
/// Thread-safety: take() from any thread. The map is split into shards, each with its own mutex held only for a
/// hash lookup and a few integer operations, so there is no global lock on the hot path and two keys in different
/// shards never contend.
/// Memory: each shard holds at most `max_per_shard` buckets. A new key in a full shard first evicts every bucket that
/// has refilled completely (idle: lossless, see full_at), and if that frees less than an eighth of the shard, the
/// least recently used eighth too; so a client spraying random keys costs amortised O(1) per request and can never
/// grow the map past shards * max_per_shard.
class bucket_map {
 public:
  struct options {
    rate_limit limit{};
    std::size_t shards = 32;
    std::size_t max_per_shard = 2048;
  };

  explicit bucket_map(options opts);
  bucket_map(const bucket_map&) = delete;
  bucket_map& operator=(const bucket_map&) = delete;

  rate_decision take(std::string_view key, std::int64_t now_ns, std::uint32_t cost = 1);

  const rate_limit& limit() const noexcept { return opts_.limit; }
  /// Buckets held now (sums the shards under their locks: for metrics, not the hot path).
  std::size_t size() const;
  /// The most buckets this map can ever hold.
  std::size_t capacity() const noexcept { return opts_.shards * opts_.max_per_shard; }
  std::uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, token_bucket, string_hash, std::equal_to<>> buckets;
  };

  void make_room(shard& s, std::int64_t now_ns);

  options opts_;
  std::unique_ptr<shard[]> shards_;
  std::atomic<std::uint64_t> evictions_{0};
};

/// Monotonic nanoseconds for the limiters.
std::int64_t steady_now_ns() noexcept;

/// The server's limiters and the paths exempt from the admin and ingest ones.
/// Thread-safety: every member function may be called from any thread (bucket_map's guarantees; counters are atomics).
class rate_limits {
 public:
  struct settings {
    rate_limit admin;                 ///< RATE_LIMIT_RPM / RATE_LIMIT_BURST
    rate_limit ingest;                ///< INGEST_RPM / INGEST_BURST
    rate_limit auth_failure{};        ///< AUTH_FAILURE_RPM / AUTH_FAILURE_BURST
    std::vector<std::string> exempt{};  ///< RATE_LIMIT_EXEMPT
  };

  explicit rate_limits(settings s);

  /// RATE_LIMIT_EXEMPT: an entry matches its own path and every path below it (`/dashboard` covers
  /// `/dashboard/app.js`), as the old app matched them.
  bool exempt(std::string_view path) const noexcept;

  /// Admin routes (every route but ingestion): `key` is "key" for a request with the valid admin key (all admin
  /// clients share the one key, so they share its bucket) or the client address otherwise.
  rate_decision check_admin(std::string_view key, std::uint32_t cost = 1);
  /// Ingestion, per tracking token. The handler asks after the token was found in the registry, so tokens that do
  /// not exist never create buckets. `cost`: events charged (1 for /ingest).
  rate_decision check_ingest(std::string_view tracking_token, std::uint32_t cost = 1);
  /// A request to a keyed route that did not present its valid key, per client address (auth_failure_key). Asked
  /// only once the key was found wrong or missing: a request with the correct key never takes from this bucket and
  /// is never refused by it, so a guesser behind the same address (a NAT) cannot lock the key's holders out.
  /// RATE_LIMIT_EXEMPT does not apply: only failures are charged.
  rate_decision check_auth_failure(std::string_view client_key);

  const settings& config() const noexcept { return settings_; }
  const bucket_map& admin_buckets() const noexcept { return admin_; }
  const bucket_map& ingest_buckets() const noexcept { return ingest_; }
  const bucket_map& auth_failure_buckets() const noexcept { return auth_failure_; }
  std::uint64_t admin_hits() const noexcept { return admin_hits_.load(std::memory_order_relaxed); }
  std::uint64_t ingest_hits() const noexcept { return ingest_hits_.load(std::memory_order_relaxed); }
  std::uint64_t auth_failure_hits() const noexcept { return auth_failure_hits_.load(std::memory_order_relaxed); }

 private:
  settings settings_;
  bucket_map admin_;
  bucket_map ingest_;
  bucket_map auth_failure_;
  std::atomic<std::uint64_t> admin_hits_{0};
  std::atomic<std::uint64_t> ingest_hits_{0};
  std::atomic<std::uint64_t> auth_failure_hits_{0};
};

/// The auth_failure bucket key of a client address: the address itself for IPv4, its /64 network for IPv6 (one
/// host commonly holds a whole /64, so per-address buckets would let it mint 2^64 of them). Text that is not an
/// address (`unknown`) is its own key.
std::string auth_failure_key(std::string_view client_address);

}  // namespace cg::server
