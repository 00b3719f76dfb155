#include "common/murmur3.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace zdm {
namespace {

ByteView bytes_of(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

// Expected values come from the DataStax Python driver's cassandra.cmurmur3.murmur3 (an
// independent implementation of Cassandra's variant); the golden test covers thousands more.
TEST(Murmur3, HashesEmptyKeyToZeroButGivesItTheMinimumToken) {
  EXPECT_EQ(murmur3_hash64({}), 0);
  // Murmur3Partitioner.getToken returns MINIMUM (Long.MIN_VALUE) for an empty key.
  EXPECT_EQ(murmur3_token({}).value, INT64_MIN);
}

TEST(Murmur3, MatchesCassandraForAsciiKey) {
  EXPECT_EQ(murmur3_hash64(as_bytes("hello")), -3758069500696749310LL);
}

TEST(Murmur3, MatchesCassandraTokenOfIntOne) {
  // token(k) for an int partition key k = 1, as cqlsh shows it.
  const std::vector<uint8_t> key{0, 0, 0, 1};
  EXPECT_EQ(murmur3_token(bytes_of(key)).value, -4069959284402364209LL);
  const std::vector<uint8_t> zero{0, 0, 0, 0};
  EXPECT_EQ(murmur3_token(bytes_of(zero)).value, -3485513579396041028LL);
}

TEST(Murmur3, CoversFullBlocksAndTails) {
  const std::vector<uint8_t> sixteen(16, 'a');
  const std::vector<uint8_t> seventeen(17, 'a');
  EXPECT_EQ(murmur3_hash64(bytes_of(sixteen)), -954455200256842034LL);
  EXPECT_EQ(murmur3_hash64(bytes_of(seventeen)), 8030503933958084248LL);
}

TEST(Murmur3, SignExtendsTailBytesWithHighBitLikeCassandra) {
  std::vector<uint8_t> tail15;
  for (uint8_t b = 0x80; b < 0x80 + 15; ++b) tail15.push_back(b);
  EXPECT_EQ(murmur3_hash64(bytes_of(tail15)), 63099782945186636LL);
  const std::vector<uint8_t> short_high{0x80, 0xff, 0x90};
  EXPECT_EQ(murmur3_hash64(bytes_of(short_high)), -824315465439328626LL);
  std::vector<uint8_t> mixed;
  for (uint8_t b = 0xf0; b < 0xff; ++b) mixed.push_back(b);
  mixed.insert(mixed.end(), 17, 0xff);
  EXPECT_EQ(murmur3_hash64(bytes_of(mixed)), -6501373852599406909LL);
}

TEST(Murmur3, MapsLongMinValueToLongMaxValueAsGetTokenDoes) {
  EXPECT_EQ(normalize_murmur3_hash(INT64_MIN), INT64_MAX);
  EXPECT_EQ(normalize_murmur3_hash(INT64_MIN + 1), INT64_MIN + 1);
  EXPECT_EQ(normalize_murmur3_hash(INT64_MAX), INT64_MAX);
  EXPECT_EQ(normalize_murmur3_hash(0), 0);
}

TEST(Murmur3, EncodesCompositeKeyWithLengthsAndEndOfComponentBytes) {
  const std::vector<uint8_t> text{'a', 'b', 'c'};
  const std::vector<uint8_t> seven{0, 0, 0, 7};
  const std::array<ByteView, 2> parts{bytes_of(text), bytes_of(seven)};
  const Bytes key = composite_partition_key(parts);
  EXPECT_EQ(to_hex(key), "00036162630000040000000700");
  EXPECT_EQ(murmur3_token(key).value, -4043220674030979619LL);
}

TEST(Murmur3, CompositeOfEmptyComponentsKeepsTheirFraming) {
  const std::array<ByteView, 2> parts{ByteView{}, ByteView{}};
  EXPECT_EQ(to_hex(composite_partition_key(parts)), "000000000000");
}

TEST(Murmur3, CheckedCompositeRejectsComponentOver65535Bytes) {
  const std::vector<uint8_t> big(65536, 1);
  const std::vector<uint8_t> ok(65535, 1);
  const std::array<ByteView, 1> too_big{bytes_of(big)};
  const std::array<ByteView, 1> fits{bytes_of(ok)};
  auto r = composite_partition_key_checked(too_big);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::TooLarge);
  auto r2 = composite_partition_key_checked(fits);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->size(), 65535u + 3u);
}

}  // namespace
}  // namespace zdm
