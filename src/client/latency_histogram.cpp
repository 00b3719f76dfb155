#include "client/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace zdm::client {
namespace {
constexpr unsigned kSubBits = 7;                // 128 sub-buckets per power of two
constexpr uint64_t kSubCount = 1u << kSubBits;  // 128
constexpr uint64_t kLinear = 2 * kSubCount;     // values below 256 are exact
// Shifts run from 1 (values 256..511) to 56 (values up to 2^64 - 1).
constexpr size_t kBuckets = kLinear + 56 * kSubCount;
}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::bucket_index(uint64_t value) {
  if (value < kLinear) return static_cast<size_t>(value);
  unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));  // >= 8
  unsigned shift = msb - kSubBits;                                      // >= 1
  uint64_t sub = (value >> shift) - kSubCount;                          // [0, 128)
  return static_cast<size_t>(kLinear + (shift - 1) * kSubCount + sub);
}

uint64_t LatencyHistogram::bucket_lower(size_t index) {
  if (index < kLinear) return index;
  uint64_t rel = index - kLinear;
  unsigned shift = static_cast<unsigned>(rel / kSubCount) + 1;
  uint64_t sub = rel % kSubCount + kSubCount;
  return sub << shift;
}

uint64_t LatencyHistogram::bucket_upper(size_t index) {
  if (index < kLinear) return index;
  uint64_t rel = index - kLinear;
  unsigned shift = static_cast<unsigned>(rel / kSubCount) + 1;
  uint64_t sub = rel % kSubCount + kSubCount;
  return ((sub + 1) << shift) - 1;  // wraps to UINT64_MAX for the very last bucket, as intended
}

void LatencyHistogram::record(uint64_t value) { record_n(value, 1); }

void LatencyHistogram::record_n(uint64_t value, uint64_t n) {
  if (n == 0) return;
  counts_[bucket_index(value)] += n;
  count_ += n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value) * static_cast<long double>(n);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t lo = bucket_lower(i);
      uint64_t hi = bucket_upper(i);
      uint64_t mid = lo + (hi - lo) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace zdm::client
