#include "http/connection_limits.hpp"
#include "http/descriptor_limit.hpp"
#include "http/rate_limit.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <vector>

using namespace cg::server;

namespace {

ip_address addr(std::string_view text) { return ip_address::parse(text).value(); }

}  // namespace

TEST_SUITE("server.connection_limits") {
  TEST_CASE("an address is admitted up to its limit, and again once a connection ends") {
    client_connections counts;
    counts.configure(2, {});
    using enum client_connections::admission;
    CHECK(counts.admit(addr("10.0.0.1")) == counted);
    CHECK(counts.admit(addr("10.0.0.1")) == counted);
    CHECK(counts.admit(addr("10.0.0.1")) == refused);
    CHECK(counts.admit(addr("10.0.0.2")) == counted);  // another address has its own count
    CHECK(counts.addresses() == 2);
    counts.release(addr("10.0.0.1"));
    CHECK(counts.admit(addr("10.0.0.1")) == counted);
    counts.release(addr("10.0.0.1"));
    counts.release(addr("10.0.0.1"));
    counts.release(addr("10.0.0.2"));
    CHECK(counts.addresses() == 0);  // nothing open, nothing held
  }

  TEST_CASE("exempt networks and a limit of 0 are not counted") {
    client_connections counts;
    counts.configure(1, {ip_network::parse("127.0.0.0/8").value(), ip_network::parse("::1").value()});
    using enum client_connections::admission;
    for (int i = 0; i < 5; ++i) {
      CHECK(counts.admit(addr("127.0.0.9")) == unlimited);
      CHECK(counts.admit(addr("::1")) == unlimited);
    }
    CHECK(counts.admit(addr("::ffff:127.0.0.1")) == unlimited);  // a dual-stack socket's spelling of 127.0.0.1
    CHECK(counts.admit(addr("2001:db8::1")) == counted);
    CHECK(counts.admit(addr("2001:db8::1")) == refused);
    client_connections off;
    off.configure(0, {});
    CHECK(off.admit(addr("10.0.0.1")) == unlimited);
  }

  TEST_CASE("a slot releases its share exactly once, wherever it was moved") {
    std::atomic<std::size_t> open{0};
    client_connections counts;
    counts.configure(1, {});
    {
      REQUIRE(counts.admit(addr("10.0.0.1")) == client_connections::admission::counted);
      open = 1;
      connection_slot a(open, &counts, addr("10.0.0.1"));
      connection_slot b(std::move(a));
      connection_slot c;
      c = std::move(b);
      CHECK(open == 1);
      CHECK(counts.admit(addr("10.0.0.1")) == client_connections::admission::refused);
    }
    CHECK(open == 0);
    CHECK(counts.addresses() == 0);
    {
      open = 1;
      connection_slot uncounted(open, nullptr, addr("10.0.0.1"));  // exempt: only MAX_CONNECTIONS' share
    }
    CHECK(open == 0);
  }

  TEST_CASE("connections that fit the descriptor limit keep a reserve") {
    CHECK(connections_that_fit({.limit = 1'048'576, .hard = 1'048'576, .in_use = 20}) == 1'048'576 - 20 - 64);
    CHECK(connections_that_fit({.limit = 256, .hard = 256, .in_use = 20}) == 256 - 20 - 59);  // a quarter of 236
    CHECK(connections_that_fit({.limit = 30, .hard = 30, .in_use = 30}) == 1);
  }

  TEST_CASE("raising the descriptor limit reaches the hard limit") {
    const auto budget = raise_descriptor_limit();
    CHECK(budget.limit == budget.hard);
    CHECK(budget.in_use >= 3);  // stdin, stdout, stderr at least
  }

  TEST_CASE("failed authentication is keyed by address, and by /64 for IPv6") {
    CHECK(auth_failure_key("203.0.113.7") == "203.0.113.7");
    CHECK(auth_failure_key("::ffff:203.0.113.7") == "203.0.113.7");
    CHECK(auth_failure_key("2001:db8:1:2::1") == "2001:db8:1:2::/64");
    CHECK(auth_failure_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
    CHECK(auth_failure_key("unknown") == "unknown");
  }
}
