#pragma once
// Prometheus-style metrics: counters, gauges and histograms grouped in labelled families, and the
// text exposition format 0.0.4.
//
// Hot-path contract: look a child up by its label values once (Family::labels, which locks and may
// allocate), keep the returned reference, and increment that. Increments are relaxed atomics: no
// lock, no allocation, no map lookup. Children live as long as their Registry and never move.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zdm::metrics {

enum class MetricType { Counter, Gauge, Histogram };
std::string_view metric_type_name(MetricType type);  // "counter", "gauge", "histogram"

// ---------------------------------------------------------------------------------------------
// Scrape-time snapshots: what collectors produce and the text formatter consumes.

struct SampleSnapshot {
  std::vector<std::string> label_values;  // same order as FamilySnapshot::label_names
  double value = 0;                       // counter and gauge
  std::vector<uint64_t> cumulative;       // histogram: one per bound, then +Inf
  double sum = 0;                         // histogram
  uint64_t count = 0;                     // histogram (equals cumulative.back())
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::Gauge;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histogram upper bounds, ascending, without +Inf
  std::vector<SampleSnapshot> samples;
};

// Text exposition format 0.0.4 of `families` in the given order. A family without samples is
// skipped, as the Go client does for a labelled vector with no children.
std::string format_text(std::span<const FamilySnapshot> families);
void append_text(std::string& out, const FamilySnapshot& family);

// Escapes per the exposition format: label values escape backslash, quote and newline; help text
// escapes backslash and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);

// "1", "0.001", "+Inf", "NaN": the shortest text that reads back to the same double.
std::string format_value(double value);

// Metric and label names as Prometheus accepts them; "le" and "__*" are reserved label names.
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

// ---------------------------------------------------------------------------------------------
// Children (one time series each).

// Monotonic counter. alignas keeps two hot counters off one cache line.
class alignas(64) Counter {
 public:
  void inc(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Integer gauge (in-flight requests, open connections, used stream ids) or, once a function is
// set, a callback gauge evaluated at scrape time.
class alignas(64) Gauge {
 public:
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(int64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void dec(int64_t n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

  // The function runs on the scraping thread while the registry is locked: it must be thread-safe
  // and must not call back into the registry. Replaces any previous function.
  void set_function(std::function<double()> fn);
  // Back to the stored integer (call before whatever the function reads is destroyed).
  void clear_function();

  // The function's result if one is set, else the stored integer.
  double read() const;

 private:
  std::atomic<int64_t> value_{0};
  std::atomic<bool> has_function_{false};
  mutable std::mutex function_mu_;
  std::function<double()> function_;
};

// Histogram with fixed upper bounds (inclusive, as Prometheus' `le`). Counts are kept in
// `shards` independent, cache-line aligned copies; a thread always writes the same shard, so
// threads on different shards never contend. Scrape sums the shards.
class Histogram {
 public:
  // `bounds` ascending; `shards` is rounded up to a power of two (1 = plain atomics per bucket).
  Histogram(std::vector<double> bounds, size_t shards);

  void observe(double value) noexcept;
  template <class Rep, class Period>
  void observe_duration(std::chrono::duration<Rep, Period> d) noexcept {
    observe(std::chrono::duration<double>(d).count());
  }

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  size_t shards() const noexcept { return shard_mask_ + 1; }

  // Cumulative counts (one per bound, then +Inf), sum and count merged across shards.
  void snapshot(SampleSnapshot& out) const;

 private:
  struct alignas(64) Line {
    std::atomic<uint64_t> slot[8];
  };
  std::atomic<uint64_t>& slot(size_t shard, size_t index) const noexcept {
    return lines_[shard * lines_per_shard_ + index / 8].slot[index % 8];
  }

  std::vector<double> bounds_;
  size_t shard_mask_ = 0;
  size_t lines_per_shard_ = 0;  // per shard: bounds+1 bucket slots, then one slot for the sum
  std::unique_ptr<Line[]> lines_;
};

// Sorted, deduplicated, without a trailing +Inf (always implied).
std::vector<double> normalize_bounds(std::vector<double> bounds);

// Cheap per-thread shard index (assigned round robin on a thread's first use).
size_t this_thread_shard() noexcept;

// Default shard count for histograms: chosen from bench/metrics_bench.cpp (see
// src/common/README.md).
inline constexpr size_t kDefaultHistogramShards = 4;

// Bucket bounds given in milliseconds (as the reference proxy configures them) to seconds.
std::vector<double> ms_to_seconds(std::span<const double> ms);
std::vector<double> ms_to_seconds(std::initializer_list<double> ms);

// The reference proxy's default latency buckets, in milliseconds.
inline constexpr double kDefaultLatencyBucketsMs[] = {
    1, 4, 7, 10, 25, 40, 60, 80, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 15000};

// ---------------------------------------------------------------------------------------------
// Families.

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names, std::vector<double> bounds = {});
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }  // histograms only

  virtual void collect(FamilySnapshot& out) const = 0;

 protected:
  // A label-value list of the wrong length is a programming error: asserts in debug builds; in
  // release the list is padded with "" or truncated so the family stays well-formed.
  std::vector<std::string> make_key(std::span<const std::string_view> values) const;

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
};

// A child's current value(s) into a snapshot sample.
void fill_sample(const Counter& counter, SampleSnapshot& out);
void fill_sample(const Gauge& gauge, SampleSnapshot& out);
void fill_sample(const Histogram& histogram, SampleSnapshot& out);

template <class Child>
class Family : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Child>()>;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds, Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names),
                   std::move(bounds)),
        factory_(std::move(factory)) {}

  // The child for these label values, created on first use. Cold: locks and may allocate. Hold the
  // reference; it stays valid for the family's lifetime.
  Child& labels(std::span<const std::string_view> values) {
    auto key = make_key(values);
    std::lock_guard lock(mu_);
    auto it = children_.find(key);
    if (it == children_.end()) it = children_.emplace(std::move(key), factory_()).first;
    return *it->second;
  }
  Child& labels(std::initializer_list<std::string_view> values) {
    return labels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Child& labels(std::span<const std::string> values) {
    std::vector<std::string_view> views(values.begin(), values.end());
    return labels(std::span<const std::string_view>(views));
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return children_.size();
  }

  void collect(FamilySnapshot& out) const override {
    std::lock_guard lock(mu_);
    for (const auto& [key, child] : children_) {
      auto& sample = out.samples.emplace_back();
      sample.label_values = key;
      fill_sample(*child, sample);
    }
  }

 private:
  Factory factory_;
  // Ordered by label values so the exposition is stable between scrapes.
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// Registry.

// Produces families at scrape time (process metrics, anything computed on demand).
using Collector = std::function<void(std::vector<FamilySnapshot>&)>;

class Registry {
 public:
  explicit Registry(size_t histogram_shards = kDefaultHistogramShards);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registration is control plane: an invalid name, or a name already registered with another
  // type, label set or bucket layout, throws std::invalid_argument. Registering the same shape
  // again returns the existing family.
  CounterFamily& counter_family(std::string name, std::string help,
                                std::vector<std::string> label_names);
  GaugeFamily& gauge_family(std::string name, std::string help,
                            std::vector<std::string> label_names);
  HistogramFamily& histogram_family(std::string name, std::string help,
                                    std::vector<std::string> label_names,
                                    std::vector<double> bounds);

  // Unlabelled shortcuts: the family's only child.
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  Gauge& gauge_function(std::string name, std::string help, std::function<double()> fn);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);

  void add_collector(Collector collector);

  // Every family (registered and collected), sorted by name.
  std::vector<FamilySnapshot> collect() const;
  // collect() in the text exposition format.
  std::string expose() const;

  // Content-Type of expose()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  template <class F>
  F& get_or_add(std::string name, std::string help, MetricType type,
                std::vector<std::string> label_names, std::vector<double> bounds,
                typename F::Factory factory);

  size_t histogram_shards_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
  std::vector<Collector> collectors_;
};

}  // namespace zdm::metrics
