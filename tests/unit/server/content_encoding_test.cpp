// parse_content_encoding and inflate_gzip (server/src/http/content_encoding.hpp).
#include "http/content_encoding.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <string>

using namespace cg::server;

namespace {

/// `text` as one gzip member, the way a client's gzip library would send it.
std::string gzip(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST_SUITE("server.content_encoding") {
  TEST_CASE("Content-Encoding values") {
    CHECK(parse_content_encoding("") == body_encoding::identity);
    CHECK(parse_content_encoding("identity") == body_encoding::identity);
    CHECK(parse_content_encoding(" GZip ") == body_encoding::gzip);
    CHECK(parse_content_encoding("x-gzip") == body_encoding::gzip);
    CHECK(parse_content_encoding("br") == body_encoding::unsupported);
    CHECK(parse_content_encoding("deflate") == body_encoding::unsupported);
    CHECK(parse_content_encoding("gzip, gzip") == body_encoding::unsupported);
  }

  TEST_CASE("inflates a gzip body") {
    const std::string text = R"([{"model":"gpt-4o"}])";
    const auto r = inflate_gzip(gzip(text), 1024);
    CHECK(r.status == inflate_result::outcome::ok);
    CHECK(r.body == text);
  }

  TEST_CASE("concatenated members are one body") {
    const auto r = inflate_gzip(gzip("abc") + gzip("def"), 1024);
    CHECK(r.status == inflate_result::outcome::ok);
    CHECK(r.body == "abcdef");
  }

  TEST_CASE("output exactly at the limit passes; one byte over is too_large") {
    const std::string text(100'000, 'x');
    CHECK(inflate_gzip(gzip(text), text.size()).status == inflate_result::outcome::ok);
    CHECK(inflate_gzip(gzip(text), text.size() - 1).status == inflate_result::outcome::too_large);
  }

  TEST_CASE("a gzip bomb stops at the limit") {
    // 64 MiB of zeros compress to about 64 KiB; inflating stops after the first 1 MiB of output.
    const auto bomb = gzip(std::string(64U << 20U, '\0'));
    CHECK(bomb.size() < 200'000);
    const auto r = inflate_gzip(bomb, 1U << 20U);
    CHECK(r.status == inflate_result::outcome::too_large);
    CHECK(r.body.empty());
  }

  TEST_CASE("not gzip, truncated, corrupted or followed by garbage is corrupt") {
    const auto good = gzip(std::string(5000, 'a') + "tail");
    CHECK(inflate_gzip("", 1024).status == inflate_result::outcome::corrupt);
    CHECK(inflate_gzip("[{\"model\":\"x\"}]", 1024).status == inflate_result::outcome::corrupt);
    CHECK(inflate_gzip(good.substr(0, good.size() / 2), 1U << 20U).status == inflate_result::outcome::corrupt);
    CHECK(inflate_gzip(good.substr(0, good.size() - 4), 1U << 20U).status == inflate_result::outcome::corrupt);
    auto flipped = good;
    flipped[flipped.size() - 6] = static_cast<char>(flipped[flipped.size() - 6] ^ 0x55);  // CRC32
    CHECK(inflate_gzip(flipped, 1U << 20U).status == inflate_result::outcome::corrupt);
    CHECK(inflate_gzip(good + "garbage!", 1U << 20U).status == inflate_result::outcome::corrupt);
  }
}
