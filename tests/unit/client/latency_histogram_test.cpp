#include "client/latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::client {
namespace {

TEST(LatencyHistogram, BucketsCoverEveryValueContiguously) {
  for (size_t i = 1; i < 256 + 56 * 128; ++i) {
    ASSERT_EQ(LatencyHistogram::bucket_lower(i), LatencyHistogram::bucket_upper(i - 1) + 1)
        << "bucket " << i;
  }
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{257},
                     uint64_t{1000}, uint64_t{123456789}, uint64_t{1} << 40, UINT64_MAX}) {
    size_t b = LatencyHistogram::bucket_index(v);
    EXPECT_LE(LatencyHistogram::bucket_lower(b), v);
    EXPECT_GE(LatencyHistogram::bucket_upper(b), v);
  }
}

TEST(LatencyHistogram, BucketWidthIsUnderOnePercent) {
  for (uint64_t v = 256; v < (1ull << 50); v = v * 3 / 2 + 7) {
    size_t b = LatencyHistogram::bucket_index(v);
    double width = static_cast<double>(LatencyHistogram::bucket_upper(b) -
                                       LatencyHistogram::bucket_lower(b) + 1);
    EXPECT_LT(width / static_cast<double>(v), 0.01) << v;
  }
}

TEST(LatencyHistogram, PercentilesMatchExactValuesWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(12.0, 1.0);  // ~160 us median in ns
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
    double exact = static_cast<double>(values[rank]);
    double got = static_cast<double>(h.percentile(q));
    EXPECT_NEAR(got, exact, exact * 0.01) << "q=" << q;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.percentile(1.0), values.back());
  EXPECT_EQ(h.count(), values.size());
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(0.5), 50u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, MergingEqualsRecordingIntoOne) {
  LatencyHistogram a, b, both;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    uint64_t v = rng() % 10'000'000;
    (i % 3 == 0 ? a : b).record(v);
    both.record(v);
  }
  LatencyHistogram merged;
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.count(), both.count());
  EXPECT_EQ(merged.min(), both.min());
  EXPECT_EQ(merged.max(), both.max());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) {
    EXPECT_EQ(merged.percentile(q), both.percentile(q)) << q;
  }
  EXPECT_NEAR(merged.mean(), both.mean(), 1e-6 * both.mean());
}

TEST(LatencyHistogram, EmptyAndReset) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  h.record(1000);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.99), 0u);
}

}  // namespace
}  // namespace zdm::client
