#include "http/client_address.hpp"

#include "cg/values/text.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace cg::server {

namespace {

std::string_view trim(std::string_view s) { return values::trim(s, values::blanks); }

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<ip_address> parse_bare(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  ip_address a;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buffer, a.bytes.data()) != 1) return std::nullopt;
    a.v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, buffer, a.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::memset(a.bytes.data() + 4, 0, 12);
    a.v4 = true;
  }
  return a;
}

}  // namespace

std::optional<ip_address> ip_address::parse(std::string_view text) {
  text = trim(text);
  if (text.starts_with('[')) {  // [v6] or [v6]:port
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && all_digits(rest.substr(1)))) return std::nullopt;
    auto a = parse_bare(text.substr(1, close - 1));
    if (a && a->v4 && text.substr(1, close - 1).find(':') == std::string_view::npos) return std::nullopt;
    return a;
  }
  // One colon: v4:port. More: a bare IPv6 address.
  const auto colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    if (!all_digits(text.substr(colon + 1))) return std::nullopt;
    auto a = parse_bare(text.substr(0, colon));
    if (!a || !a->v4) return std::nullopt;
    return a;
  }
  return parse_bare(text);
}

std::string ip_address::to_string() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

std::optional<ip_network> ip_network::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  auto base = parse_bare(text.substr(0, slash));
  if (!base) return std::nullopt;
  const unsigned bits = base->v4 ? 32 : 128;
  unsigned prefix = bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || prefix > bits)
      return std::nullopt;
  }
  return ip_network{*base, prefix};
}

bool ip_network::contains(const ip_address& a) const noexcept {
  if (a.v4 != base.v4) return false;
  const unsigned full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFU << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

trusted_proxies trusted_proxies::parse(std::string_view comma_list) {
  std::vector<ip_network> networks;
  while (!comma_list.empty()) {
    const auto comma = comma_list.find(',');
    const auto entry = trim(comma_list.substr(0, comma));
    comma_list = comma == std::string_view::npos ? std::string_view{} : comma_list.substr(comma + 1);
    if (entry.empty()) continue;
    auto network = ip_network::parse(entry);
    if (!network) throw std::invalid_argument("'" + std::string(entry) + "' is not an IP address or CIDR block");
    networks.push_back(*network);
  }
  return trusted_proxies(std::move(networks));
}

bool trusted_proxies::trusts(const ip_address& a) const noexcept {
  for (const auto& n : networks_)
    if (n.contains(a)) return true;
  return false;
}

std::string trusted_proxies::client_address(std::string_view peer, std::string_view forwarded_for) const {
  if (networks_.empty() || forwarded_for.empty()) return std::string(peer);
  const auto peer_address = ip_address::parse(peer);
  if (!peer_address || !trusts(*peer_address)) return std::string(peer);

  std::string client = peer_address->to_string();
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const auto entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (entry.empty()) continue;
    const auto hop = ip_address::parse(entry);
    if (!hop) break;  // a forged or obfuscated entry: keep the last address a trusted hop vouched for
    client = hop->to_string();
    if (!trusts(*hop)) break;
  }
  return client;
}

}  // namespace cg::server
