#include "http/connection_limits.hpp"

#include <utility>

namespace cg::server {

void client_connections::configure(std::size_t per_client, std::vector<ip_network> exempt) {
  per_client_ = per_client;
  exempt_ = std::move(exempt);
}

std::string client_connections::key_of(const ip_address& peer) {
  return std::string(reinterpret_cast<const char*>(peer.bytes.data()), peer.bytes.size()) + (peer.v4 ? '4' : '6');
}

client_connections::admission client_connections::admit(const ip_address& peer) {
  if (per_client_ == 0) return admission::unlimited;
  for (const auto& network : exempt_)
    if (network.contains(peer)) return admission::unlimited;
  std::lock_guard lock(mutex_);
  auto& open = open_[key_of(peer)];
  if (open >= per_client_) return admission::refused;  // the entry exists: this address holds connections
  ++open;
  return admission::counted;
}

void client_connections::release(const ip_address& peer) {
  std::lock_guard lock(mutex_);
  const auto it = open_.find(key_of(peer));
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);  // an address with nothing open costs no memory
}

std::size_t client_connections::addresses() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

connection_slot::connection_slot(connection_slot&& other) noexcept
    : open_(std::exchange(other.open_, nullptr)),
      per_client_(std::exchange(other.per_client_, nullptr)),
      peer_(other.peer_) {}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    release();
    open_ = std::exchange(other.open_, nullptr);
    per_client_ = std::exchange(other.per_client_, nullptr);
    peer_ = other.peer_;
  }
  return *this;
}

void connection_slot::release() noexcept {
  if (auto* per_client = std::exchange(per_client_, nullptr)) {
    try {
      per_client->release(peer_);
    } catch (...) {  // a mutex that cannot be locked: nothing sensible to do in a destructor
    }
  }
  if (auto* open = std::exchange(open_, nullptr)) open->fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace cg::server
