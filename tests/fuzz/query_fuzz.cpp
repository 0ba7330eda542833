// Query strings and the dates inside them: parse_query never crashes and decodes to what it was given, and every
// time parse_timestamp accepts formats back to itself.
#include "fuzz_support.hpp"

#include "http/query_params.hpp"

#include "cg/ingest/validation.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

std::string encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
        c == '.') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto parsed = cg::server::parse_query(text);
  if (const auto* error = std::get_if<cg::server::query_error>(&parsed)) CG_FUZZ_CHECK(!error->message.empty());

  // Any value survives percent-encoding and decoding unchanged.
  const auto round_trip = cg::server::parse_query("v=" + encode(text));
  const auto* map = std::get_if<cg::server::query_map>(&round_trip);
  CG_FUZZ_CHECK(map != nullptr && map->size() == 1 && map->at("v") == text);

  if (const auto us = cg::ingest::parse_timestamp(text)) {
    const std::string formatted = cg::ingest::format_timestamp(*us);
    const auto again = cg::ingest::parse_timestamp(formatted);
    CG_FUZZ_CHECK(again && *again == *us);
  }
  return 0;
}
