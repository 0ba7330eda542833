#include "http/rate_limit.hpp"

#include "http/client_address.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace cg::server {

namespace {

constexpr std::int64_t ns_per_second = 1'000'000'000;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept { return a <= 0 ? 0 : (a + b - 1) / b; }

std::uint32_t ns_to_whole_seconds(std::int64_t ns) noexcept {
  const auto s = ceil_div(ns, ns_per_second);
  return static_cast<std::uint32_t>(std::min<std::int64_t>(s, std::numeric_limits<std::uint32_t>::max()));
}

std::int64_t capacity_units(const rate_limit& limit) noexcept {
  return static_cast<std::int64_t>(limit.burst) * token_bucket::units_per_token;
}

}  // namespace

std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- token_bucket -------------------------------------------------------------------------------------------

token_bucket::token_bucket(const rate_limit& limit, std::int64_t now_ns) noexcept
    : level_(capacity_units(limit)), updated_ns_(now_ns) {}

void token_bucket::refill(const rate_limit& limit, std::int64_t now_ns) noexcept {
  if (now_ns <= updated_ns_) return;  // a clock read on another thread may be a little older: never refill backwards
  const std::int64_t rate = limit.per_minute;  // units per nanosecond
  const std::int64_t missing = capacity_units(limit) - level_;
  const std::int64_t elapsed = now_ns - updated_ns_;
  // Compare before multiplying: a bucket idle for days would overflow elapsed * rate.
  if (missing <= 0 || elapsed >= missing / rate + 1)
    level_ = capacity_units(limit);
  else
    level_ += elapsed * rate;
  updated_ns_ = now_ns;
}

rate_decision token_bucket::take(const rate_limit& limit, std::int64_t now_ns, std::uint32_t cost) noexcept {
  rate_decision d;
  d.limit = limit.burst;
  if (!limit.enabled()) {
    d.remaining = limit.burst;
    return d;
  }
  refill(limit, now_ns);
  const std::int64_t rate = limit.per_minute;
  const std::int64_t need = static_cast<std::int64_t>(std::min(std::max(cost, 1U), limit.burst)) * units_per_token;
  if (level_ >= need) {
    level_ -= need;
  } else {
    d.allowed = false;
    d.retry_after_s = std::max(1U, ns_to_whole_seconds(ceil_div(need - level_, rate)));
  }
  d.remaining = static_cast<std::uint32_t>(level_ / units_per_token);
  d.reset_s = ns_to_whole_seconds(ceil_div(capacity_units(limit) - level_, rate));
  return d;
}

bool token_bucket::full_at(const rate_limit& limit, std::int64_t now_ns) const noexcept {
  const std::int64_t missing = capacity_units(limit) - level_;
  if (missing <= 0) return true;
  if (now_ns <= updated_ns_ || limit.per_minute == 0) return false;
  return now_ns - updated_ns_ >= ceil_div(missing, limit.per_minute);
}

// ---- bucket_map ---------------------------------------------------------------------------------------------

bucket_map::bucket_map(options opts)
    : opts_(opts), shards_(std::make_unique<shard[]>(std::max<std::size_t>(opts.shards, 1))) {
  opts_.shards = std::max<std::size_t>(opts_.shards, 1);
  opts_.max_per_shard = std::max<std::size_t>(opts_.max_per_shard, 8);
}

rate_decision bucket_map::take(std::string_view key, std::int64_t now_ns, std::uint32_t cost) {
  // The map's own hash picks the slot inside a shard; a multiplicative mix of the same hash picks the shard, so the
  // two do not use the same low bits.
  const std::uint64_t h = string_hash{}(key);
  auto& s = shards_[((h * 0x9E3779B97F4A7C15ULL) >> 32U) % opts_.shards];
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(key);
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= opts_.max_per_shard) make_room(s, now_ns);
    it = s.buckets.emplace(std::string(key), token_bucket(opts_.limit, now_ns)).first;
  }
  return it->second.take(opts_.limit, now_ns, cost);
}

void bucket_map::make_room(shard& s, std::int64_t now_ns) {
  const std::size_t want = std::max<std::size_t>(opts_.max_per_shard / 8, 1);
  std::size_t freed =
      std::erase_if(s.buckets, [&](const auto& entry) { return entry.second.full_at(opts_.limit, now_ns); });
  if (freed < want) {
    // Every bucket is in use (many clients at once, or a spray of new keys faster than buckets refill): forget the
    // least recently used ones. Such a client gets a full bucket again on its next request, no more than a new
    // client gets.
    using iterator = decltype(s.buckets)::iterator;
    std::vector<iterator> order;
    order.reserve(s.buckets.size());
    for (auto it = s.buckets.begin(); it != s.buckets.end(); ++it) order.push_back(it);
    const std::size_t extra = std::min(want - freed, order.size());
    std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(extra), order.end(),
                     [](const iterator& a, const iterator& b) {
                       return a->second.updated_ns() < b->second.updated_ns();
                     });
    for (std::size_t i = 0; i < extra; ++i) s.buckets.erase(order[i]);
    freed += extra;
  }
  evictions_.fetch_add(freed, std::memory_order_relaxed);
}

std::size_t bucket_map::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < opts_.shards; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    n += shards_[i].buckets.size();
  }
  return n;
}

// ---- rate_limits --------------------------------------------------------------------------------------------

rate_limits::rate_limits(settings s)
    : settings_(std::move(s)),
      admin_(bucket_map::options{.limit = settings_.admin}),
      ingest_(bucket_map::options{.limit = settings_.ingest}),
      auth_failure_(bucket_map::options{.limit = settings_.auth_failure}) {}

bool rate_limits::exempt(std::string_view path) const noexcept {
  for (const auto& entry : settings_.exempt) {
    std::string_view prefix = entry;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
    if (path == prefix) return true;
    if (path.size() > prefix.size() && path.starts_with(prefix) && (prefix == "/" || path[prefix.size()] == '/'))
      return true;
  }
  return false;
}

rate_decision rate_limits::check_admin(std::string_view key, std::uint32_t cost) {
  auto d = admin_.take(key, steady_now_ns(), cost);
  if (!d.allowed) admin_hits_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

rate_decision rate_limits::check_ingest(std::string_view tracking_token, std::uint32_t cost) {
  auto d = ingest_.take(tracking_token, steady_now_ns(), cost);
  if (!d.allowed) ingest_hits_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

rate_decision rate_limits::check_auth_failure(std::string_view client_key) {
  auto d = auth_failure_.take(client_key, steady_now_ns());
  if (!d.allowed) auth_failure_hits_.fetch_add(1, std::memory_order_relaxed);
  return d;
}

std::string auth_failure_key(std::string_view client_address) {
  auto address = ip_address::parse(client_address);
  if (!address) return std::string(client_address);
  if (address->v4) return address->to_string();
  std::fill(address->bytes.begin() + 8, address->bytes.end(), std::uint8_t{0});
  return address->to_string() + "/64";
}

}  // namespace cg::server
