// Metrics hot path: counter increments and histogram observations on a shared child, one and two
// threads, with histogram shard counts 1 (plain atomics per bucket) and 4 (per-thread shards).
// The numbers chose kDefaultHistogramShards; see src/common/README.md.

#include <string>

#include <benchmark/benchmark.h>

#include "common/metrics.hpp"

namespace {

using zdm::metrics::Counter;
using zdm::metrics::Gauge;
using zdm::metrics::Histogram;
using zdm::metrics::Registry;

Counter& shared_counter() {
  static Counter counter;
  return counter;
}

Gauge& shared_gauge() {
  static Gauge gauge;
  return gauge;
}

Histogram& shared_histogram(size_t shards) {
  static Histogram one(
      zdm::metrics::ms_to_seconds(std::span<const double>(zdm::metrics::kDefaultLatencyBucketsMs)),
      1);
  static Histogram four(
      zdm::metrics::ms_to_seconds(std::span<const double>(zdm::metrics::kDefaultLatencyBucketsMs)),
      4);
  return shards == 1 ? one : four;
}

void BM_CounterInc(benchmark::State& state) {
  auto& c = shared_counter();
  for (auto _ : state) c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

void BM_GaugeIncDec(benchmark::State& state) {
  auto& g = shared_gauge();
  for (auto _ : state) {
    g.inc();
    g.dec();
  }
  benchmark::DoNotOptimize(g.value());
}
BENCHMARK(BM_GaugeIncDec)->Threads(1)->Threads(2);

// Latencies spread over the buckets as a request mix would (0.5 ms .. 30 ms).
void BM_HistogramObserve(benchmark::State& state) {
  auto& h = shared_histogram(static_cast<size_t>(state.range(0)));
  double v = 0.0005 * static_cast<double>(state.thread_index() + 1);
  for (auto _ : state) {
    h.observe(v);
    v = v > 0.03 ? 0.0005 : v * 1.7;
  }
}
BENCHMARK(BM_HistogramObserve)->ArgName("shards")->Arg(1)->Arg(4)->Threads(1)->Threads(2);

// Child lookup by label values: what the hot path must NOT do per request.
void BM_FamilyLabelsLookup(benchmark::State& state) {
  static Registry registry;
  static auto& family = registry.counter_family("bench_total", "b", {"keyspace", "table"});
  for (auto _ : state) family.labels({"ks", "table"}).inc();
}
BENCHMARK(BM_FamilyLabelsLookup);

// A scrape of a proxy-sized registry (about 40 families, 10 nodes).
void BM_Expose(benchmark::State& state) {
  Registry registry;
  auto& hist = registry.histogram_family(
      "zdm_origin_request_duration_seconds", "h", {"node", "type"},
      zdm::metrics::ms_to_seconds(std::span<const double>(zdm::metrics::kDefaultLatencyBucketsMs)));
  auto& errors =
      registry.counter_family("zdm_origin_requests_failed_total", "c", {"node", "error"});
  for (int n = 0; n < 10; ++n) {
    const auto node = "10.0.0." + std::to_string(n) + ":9042";
    hist.labels({node, "reads"}).observe(0.003);
    hist.labels({node, "writes"}).observe(0.004);
    for (const char* e : {"read_timeout", "write_timeout", "overloaded", "other"}) {
      errors.labels({node, e}).inc();
    }
  }
  for (int i = 0; i < 40; ++i) registry.counter("zdm_c" + std::to_string(i) + "_total", "c").inc();
  size_t bytes = 0;
  for (auto _ : state) {
    auto text = registry.expose();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Expose);

}  // namespace
