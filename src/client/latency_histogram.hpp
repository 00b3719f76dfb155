#pragma once
// An HDR-style latency histogram: log-linear buckets (each power of two split into 128 linear
// sub-buckets), so any recorded value is reported within 1/128 (< 0.8%) of itself, with a fixed
// footprint (~60 KB) and O(1) recording. Not thread-safe: keep one per thread and merge().

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zdm::client {

class LatencyHistogram {
 public:
  LatencyHistogram();

  void record(uint64_t value);
  void record_n(uint64_t value, uint64_t count);
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q in [0, 1] (0.99 = p99): the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, clamped to [min, max]. 0 when empty.
  uint64_t percentile(double q) const;

  // Bucket layout, exposed for tests: values below 256 have their own bucket; above, each power
  // of two [2^e, 2^(e+1)) has 128 buckets.
  static size_t bucket_index(uint64_t value);
  static uint64_t bucket_lower(size_t index);
  static uint64_t bucket_upper(size_t index);  // inclusive

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace zdm::client
