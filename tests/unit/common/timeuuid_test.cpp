#include "common/timeuuid.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace zdm {
namespace {

int64_t ticks_of(const Uuid& u) {
  auto t = timeuuid_ticks(u);
  EXPECT_TRUE(t.has_value());
  return t ? *t : -1;
}

TEST(Timeuuid, GeneratesVersion1WithRfc4122Variant) {
  TimeuuidGenerator gen;
  const Uuid u = gen.next();
  EXPECT_EQ(uuid_version(u), 1);
  EXPECT_TRUE(uuid_is_rfc4122(u));
}

TEST(Timeuuid, RandomNodeHasMulticastBitSet) {
  for (int i = 0; i < 16; ++i) {
    TimeuuidGenerator gen;
    const Uuid u = gen.next();
    EXPECT_EQ(u[10] & 0x01, 0x01) << uuid_to_string(u);
    EXPECT_LT(gen.node(), uint64_t{1} << 48);
    EXPECT_LT(gen.clock_sequence(), 1u << 14);
  }
}

TEST(Timeuuid, UsesGivenNodeAndClockSequence) {
  // Cross-checked with the DataStax driver: util.uuid_from_time(0.0, node=0x010203040506,
  // clock_seq=0x1234) == 13814000-1dd2-11b2-9234-010203040506.
  TimeuuidGenerator gen(0x010203040506ULL, 0x1234);
  EXPECT_EQ(uuid_to_string(gen.next_at(0)), "13814000-1dd2-11b2-9234-010203040506");
  EXPECT_EQ(uuid_to_string(make_timeuuid(kGregorianToUnixTicks, 0x1234, 0x010203040506ULL)),
            "13814000-1dd2-11b2-9234-010203040506");
}

TEST(Timeuuid, StrictlyIncreasingAcrossManyCalls) {
  TimeuuidGenerator gen;
  Uuid prev = gen.next();
  for (int i = 0; i < 100000; ++i) {
    const Uuid u = gen.next();
    ASSERT_LT(ticks_of(prev), ticks_of(u));
    ASSERT_LT(compare_timeuuid(prev, u), 0);
    prev = u;
  }
}

TEST(Timeuuid, KeepsIncreasingWhenClockStallsOrStepsBack) {
  TimeuuidGenerator gen(1, 1);
  const int64_t t0 = 17000000000000000;  // 2023 in 100 ns units
  const int64_t a = ticks_of(gen.next_at(t0));
  const int64_t b = ticks_of(gen.next_at(t0));         // stalled clock
  const int64_t c = ticks_of(gen.next_at(t0 - 5000));  // clock stepped back 0.5 ms
  const int64_t d = ticks_of(gen.next_at(t0 + 100));   // clock moved past the issued values
  EXPECT_EQ(a, t0 + kGregorianToUnixTicks);
  EXPECT_EQ(b, a + 1);
  EXPECT_EQ(c, b + 1);
  EXPECT_EQ(d, t0 + 100 + kGregorianToUnixTicks);
}

TEST(Timeuuid, UniqueAndIncreasingPerThreadAcrossThreads) {
  TimeuuidGenerator gen;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&gen, &seen, t] {
      auto& mine = seen[static_cast<size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(*timeuuid_ticks(gen.next()));
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  for (const auto& mine : seen) {
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    EXPECT_EQ(std::adjacent_find(mine.begin(), mine.end()), mine.end());
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate timestamp";
}

TEST(Timeuuid, ExtractsMillisecondsOfKnownUuid) {
  // Python's uuid module: UUID('d2177dd0-eaa2-11de-a572-001b779c76e3').time ==
  // 134803023898050000, i.e. 1261009589805 ms after the Unix epoch.
  auto u = uuid_from_string("d2177dd0-eaa2-11de-a572-001b779c76e3");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(ticks_of(*u), 134803023898050000LL);
  EXPECT_EQ(*timeuuid_unix_millis(*u), 1261009589805LL);
}

TEST(Timeuuid, MillisecondsRoundDownIncludingBeforeUnixEpoch) {
  TimeuuidGenerator gen(2, 2);
  EXPECT_EQ(*timeuuid_unix_millis(gen.next_at(1700000000123LL * 10000 + 9999)), 1700000000123LL);
  TimeuuidGenerator old(2, 2);
  EXPECT_EQ(*timeuuid_unix_millis(old.next_at(-15001)), -2);  // -1.5001 ms
}

TEST(Timeuuid, RejectsTimestampOfNonVersion1Uuid) {
  auto r = timeuuid_unix_millis(random_uuid());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
}

TEST(Timeuuid, MinAndMaxBracketEveryUuidOfTheirMillisecond) {
  const int64_t ms = 1700000000123LL;
  const Uuid lo = min_timeuuid(ms);
  const Uuid hi = max_timeuuid(ms);
  EXPECT_EQ(*timeuuid_unix_millis(lo), ms);
  EXPECT_EQ(*timeuuid_unix_millis(hi), ms);
  // Same timestamp bits as the DataStax driver's min_uuid_from_time(1700000000.123).
  EXPECT_EQ(uuid_to_string(lo), "04c284b0-833b-11ee-8080-808080808080");
  // Cassandra's maxTimeuuid: last tick of the millisecond, lsb 0x7f7f7f7f7f7f7f7f.
  EXPECT_EQ(ticks_of(hi), ticks_of(lo) + 9999);
  EXPECT_EQ(uuid_to_string(hi).substr(19), "7f7f-7f7f7f7f7f7f");

  for (uint16_t seq : {uint16_t{0}, uint16_t{0x1FFF}, uint16_t{0x3FFF}}) {
    for (uint64_t node : {uint64_t{0}, uint64_t{0xFFFFFFFFFFFF}, uint64_t{0x7F7F7F7F7F7F}}) {
      for (int64_t within : {int64_t{0}, int64_t{5000}, int64_t{9999}}) {
        const Uuid u = make_timeuuid(ticks_of(lo) + within, seq, node);
        EXPECT_LT(compare_timeuuid(lo, u), 0) << uuid_to_string(u);
        EXPECT_LT(compare_timeuuid(u, hi), 0) << uuid_to_string(u);
      }
    }
  }
  EXPECT_LT(compare_timeuuid(hi, min_timeuuid(ms + 1)), 0);
  EXPECT_LT(compare_timeuuid(max_timeuuid(ms - 1), lo), 0);
}

TEST(Timeuuid, MinMaxSaturateOutsideRepresentableRange) {
  EXPECT_EQ(ticks_of(min_timeuuid(INT64_MIN)), 0);
  EXPECT_EQ(ticks_of(max_timeuuid(INT64_MAX)), (int64_t{1} << 60) - 1);
}

TEST(Uuid, StringRoundTripsAndIsLowercase) {
  const Uuid u = random_uuid();
  const std::string s = uuid_to_string(u);
  ASSERT_EQ(s.size(), 36u);
  EXPECT_EQ(s[8], '-');
  EXPECT_EQ(s[23], '-');
  auto back = uuid_from_string(s);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, u);
  auto upper = uuid_from_string("D2177DD0-EAA2-11DE-A572-001B779C76E3");
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(uuid_to_string(*upper), "d2177dd0-eaa2-11de-a572-001b779c76e3");
}

TEST(Uuid, RejectsMalformedText) {
  for (const char* bad :
       {"", "d2177dd0eaa211dea572001b779c76e3", "d2177dd0-eaa2-11de-a572-001b779c76e",
        "d2177dd0-eaa2-11de-a572_001b779c76e3", "g2177dd0-eaa2-11de-a572-001b779c76e3",
        "d2177dd0-eaa2-11de-a572-001b779c76e33"}) {
    auto r = uuid_from_string(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, Errc::Malformed);
  }
}

TEST(Uuid, RandomUuidsAreVersion4AndDistinct) {
  const Uuid a = random_uuid();
  const Uuid b = random_uuid();
  EXPECT_EQ(uuid_version(a), 4);
  EXPECT_TRUE(uuid_is_rfc4122(a));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace zdm
