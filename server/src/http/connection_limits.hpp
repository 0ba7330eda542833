#pragma once
// The limits on open connections as a whole (MAX_CONNECTIONS) and per client address (MAX_CONNECTIONS_PER_CLIENT),
// and the slot each accepted connection holds in them. No Beast here: unit tests drive it directly.

#include "http/client_address.hpp"

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cg::server {

/// Open connections per client address, so that one address holding idle connections cannot take every slot of
/// MAX_CONNECTIONS and shut every other client out. The address is the socket's peer: when a connection is accepted
/// no X-Forwarded-For has been read, which is why reverse proxies (TRUSTED_PROXIES, carrying many clients) and
/// CONNECTION_LIMIT_EXEMPT (loopback by default: a local sidecar) are not counted.
/// Thread-safety: configure() before the first accept; admit() and release() from any thread. One mutex, held for a
/// hash lookup: admit() runs on the listener's strand, one accept at a time, so only sessions ending elsewhere
/// contend with it, and the map holds one entry per address with a connection open (bounded by MAX_CONNECTIONS).
class client_connections {
 public:
  enum class admission {
    unlimited,  ///< exempt address, or the limit is off: not counted, nothing to release
    counted,    ///< counted against its address: release() when the connection ends
    refused,    ///< the address holds the limit already: not counted
  };

  /// `per_client` 0 switches the limit off. `exempt`: TRUSTED_PROXIES and CONNECTION_LIMIT_EXEMPT.
  void configure(std::size_t per_client, std::vector<ip_network> exempt);
  std::size_t per_client() const noexcept { return per_client_; }

  admission admit(const ip_address& peer);
  void release(const ip_address& peer);
  /// Addresses with a counted connection open (for tests and metrics; takes the lock).
  std::size_t addresses() const;

 private:
  static std::string key_of(const ip_address& peer);

  std::size_t per_client_ = 0;
  std::vector<ip_network> exempt_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

/// One accepted connection's share of the limits: one of MAX_CONNECTIONS' open connections, and one of its address's
/// when client_connections counted it. Move-only; gives both back when destroyed (with the session or the refusal
/// that holds it, so a connection that ends by any path releases exactly once).
/// Thread-safety: one owner at a time; the counters it releases are thread-safe.
class connection_slot {
 public:
  connection_slot() = default;
  /// Takes over one already counted in `open` (and, when `per_client` is set, in it for `peer`).
  connection_slot(std::atomic<std::size_t>& open, client_connections* per_client, ip_address peer) noexcept
      : open_(&open), per_client_(per_client), peer_(peer) {}
  connection_slot(connection_slot&& other) noexcept;
  connection_slot& operator=(connection_slot&& other) noexcept;
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot() { release(); }

  void release() noexcept;

 private:
  std::atomic<std::size_t>* open_ = nullptr;
  client_connections* per_client_ = nullptr;
  ip_address peer_{};
};

}  // namespace cg::server
