#include "common/metrics.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::metrics {

std::string_view metric_type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

// ---------------------------------------------------------------------------------------------
// Text format

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

namespace {

bool name_char(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// Writes `{a="x",b="y"` (no closing brace) so a histogram can append its `le`.
void append_labels_open(std::string& out, const std::vector<std::string>& names,
                        const std::vector<std::string>& values) {
  out += '{';
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values) {
  if (names.empty()) return;
  append_labels_open(out, names, values);
  out += '}';
}

void append_series(std::string& out, std::string_view name, std::string_view suffix,
                   const FamilySnapshot& family, const SampleSnapshot& sample) {
  out += name;
  out += suffix;
  append_labels(out, family.label_names, sample.label_values);
  out += ' ';
}

}  // namespace

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name == "le" || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

void append_text(std::string& out, const FamilySnapshot& family) {
  if (family.samples.empty()) return;
  out += "# HELP ";
  out += family.name;
  out += ' ';
  out += escape_help(family.help);
  out += "\n# TYPE ";
  out += family.name;
  out += ' ';
  out += metric_type_name(family.type);
  out += '\n';
  for (const auto& sample : family.samples) {
    if (family.type != MetricType::Histogram) {
      append_series(out, family.name, "", family, sample);
      out += format_value(sample.value);
      out += '\n';
      continue;
    }
    for (size_t i = 0; i < sample.cumulative.size(); ++i) {
      out += family.name;
      out += "_bucket";
      append_labels_open(out, family.label_names, sample.label_values);
      if (!family.label_names.empty()) out += ',';
      out += "le=\"";
      out += i < family.bounds.size() ? format_value(family.bounds[i]) : "+Inf";
      out += "\"} ";
      out += fmt::format("{}", sample.cumulative[i]);
      out += '\n';
    }
    append_series(out, family.name, "_sum", family, sample);
    out += format_value(sample.sum);
    out += '\n';
    append_series(out, family.name, "_count", family, sample);
    out += fmt::format("{}", sample.count);
    out += '\n';
  }
}

std::string format_text(std::span<const FamilySnapshot> families) {
  std::string out;
  for (const auto& family : families) append_text(out, family);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Children

void Gauge::set_function(std::function<double()> fn) {
  std::lock_guard lock(function_mu_);
  function_ = std::move(fn);
  has_function_.store(static_cast<bool>(function_), std::memory_order_release);
}

void Gauge::clear_function() { set_function(nullptr); }

double Gauge::read() const {
  if (has_function_.load(std::memory_order_acquire)) {
    std::lock_guard lock(function_mu_);
    if (function_) return function_();
  }
  return static_cast<double>(value());
}

size_t this_thread_shard() noexcept {
  static std::atomic<size_t> next{0};
  thread_local size_t shard = SIZE_MAX;
  if (shard == SIZE_MAX) [[unlikely]]
    shard = next.fetch_add(1, std::memory_order_relaxed);
  return shard;
}

std::vector<double> normalize_bounds(std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  return bounds;
}

Histogram::Histogram(std::vector<double> bounds, size_t shards)
    : bounds_(normalize_bounds(std::move(bounds))) {
  shard_mask_ = std::bit_ceil(std::max<size_t>(shards, 1)) - 1;
  const size_t slots = bounds_.size() + 2;  // buckets, +Inf, sum
  lines_per_shard_ = (slots + 7) / 8;
  lines_ = std::make_unique<Line[]>(lines_per_shard_ * (shard_mask_ + 1));
}

void Histogram::observe(double value) noexcept {
  const auto index = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                         bounds_.begin());
  const size_t shard = this_thread_shard() & shard_mask_;
  slot(shard, index).fetch_add(1, std::memory_order_relaxed);
  // The sum is a double kept as bits; a thread owns its shard in the common case, so the CAS
  // loop succeeds on the first try.
  auto& sum = slot(shard, bounds_.size() + 1);
  uint64_t old_bits = sum.load(std::memory_order_relaxed);
  while (!sum.compare_exchange_weak(
      old_bits, std::bit_cast<uint64_t>(std::bit_cast<double>(old_bits) + value),
      std::memory_order_relaxed)) {
  }
}

void Histogram::snapshot(SampleSnapshot& out) const {
  const size_t buckets = bounds_.size() + 1;
  out.cumulative.assign(buckets, 0);
  out.sum = 0;
  for (size_t shard = 0; shard <= shard_mask_; ++shard) {
    for (size_t i = 0; i < buckets; ++i) {
      out.cumulative[i] += slot(shard, i).load(std::memory_order_relaxed);
    }
    out.sum += std::bit_cast<double>(slot(shard, buckets).load(std::memory_order_relaxed));
  }
  for (size_t i = 1; i < buckets; ++i) out.cumulative[i] += out.cumulative[i - 1];
  // Count from the buckets, so _count always equals the +Inf bucket even mid-update.
  out.count = out.cumulative.back();
}

std::vector<double> ms_to_seconds(std::span<const double> ms) {
  std::vector<double> out;
  out.reserve(ms.size());
  for (double v : ms) out.push_back(v / 1000.0);
  return out;
}

std::vector<double> ms_to_seconds(std::initializer_list<double> ms) {
  return ms_to_seconds(std::span<const double>(ms.begin(), ms.size()));
}

// ---------------------------------------------------------------------------------------------
// Families

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

std::vector<std::string> FamilyBase::make_key(std::span<const std::string_view> values) const {
  assert(values.size() == label_names_.size() && "wrong number of label values");
  if (values.size() != label_names_.size()) [[unlikely]] {
    spdlog::error("metric {}: {} label values given for {} labels; padding or truncating", name_,
                  values.size(), label_names_.size());
  }
  std::vector<std::string> key;
  key.reserve(label_names_.size());
  for (size_t i = 0; i < label_names_.size(); ++i) {
    key.emplace_back(i < values.size() ? values[i] : std::string_view{});
  }
  return key;
}

void fill_sample(const Counter& counter, SampleSnapshot& out) {
  out.value = static_cast<double>(counter.value());
}
void fill_sample(const Gauge& gauge, SampleSnapshot& out) { out.value = gauge.read(); }
void fill_sample(const Histogram& histogram, SampleSnapshot& out) { histogram.snapshot(out); }

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// Registry

Registry::Registry(size_t histogram_shards) : histogram_shards_(histogram_shards) {}

template <class F>
F& Registry::get_or_add(std::string name, std::string help, MetricType type,
                        std::vector<std::string> label_names, std::vector<double> bounds,
                        typename F::Factory factory) {
  if (!is_valid_metric_name(name)) {
    throw std::invalid_argument(fmt::format("invalid metric name '{}'", name));
  }
  for (const auto& label : label_names) {
    if (!is_valid_label_name(label)) {
      throw std::invalid_argument(fmt::format("metric {}: invalid label name '{}'", name, label));
    }
  }
  std::lock_guard lock(mu_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<F*>(it->second.get());
    if (existing == nullptr || existing->type() != type || existing->label_names() != label_names ||
        existing->bounds() != bounds) {
      throw std::invalid_argument(fmt::format(
          "metric {} is already registered with another type, labels or buckets", name));
    }
    return *existing;
  }
  auto family = std::make_unique<F>(name, std::move(help), type, std::move(label_names),
                                    std::move(bounds), std::move(factory));
  auto& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  // An unlabelled family always exposes its single series, even at zero.
  if (ref.label_names().empty()) ref.labels(std::span<const std::string_view>{});
  return ref;
}

CounterFamily& Registry::counter_family(std::string name, std::string help,
                                        std::vector<std::string> label_names) {
  return get_or_add<CounterFamily>(std::move(name), std::move(help), MetricType::Counter,
                                   std::move(label_names), {},
                                   [] { return std::make_unique<Counter>(); });
}

GaugeFamily& Registry::gauge_family(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  return get_or_add<GaugeFamily>(std::move(name), std::move(help), MetricType::Gauge,
                                 std::move(label_names), {},
                                 [] { return std::make_unique<Gauge>(); });
}

HistogramFamily& Registry::histogram_family(std::string name, std::string help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  for (double b : bounds) {
    if (std::isnan(b)) throw std::invalid_argument(fmt::format("metric {}: NaN bucket", name));
  }
  bounds = normalize_bounds(std::move(bounds));
  auto shards = histogram_shards_;
  auto factory = [bounds, shards] { return std::make_unique<Histogram>(bounds, shards); };
  return get_or_add<HistogramFamily>(std::move(name), std::move(help), MetricType::Histogram,
                                     std::move(label_names), bounds, std::move(factory));
}

Counter& Registry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {})
      .labels(std::span<const std::string_view>{});
}

Gauge& Registry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help), {})
      .labels(std::span<const std::string_view>{});
}

Gauge& Registry::gauge_function(std::string name, std::string help, std::function<double()> fn) {
  auto& g = gauge(std::move(name), std::move(help));
  g.set_function(std::move(fn));
  return g;
}

Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> bounds) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(bounds))
      .labels(std::span<const std::string_view>{});
}

void Registry::add_collector(Collector collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::collect() const {
  std::vector<FamilySnapshot> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      auto& snap = out.emplace_back();
      snap.name = family->name();
      snap.help = family->help();
      snap.type = family->type();
      snap.label_names = family->label_names();
      snap.bounds = family->bounds();
      family->collect(snap);
    }
    for (const auto& collector : collectors_) collector(out);
  }
  std::stable_sort(out.begin(), out.end(), [](const FamilySnapshot& a, const FamilySnapshot& b) {
    return a.name < b.name;
  });
  return out;
}

std::string Registry::expose() const {
  auto families = collect();
  return format_text(families);
}

}  // namespace zdm::metrics
