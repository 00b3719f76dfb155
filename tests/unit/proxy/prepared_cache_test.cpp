#include "proxy/routing/prepared_cache.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::proxy {
namespace {

Bytes id(std::string_view s) { return Bytes(s.begin(), s.end()); }

PreparedEntry entry(std::string_view origin, std::string_view target) {
  PreparedEntry e;
  e.origin_id = id(origin);
  e.target_id = id(target);
  e.query = "SELECT * FROM ks.t WHERE k = ?";
  e.keyspace = "ks";
  e.decision = StoredDecision::from(decide_statement(e.query, e.keyspace, {}));
  return e;
}

TEST(PreparedCache, MapsOriginIdsToTargetIdsAndBack) {
  PreparedCache cache(10);
  cache.put(entry("o1", "t1"));
  auto found = cache.find(id("o1"));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->target_id, id("t1"));
  EXPECT_EQ(found->decision.route, Route::Primary);  // the kind, never the cluster
  EXPECT_TRUE(found->decision.is_read);
  EXPECT_EQ(found->decision.keyspace, "ks");
  EXPECT_EQ(found->decision.table, "t");
  EXPECT_EQ(cache.origin_id_for_target(id("t1")), id("o1"));
  EXPECT_EQ(cache.origin_id_for_target(id("o1")), std::nullopt);
  EXPECT_EQ(cache.entries().load(), 1u);
  EXPECT_EQ(cache.misses().load(), 0u);
}

TEST(PreparedCache, CountsMisses) {
  PreparedCache cache(10);
  EXPECT_EQ(cache.find(id("nope")), nullptr);
  EXPECT_EQ(cache.find(id("nope")), nullptr);
  EXPECT_EQ(cache.misses().load(), 2u);
}

TEST(PreparedCache, EvictsTheLeastRecentlyUsedEntry) {
  PreparedCache cache(3);
  cache.put(entry("a", "ta"));
  cache.put(entry("b", "tb"));
  cache.put(entry("c", "tc"));
  ASSERT_NE(cache.find(id("a")), nullptr);  // a is now more recent than b and c
  cache.put(entry("d", "td"));              // evicts b
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_NE(cache.find(id("a")), nullptr);
  EXPECT_EQ(cache.find(id("b")), nullptr);
  EXPECT_NE(cache.find(id("c")), nullptr);
  EXPECT_NE(cache.find(id("d")), nullptr);
  // Recency order now: a, c, d (oldest first) -> the next insert evicts a.
  cache.put(entry("e", "te"));
  EXPECT_EQ(cache.find(id("a")), nullptr);
  EXPECT_NE(cache.find(id("c")), nullptr);
  EXPECT_EQ(cache.evictions().load(), 2u);
  EXPECT_EQ(cache.entries().load(), 3u);
}

TEST(PreparedCache, EvictionRemovesTheReverseMapping) {
  PreparedCache cache(2);
  cache.put(entry("a", "ta"));
  cache.put(entry("b", "tb"));
  cache.put(entry("c", "tc"));  // evicts a
  EXPECT_EQ(cache.origin_id_for_target(id("ta")), std::nullopt);
  EXPECT_EQ(cache.origin_id_for_target(id("tb")), id("b"));
  EXPECT_EQ(cache.origin_id_for_target(id("tc")), id("c"));
}

TEST(PreparedCache, ReplacingAnEntryDropsItsOldTargetId) {
  PreparedCache cache(4);
  cache.put(entry("a", "t-old"));
  cache.put(entry("a", "t-new"));  // target re-prepared and returned another id
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(id("a"))->target_id, id("t-new"));
  EXPECT_EQ(cache.origin_id_for_target(id("t-old")), std::nullopt);
  EXPECT_EQ(cache.origin_id_for_target(id("t-new")), id("a"));
}

TEST(PreparedCache, EraseRemovesBothDirections) {
  PreparedCache cache(4);
  cache.put(entry("a", "ta"));
  EXPECT_TRUE(cache.erase(id("a")));
  EXPECT_FALSE(cache.erase(id("a")));
  EXPECT_EQ(cache.find(id("a")), nullptr);
  EXPECT_EQ(cache.origin_id_for_target(id("ta")), std::nullopt);
  EXPECT_EQ(cache.entries().load(), 0u);
}

TEST(PreparedCache, EntriesOutliveTheirEviction) {
  PreparedCache cache(1);
  cache.put(entry("a", "ta"));
  auto held = cache.find(id("a"));
  cache.put(entry("b", "tb"));  // evicts a while a caller still uses it
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->target_id, id("ta"));
}

TEST(PreparedCache, HoldsInterceptedStatements) {
  PreparedCache cache(2);
  auto prepared =
      prepare_system_select("SELECT * FROM system.local", "", protocol::ProtocolVersion::V4);
  ASSERT_TRUE(prepared);
  cache.put_intercepted({prepared->result.id, "SELECT * FROM system.local", "", prepared->select});
  auto found = cache.find_intercepted(prepared->result.id);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->select.table, SystemTable::Local);
  EXPECT_EQ(cache.find_intercepted(id("other")), nullptr);
  EXPECT_EQ(cache.misses().load(), 0u);
  EXPECT_EQ(cache.size(), 0u);  // intercepted statements are not origin entries
}

TEST(PreparedCache, ConcurrentLookupsAndInsertsStayConsistent) {
  constexpr size_t kCapacity = 64;
  constexpr int kReaders = 4;
  constexpr int kLookups = 20000;
  PreparedCache cache(kCapacity);
  for (size_t i = 0; i < kCapacity; ++i) {
    cache.put(entry("o" + std::to_string(i), "t" + std::to_string(i)));
  }
  std::atomic<bool> mismatch{false};
  std::atomic<uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      for (int n = 0; n < kLookups; ++n) {
        const std::string key = std::to_string(static_cast<size_t>(n * 7 + r) % (2 * kCapacity));
        auto found = cache.find(id("o" + key));
        if (found != nullptr) {
          hits.fetch_add(1, std::memory_order_relaxed);
          if (found->target_id != id("t" + key)) mismatch = true;
        }
        auto origin = cache.origin_id_for_target(id("t" + key));
        if (origin && *origin != id("o" + key)) mismatch = true;
      }
    });
  }
  threads.emplace_back([&] {
    for (size_t n = 0; n < 2000; ++n) {
      const std::string key = std::to_string(n % (2 * kCapacity));
      cache.put(entry("o" + key, "t" + key));
    }
  });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(mismatch.load());
  EXPECT_GT(hits.load(), 0u);
  EXPECT_LE(cache.size(), kCapacity);
  EXPECT_EQ(cache.entries().load(), cache.size());
  EXPECT_EQ(cache.misses().load(), uint64_t{kReaders} * kLookups - hits.load());
}

}  // namespace
}  // namespace zdm::proxy
