#pragma once
/// The in-memory view of tracking tokens that every ingest request consults.

#include "cg/storage/token_store.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cg::ingest {

struct token_entry {
  std::int64_t id = 0;
  std::string label;
  bool active = true;
};

/// Token string -> entry, rebuilt whole from the database after every admin change.
/// Thread-safety: lookups are lock-free (an atomic shared_ptr to an immutable map), so the hot ingest path never
/// waits for an admin change; replace() may be called from any thread.
class token_registry {
 public:
  token_registry();
  /// nullopt: no such (undeleted) token.
  std::optional<token_entry> find(std::string_view token) const;
  /// Replaces the whole set (after this process changed a token: the next request sees the change).
  void replace(const std::vector<storage::tracking_token_row>& rows);
  /// Where the set stands; take it before reading the tokens for refresh().
  std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
  /// Replaces the set with `rows` read from the database (changes another gateway made), unless replace() ran since
  /// `generation` was taken (then `rows` may predate that change) or nothing a lookup sees differs. True if replaced.
  bool refresh(const std::vector<storage::tracking_token_row>& rows, std::uint64_t generation);
  std::size_t size() const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using map_type = std::unordered_map<std::string, token_entry, string_hash, std::equal_to<>>;
  static std::shared_ptr<const map_type> build(const std::vector<storage::tracking_token_row>& rows);

  std::atomic<std::shared_ptr<const map_type>> map_;
  std::atomic<std::uint64_t> generation_{0};
  std::mutex replacing_;  // orders replace() and refresh(); lookups never take it
};

}  // namespace cg::ingest
