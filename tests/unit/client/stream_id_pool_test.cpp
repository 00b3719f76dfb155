#include "client/stream_id_pool.hpp"

#include <set>

#include <gtest/gtest.h>

namespace zdm::client {
namespace {

TEST(StreamIdPool, HandsOutEveryIdOnceUpToCapacity) {
  StreamIdPool pool;
  std::set<int16_t> seen;
  for (int i = 0; i < kMaxStreamIds; ++i) {
    auto id = pool.acquire();
    ASSERT_TRUE(id.has_value()) << "at " << i;
    EXPECT_GE(*id, 0);
    EXPECT_TRUE(seen.insert(*id).second) << "duplicate id " << *id;
  }
  EXPECT_FALSE(pool.acquire().has_value());
  EXPECT_EQ(pool.in_flight(), kMaxStreamIds);
  EXPECT_EQ(pool.available(), 0);
}

TEST(StreamIdPool, ReusesReleasedIdsLastInFirstOut) {
  StreamIdPool pool(4);
  auto a = *pool.acquire();
  auto b = *pool.acquire();
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_TRUE(pool.release(a));
  EXPECT_EQ(*pool.acquire(), a);
}

TEST(StreamIdPool, RejectsReleaseOfIdsNotTaken) {
  StreamIdPool pool(8);
  EXPECT_FALSE(pool.release(3));    // never taken
  EXPECT_FALSE(pool.release(-1));   // server-initiated ids are not ours
  EXPECT_FALSE(pool.release(100));  // out of range
  auto id = *pool.acquire();
  EXPECT_TRUE(pool.release(id));
  EXPECT_FALSE(pool.release(id));  // a duplicate response must not free it twice
  EXPECT_EQ(pool.available(), 8);
}

TEST(StreamIdPool, ClampsCapacity) {
  EXPECT_EQ(StreamIdPool(0).capacity(), 1);
  EXPECT_EQ(StreamIdPool(1 << 20).capacity(), kMaxStreamIds);
}

TEST(StreamIdPool, TimedOutIdStaysTakenUntilReleased) {
  StreamIdPool pool(2);
  auto a = *pool.acquire();
  auto b = *pool.acquire();
  (void)b;
  // A timed-out request keeps its id: nothing to hand out until the late answer frees it.
  EXPECT_FALSE(pool.acquire().has_value());
  EXPECT_TRUE(pool.in_use(a));
  pool.release(a);
  EXPECT_EQ(*pool.acquire(), a);
}

}  // namespace
}  // namespace zdm::client
