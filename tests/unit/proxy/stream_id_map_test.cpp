#include "proxy/session/stream_id_map.hpp"

#include <set>

#include <gtest/gtest.h>

namespace zdm::proxy {
namespace {

TEST(StreamIdMap, HandsOutDistinctIdsUpToCapacityThenNone) {
  StreamIdMap ids(4);
  std::set<int16_t> seen;
  for (uint32_t owner = 0; owner < 4; ++owner) {
    auto id = ids.acquire(owner);
    ASSERT_TRUE(id);
    EXPECT_GE(*id, 0);
    EXPECT_LT(*id, 4);
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_TRUE(ids.full());
  EXPECT_FALSE(ids.acquire(9));
  EXPECT_EQ(ids.in_use(), 4);
}

TEST(StreamIdMap, ReleaseReturnsTheOwnerAndFreesTheId) {
  StreamIdMap ids(2);
  auto a = ids.acquire(7);
  auto b = ids.acquire(8);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ids.owner(*a), 7u);
  EXPECT_EQ(ids.release(*b), 8u);
  EXPECT_FALSE(ids.owner(*b));
  EXPECT_EQ(ids.in_use(), 1);
  auto c = ids.acquire(9);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, *b);  // LIFO reuse
  EXPECT_EQ(ids.owner(*c), 9u);
}

TEST(StreamIdMap, IgnoresAnswersForIdsNeverTakenOrOutOfRange) {
  StreamIdMap ids(8);
  EXPECT_FALSE(ids.release(3));
  EXPECT_FALSE(ids.release(-1));
  EXPECT_FALSE(ids.release(8));
  EXPECT_FALSE(ids.release(32767));
  auto a = ids.acquire(1);
  ASSERT_TRUE(a);
  EXPECT_TRUE(ids.release(*a));
  EXPECT_FALSE(ids.release(*a));  // a duplicate answer
}

TEST(StreamIdMap, OrphanedIdStaysTakenUntilTheLateAnswer) {
  StreamIdMap ids(1);
  auto a = ids.acquire(5);
  ASSERT_TRUE(a);
  EXPECT_TRUE(ids.orphan(*a));
  EXPECT_EQ(ids.orphans(), 1);
  // Not reusable while the node may still answer on it.
  EXPECT_FALSE(ids.acquire(6));
  EXPECT_EQ(ids.release(*a), StreamIdMap::kOrphan);
  EXPECT_EQ(ids.orphans(), 0);
  EXPECT_TRUE(ids.acquire(6));
}

TEST(StreamIdMap, OrphanOfAFreeIdIsRefused) {
  StreamIdMap ids(4);
  EXPECT_FALSE(ids.orphan(2));
  EXPECT_EQ(ids.orphans(), 0);
}

TEST(StreamIdMap, CapacityIsClampedToTheProtocolRange) {
  EXPECT_EQ(StreamIdMap(0).capacity(), 1);
  EXPECT_EQ(StreamIdMap(100000).capacity(), kMaxProtocolStreamIds);
  StreamIdMap big(kMaxProtocolStreamIds);
  int taken = 0;
  while (big.acquire(0)) ++taken;
  EXPECT_EQ(taken, kMaxProtocolStreamIds);
  EXPECT_TRUE(big.owner(32767));
}

TEST(StreamIdMap, RejectsTheReservedOrphanOwner) {
  StreamIdMap ids(2);
  EXPECT_FALSE(ids.acquire(StreamIdMap::kOrphan));
  EXPECT_EQ(ids.in_use(), 0);
}

}  // namespace
}  // namespace zdm::proxy
