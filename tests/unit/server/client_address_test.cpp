#include "http/client_address.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace cg::server;

namespace {

bool in(std::string_view network, std::string_view address) {
  const auto n = ip_network::parse(network);
  const auto a = ip_address::parse(address);
  REQUIRE(n);
  REQUIRE(a);
  return n->contains(*a);
}

}  // namespace

TEST_SUITE("server.client_address") {
  TEST_CASE("addresses: v4, v6, IPv4-mapped v6, with ports and brackets") {
    CHECK(ip_address::parse("10.1.2.3")->to_string() == "10.1.2.3");
    CHECK(ip_address::parse(" 10.1.2.3 ")->to_string() == "10.1.2.3");
    CHECK(ip_address::parse("10.1.2.3:8080")->to_string() == "10.1.2.3");
    CHECK(ip_address::parse("2001:db8::1")->to_string() == "2001:db8::1");
    CHECK(ip_address::parse("[2001:db8::1]")->to_string() == "2001:db8::1");
    CHECK(ip_address::parse("[2001:db8::1]:443")->to_string() == "2001:db8::1");
    const auto mapped = ip_address::parse("::ffff:192.0.2.7");
    REQUIRE(mapped);
    CHECK(mapped->v4);
    CHECK(mapped->to_string() == "192.0.2.7");
    CHECK(*mapped == *ip_address::parse("192.0.2.7"));
    for (const char* bad : {"", "unknown", "_hidden", "10.1.2", "10.1.2.300", "10.1.2.3:port", "[10.1.2.3]",
                            "[2001:db8::1", "example.com", "2001:db8::g"})
      CHECK_MESSAGE(!ip_address::parse(bad), bad);
  }

  TEST_CASE("CIDR matching") {
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
    CHECK(in("192.168.1.0/25", "192.168.1.127"));
    CHECK_FALSE(in("192.168.1.0/25", "192.168.1.128"));
    CHECK(in("172.16.0.0/12", "172.31.255.255"));
    CHECK_FALSE(in("172.16.0.0/12", "172.32.0.0"));
    CHECK(in("127.0.0.1", "127.0.0.1"));
    CHECK_FALSE(in("127.0.0.1", "127.0.0.2"));
    CHECK(in("0.0.0.0/0", "8.8.8.8"));
    CHECK(in("10.1.2.3/8", "10.9.9.9"));  // host bits in the base are ignored
    CHECK(in("fd00::/8", "fd12:3456::1"));
    CHECK_FALSE(in("fd00::/8", "fe80::1"));
    CHECK(in("2001:db8::/33", "2001:db8:7fff::1"));
    CHECK_FALSE(in("2001:db8::/33", "2001:db8:8000::1"));
    CHECK(in("::1", "::1"));
    CHECK(in("10.0.0.0/8", "::ffff:10.0.0.9"));  // a dual-stack socket's spelling of an IPv4 peer
    CHECK_FALSE(in("::/0", "10.0.0.1"));         // families never match each other
    for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/x", "nope", "10.0.0.0/8/8"})
      CHECK_MESSAGE(!ip_network::parse(bad), bad);
  }

  TEST_CASE("TRUSTED_PROXIES parsing names the bad entry") {
    CHECK(trusted_proxies::parse("").empty());
    CHECK_FALSE(trusted_proxies::parse("127.0.0.1, 10.0.0.0/8,::1").empty());
    CHECK_THROWS_WITH_AS(trusted_proxies::parse("127.0.0.1,proxy.local"),
                         doctest::Contains("proxy.local"), std::invalid_argument);
  }

  TEST_CASE("X-Forwarded-For: believed only from a trusted peer; the right-most untrusted address is the client") {
    const auto proxies = trusted_proxies::parse("127.0.0.1,10.0.0.0/8");
    SUBCASE("untrusted peer: the header is ignored") {
      CHECK(proxies.client_address("203.0.113.9", "198.51.100.1") == "203.0.113.9");
      CHECK(trusted_proxies{}.client_address("127.0.0.1", "198.51.100.1") == "127.0.0.1");
    }
    SUBCASE("one trusted proxy") {
      CHECK(proxies.client_address("127.0.0.1", "198.51.100.1") == "198.51.100.1");
    }
    SUBCASE("a chain of trusted proxies is walked past") {
      CHECK(proxies.client_address("127.0.0.1", "198.51.100.1, 10.1.1.1, 10.2.2.2") == "198.51.100.1");
    }
    SUBCASE("a client cannot spoof by prepending: the right-most untrusted entry wins") {
      CHECK(proxies.client_address("127.0.0.1", "1.2.3.4, 198.51.100.1") == "198.51.100.1");
      CHECK(proxies.client_address("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.0.0.5") == "198.51.100.1");
    }
    SUBCASE("every entry trusted: the left-most is the client") {
      CHECK(proxies.client_address("127.0.0.1", "10.0.0.1, 10.0.0.2") == "10.0.0.1");
    }
    SUBCASE("a malformed entry stops the walk at the last proxy that spoke") {
      CHECK(proxies.client_address("127.0.0.1", "198.51.100.1, garbage") == "127.0.0.1");
      CHECK(proxies.client_address("127.0.0.1", "garbage, 10.0.0.7") == "10.0.0.7");
    }
    SUBCASE("ports, brackets, empty entries and the IPv4-mapped peer") {
      CHECK(proxies.client_address("::ffff:127.0.0.1", "198.51.100.1:5555") == "198.51.100.1");
      CHECK(proxies.client_address("127.0.0.1", "[2001:db8::5]:80,,") == "2001:db8::5");
      CHECK(proxies.client_address("127.0.0.1", "") == "127.0.0.1");
    }
  }
}
