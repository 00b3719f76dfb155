#pragma once
// The proxy's metric families, with the reference ZDM proxy's names, help texts, labels and
// buckets (so its Grafana dashboards work unchanged), plus our per-table families.
//
// register_proxy_metrics() registers everything once at startup. Proxy-level series are created
// eagerly (a dashboard sees 0, not "no data"); node-level series are bound per backend node with
// bind_node() when a connection to it is opened, and the session holds the returned pointers.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/metrics.hpp"

namespace zdm::proxy {

// Label values used by the reference proxy.
namespace label {
inline constexpr std::string_view kReadsOrigin = "reads_origin";
inline constexpr std::string_view kReadsTarget = "reads_target";
inline constexpr std::string_view kWrites = "writes";
inline constexpr std::string_view kReads = "reads";
inline constexpr std::string_view kOrigin = "origin";
inline constexpr std::string_view kTarget = "target";
inline constexpr std::string_view kBoth = "both";
inline constexpr std::string_view kMatch = "match";
inline constexpr std::string_view kMismatch = "mismatch";
}  // namespace label

// The `error` label of zdm_X_requests_failed_total, in the reference's vocabulary.
enum class NodeError : size_t {
  ClientTimeout,
  ReadTimeout,
  ReadFailure,
  WriteTimeout,
  WriteFailure,
  Overloaded,
  Unavailable,
  Unprepared,
  Other,
};
inline constexpr size_t kNodeErrorCount = 9;
std::string_view node_error_label(NodeError error);

struct ProxyMetricsOptions {
  std::string prefix = "zdm";  // ZDM_METRICS_PREFIX
  // Bucket bounds in milliseconds, as ZDM_METRICS_{ORIGIN,TARGET,ASYNC}_READ_LATENCY_BUCKETS_MS.
  std::vector<double> proxy_buckets_ms = default_buckets_ms();
  std::vector<double> origin_buckets_ms = default_buckets_ms();
  std::vector<double> target_buckets_ms = default_buckets_ms();
  std::vector<double> async_buckets_ms = default_buckets_ms();

  static std::vector<double> default_buckets_ms() {
    return {std::begin(metrics::kDefaultLatencyBucketsMs),
            std::end(metrics::kDefaultLatencyBucketsMs)};
  }
};

// Families of one connector kind (origin, target or async); labels in comments.
struct NodeMetricFamilies {
  metrics::CounterFamily* requests_failed = nullptr;     // {node, error}
  metrics::HistogramFamily* request_duration = nullptr;  // {node, type=reads|writes}
  metrics::GaugeFamily* connections = nullptr;           // {node}
  metrics::CounterFamily* failed_connections = nullptr;  // {node}
  metrics::GaugeFamily* used_stream_ids = nullptr;       // {node}
  metrics::GaugeFamily* inflight_requests = nullptr;     // {node}; async only, else null
};

// Series of one backend node, bound once and held by its connections.
struct NodeMetrics {
  std::array<metrics::Counter*, kNodeErrorCount> requests_failed{};  // indexed by NodeError
  metrics::Histogram* read_duration = nullptr;
  metrics::Histogram* write_duration = nullptr;
  metrics::Gauge* connections = nullptr;
  metrics::Counter* failed_connections = nullptr;
  metrics::Gauge* used_stream_ids = nullptr;
  metrics::Gauge* inflight_requests = nullptr;  // async only, else null

  metrics::Counter& failed(NodeError error) const {
    return *requests_failed[static_cast<size_t>(error)];
  }
};

// `node` is "ip:port", as the reference labels it.
NodeMetrics bind_node(const NodeMetricFamilies& families, std::string_view node);

struct ProxyMetrics {
  // Families, for labels beyond the pre-bound ones.
  metrics::HistogramFamily* request_duration = nullptr;     // {type}
  metrics::GaugeFamily* inflight_requests = nullptr;        // {type}
  metrics::CounterFamily* failed_reads = nullptr;           // {cluster}
  metrics::CounterFamily* failed_writes = nullptr;          // {failed_on}
  metrics::CounterFamily* failed_connections = nullptr;     // {cluster}
  metrics::CounterFamily* table_requests = nullptr;         // {keyspace, table, type}
  metrics::CounterFamily* table_failed_requests = nullptr;  // {keyspace, table, failed_on}
  metrics::CounterFamily* read_comparisons = nullptr;       // {keyspace, table, result}
  // result: match | mismatch | error | skipped | timeout (see proxy/read_comparison.hpp).

  // Pre-bound proxy-level series.
  metrics::Histogram* reads_origin_duration = nullptr;
  metrics::Histogram* reads_target_duration = nullptr;
  metrics::Histogram* writes_duration = nullptr;
  metrics::Gauge* inflight_reads_origin = nullptr;
  metrics::Gauge* inflight_reads_target = nullptr;
  metrics::Gauge* inflight_writes = nullptr;
  metrics::Counter* failed_reads_origin = nullptr;
  metrics::Counter* failed_reads_target = nullptr;
  metrics::Counter* failed_writes_origin = nullptr;
  metrics::Counter* failed_writes_target = nullptr;
  metrics::Counter* failed_writes_both = nullptr;
  metrics::Counter* failed_connections_origin = nullptr;
  metrics::Counter* failed_connections_target = nullptr;
  metrics::Counter* pscache_misses = nullptr;
  metrics::Counter* async_reprepares = nullptr;  // UNPREPARED from the secondary, re-prepared
  // Callback gauges in the reference: the proxy may set_function() on them, or set() them.
  metrics::Gauge* pscache_entries = nullptr;
  metrics::Gauge* client_connections = nullptr;

  NodeMetricFamilies origin;
  NodeMetricFamilies target;
  NodeMetricFamilies async;
};

// Registers every proxy family into `registry` (throws std::invalid_argument on a bad prefix or a
// clash with families already registered differently; calling it twice with the same options
// returns the same families).
ProxyMetrics register_proxy_metrics(metrics::Registry& registry,
                                    const ProxyMetricsOptions& options = {});

}  // namespace zdm::proxy
