#pragma once
// Who the client is: the socket's peer, or, behind a trusted reverse proxy, the address that proxy saw
// (X-Forwarded-For). No Beast here.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::server {

/// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack socket reports for an
/// IPv4 peer) are read as the IPv4 address, so one rule covers both spellings.
struct ip_address {
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;

  /// Parses a bare address; also accepts `[v6]`, `[v6]:port` and `v4:port`, as X-Forwarded-For entries may carry
  /// a port. nullopt for anything else (a name, `unknown`, an obfuscated identifier).
  static std::optional<ip_address> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const ip_address&, const ip_address&) = default;
};

/// An address block: `10.0.0.0/8`, `fd00::/8`, or a single address (all bits).
struct ip_network {
  ip_address base;
  unsigned prefix = 0;

  /// nullopt for a malformed entry (bad address, prefix out of range, bits set after the prefix are allowed and
  /// ignored: `10.1.2.3/8` is `10.0.0.0/8`).
  static std::optional<ip_network> parse(std::string_view text);
  bool contains(const ip_address& a) const noexcept;
};

/// TRUSTED_PROXIES and the X-Forwarded-For rule.
/// Thread-safety: immutable after construction; every member function is const.
class trusted_proxies {
 public:
  trusted_proxies() = default;
  explicit trusted_proxies(std::vector<ip_network> networks) : networks_(std::move(networks)) {}

  /// Parses a comma list of addresses and CIDR blocks; throws std::invalid_argument naming the bad entry.
  static trusted_proxies parse(std::string_view comma_list);

  bool empty() const noexcept { return networks_.empty(); }
  bool trusts(const ip_address& a) const noexcept;

  /// The client's address. X-Forwarded-For is read only when the socket peer is a trusted proxy: each proxy appends
  /// the address it received from, so walking the list from the right, past the trusted proxies, the first
  /// address that is not trusted is the client (anything left of it could be forged by that client). If every
  /// entry is trusted, the left-most is the client. A malformed entry stops the walk: the last proxy that spoke
  /// (the entry to its right, or the peer) is taken as the client rather than a string anyone can forge.
  /// `forwarded_for`: every X-Forwarded-For header value, joined with commas in order.
  std::string client_address(std::string_view peer, std::string_view forwarded_for) const;

 private:
  std::vector<ip_network> networks_;
};

}  // namespace cg::server
