#include "protocol/compression.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

Bytes text_body(size_t n) {
  static const std::string words = "SELECT value FROM ks.tbl WHERE id = ? AND ck > ? ";
  Bytes out;
  while (out.size() < n) out.push_back(static_cast<uint8_t>(words[out.size() % words.size()]));
  return out;
}

Bytes random_body(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

TEST(Compression, ParsesStartupOptionNamesCaseInsensitively) {
  EXPECT_EQ(compression_from_name("lz4").value(), Compression::Lz4);
  EXPECT_EQ(compression_from_name("snappy").value(), Compression::Snappy);
  EXPECT_EQ(compression_from_name("LZ4").value(), Compression::Lz4);
  auto bad = compression_from_name("zstd");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::Unsupported);
  EXPECT_NE(bad.error().message.find("zstd"), std::string::npos);
  EXPECT_FALSE(compression_from_name(""));
  EXPECT_EQ(compression_name(Compression::Snappy), "snappy");
}

TEST(Compression, RoundTripsBodiesOfManySizesWithBothAlgorithms) {
  for (auto c : {Compression::Lz4, Compression::Snappy, Compression::None}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{17}, size_t{4096}, size_t{200000}}) {
      for (const Bytes& body : {text_body(n), random_body(n, static_cast<uint32_t>(n))}) {
        auto packed = compress_body(c, body);
        ASSERT_TRUE(packed) << packed.error().to_string();
        auto back = decompress_body(c, *packed);
        ASSERT_TRUE(back) << compression_name(c) << " n=" << n << ": " << back.error().to_string();
        EXPECT_EQ(*back, body);
      }
    }
  }
}

TEST(Compression, Lz4BodyStartsWithBigEndianUncompressedLength) {
  Bytes body = text_body(1000);
  auto packed = compress_body(Compression::Lz4, body).value();
  ASSERT_GE(packed.size(), 4u);
  EXPECT_EQ(load_be32(packed.data()), 1000u);
  EXPECT_LT(packed.size(), body.size());  // text compresses
}

TEST(Compression, DecompressesEmptyBodiesAsSentByServers) {
  // Cassandra compresses even empty bodies: lz4 sends a zero length and the 1-byte empty block,
  // snappy a single zero byte. A bare zero-length prefix and an empty input are accepted too.
  EXPECT_TRUE(decompress_body(Compression::Lz4, Bytes{0, 0, 0, 0, 0}).value().empty());
  EXPECT_TRUE(decompress_body(Compression::Lz4, Bytes{0, 0, 0, 0}).value().empty());
  EXPECT_TRUE(decompress_body(Compression::Snappy, Bytes{0}).value().empty());
  EXPECT_TRUE(decompress_body(Compression::Lz4, Bytes{}).value().empty());
}

TEST(Compression, AppendsToTheCallersBuffer) {
  Bytes out = {0xAA};
  Bytes body = text_body(300);
  ASSERT_TRUE(compress_body_into(Compression::Snappy, body, out));
  Bytes plain = {0xBB};
  ASSERT_TRUE(decompress_body_into(Compression::Snappy, ByteView(out).subspan(1), plain));
  ASSERT_EQ(plain.size(), 301u);
  EXPECT_EQ(plain[0], 0xBB);
  EXPECT_TRUE(std::equal(body.begin(), body.end(), plain.begin() + 1));
}

TEST(Compression, RejectsLz4DeclaredLengthOverTheLimitBeforeAllocating) {
  // Declares 4 GiB - 1 with a 1-byte block: must fail fast, not try to allocate.
  auto r = decompress_body(Compression::Lz4, Bytes{0xFF, 0xFF, 0xFF, 0xFF, 0x00});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::TooLarge);

  Bytes body = text_body(5000);
  auto packed = compress_body(Compression::Lz4, body).value();
  auto limited = decompress_body(Compression::Lz4, packed, 4999);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, Errc::TooLarge);
  EXPECT_TRUE(decompress_body(Compression::Lz4, packed, 5000));
}

TEST(Compression, RejectsDeclaredLengthsTheInputCannotExpandTo) {
  // 1 MiB declared from 6 compressed bytes is impossible for LZ4 (at most ~255:1).
  auto lz4 = decompress_body(Compression::Lz4, Bytes{0x00, 0x10, 0x00, 0x00, 0x1F, 0x00});
  ASSERT_FALSE(lz4);
  EXPECT_EQ(lz4.error().code, Errc::Compression);
  // Snappy varint length 0x10000000 (256 MiB) in a 5-byte input.
  auto snappy = decompress_body(Compression::Snappy, Bytes{0x80, 0x80, 0x80, 0x80, 0x01});
  ASSERT_FALSE(snappy);
  EXPECT_EQ(snappy.error().code, Errc::Compression);
}

TEST(Compression, RejectsCorruptLz4Block) {
  Bytes body = text_body(2000);
  auto packed = compress_body(Compression::Lz4, body).value();
  // Wrong declared length: the block decodes to 2000 bytes, not 1999.
  Bytes wrong_length = packed;
  store_be32(wrong_length.data(), 1999);
  auto r1 = decompress_body(Compression::Lz4, wrong_length);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, Errc::Compression);
  // Truncated block.
  Bytes truncated(packed.begin(), packed.end() - 5);
  auto r2 = decompress_body(Compression::Lz4, truncated);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::Compression);
  // Shorter than the length prefix.
  auto r3 = decompress_body(Compression::Lz4, Bytes{0x00, 0x01});
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, Errc::Compression);
}

TEST(Compression, RejectsCorruptSnappyInput) {
  Bytes body = text_body(2000);
  auto packed = compress_body(Compression::Snappy, body).value();
  Bytes truncated(packed.begin(), packed.end() - 3);
  auto r = decompress_body(Compression::Snappy, truncated);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Compression);
  auto garbage = decompress_body(Compression::Snappy, Bytes{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, Errc::Compression);
}

TEST(Compression, SurvivesRandomCorruptionOfCompressedBodies) {
  // Every outcome is allowed except a crash or sanitizer report; correct lengths are checked.
  std::mt19937 rng(1234);
  Bytes body = text_body(3000);
  for (auto c : {Compression::Lz4, Compression::Snappy}) {
    auto packed = compress_body(c, body).value();
    for (int i = 0; i < 300; ++i) {
      Bytes bad = packed;
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      auto r = decompress_body(c, bad, 10000);
      if (r) {
        EXPECT_LE(r->size(), 10000u);
      }
    }
  }
}

TEST(Compression, IncompressibleBodyGrowsOnlySlightly) {
  Bytes body = random_body(65536, 7);
  auto lz4 = compress_body(Compression::Lz4, body).value();
  auto snappy = compress_body(Compression::Snappy, body).value();
  EXPECT_LE(lz4.size(), body.size() + body.size() / 255 + 16 + 4);
  EXPECT_LE(snappy.size(), body.size() + body.size() / 6 + 32);
  EXPECT_EQ(decompress_body(Compression::Lz4, lz4).value(), body);
  EXPECT_EQ(decompress_body(Compression::Snappy, snappy).value(), body);
}

TEST(Compression, Lz4BlockDecodeNeedsTheExactLength) {
  Bytes body = text_body(777);
  Bytes block;
  ASSERT_TRUE(lz4_compress_block(body, block));
  Bytes out;
  ASSERT_TRUE(lz4_decompress_block(block, 777, out));
  EXPECT_EQ(out, body);
  out.clear();
  EXPECT_FALSE(lz4_decompress_block(block, 778, out));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(lz4_decompress_block(block, 776, out));
  EXPECT_FALSE(lz4_decompress_block(Bytes{}, 0, out));
}

}  // namespace
}  // namespace zdm::protocol
