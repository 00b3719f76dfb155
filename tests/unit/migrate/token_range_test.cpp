#include "migrate/token_range.hpp"

#include <gtest/gtest.h>

namespace zdm::migrate::test {
namespace {

TEST(TokenRange, SplitRingCoversTheWholeRingWithoutGapsOrOverlaps) {
  std::vector<TokenValue> ring{-4'000'000'000'000'000'000LL, 0, 5'000'000'000'000'000'000LL};
  auto ranges = split_ring(Partitioner::Murmur3, ring, 64);
  ASSERT_FALSE(ranges.empty());
  EXPECT_EQ(ranges.front().start, min_token(Partitioner::Murmur3));
  EXPECT_EQ(ranges.back().end, max_token(Partitioner::Murmur3));
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i].start, ranges[i - 1].end) << i;
    EXPECT_LT(ranges[i].start, ranges[i].end) << i;
  }
  EXPECT_GE(ranges.size(), 60u);
  EXPECT_LE(ranges.size(), 70u);
}

TEST(TokenRange, SplitRingCutsAtEveryNodeToken) {
  std::vector<TokenValue> ring{-100, 7, 123456789};
  auto ranges = split_ring(Partitioner::Murmur3, ring, 16);
  for (TokenValue t : ring) {
    bool boundary = false;
    for (const auto& r : ranges) boundary = boundary || r.end == t;
    EXPECT_TRUE(boundary) << token_to_string(t);
  }
}

TEST(TokenRange, RandomPartitionerRingStartsAtMinusOne) {
  auto ranges = split_ring(Partitioner::Random, {}, 8);
  ASSERT_EQ(ranges.size(), 8u);
  EXPECT_EQ(ranges.front().start, -1);
  EXPECT_EQ(ranges.back().end, max_token(Partitioner::Random));
  EXPECT_EQ(token_to_string(max_token(Partitioner::Random)),
            "170141183460469231731687303715884105727");
}

TEST(TokenRange, StringsRoundTripIncludingExtremes) {
  for (TokenValue t : {TokenValue{0}, TokenValue{-1}, static_cast<TokenValue>(INT64_MIN),
                       static_cast<TokenValue>(INT64_MAX), max_token(Partitioner::Random)}) {
    auto parsed = token_from_string(token_to_string(t));
    ASSERT_TRUE(parsed) << token_to_string(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_FALSE(token_from_string("12a"));
  EXPECT_FALSE(token_from_string(""));
}

TEST(TokenRange, EncodesMurmur3AsBigintAndRandomAsVarint) {
  auto m = encode_token(Partitioner::Murmur3, -2);
  EXPECT_EQ(m, (Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}));
  EXPECT_EQ(decode_token(Partitioner::Murmur3, m), -2);
  auto r = encode_token(Partitioner::Random, 300);
  EXPECT_EQ(r, (Bytes{0x01, 0x2c}));
  EXPECT_EQ(decode_token(Partitioner::Random, r), 300);
  EXPECT_EQ(decode_token(Partitioner::Random, encode_token(Partitioner::Random, -1)), -1);
}

TEST(TokenRange, SplitRangeNeverMakesEmptyRanges) {
  auto parts = split_range(TokenRange{10, 13}, 8);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts.front().start, 10);
  EXPECT_EQ(parts.back().end, 13);
}

TEST(TokenRange, PartitionerFromClassName) {
  EXPECT_EQ(partitioner_from_class("org.apache.cassandra.dht.Murmur3Partitioner"),
            Partitioner::Murmur3);
  EXPECT_EQ(partitioner_from_class("org.apache.cassandra.dht.RandomPartitioner"),
            Partitioner::Random);
  EXPECT_FALSE(partitioner_from_class("org.apache.cassandra.dht.ByteOrderedPartitioner"));
}

}  // namespace
}  // namespace zdm::migrate::test
