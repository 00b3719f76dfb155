#include "proxy/proxy_metrics.hpp"

#include <fmt/format.h>

namespace zdm::proxy {

using metrics::ms_to_seconds;

std::string_view node_error_label(NodeError error) {
  switch (error) {
    case NodeError::ClientTimeout:
      return "client_timeout";
    case NodeError::ReadTimeout:
      return "read_timeout";
    case NodeError::ReadFailure:
      return "read_failure";
    case NodeError::WriteTimeout:
      return "write_timeout";
    case NodeError::WriteFailure:
      return "write_failure";
    case NodeError::Overloaded:
      return "overloaded";
    case NodeError::Unavailable:
      return "unavailable";
    case NodeError::Unprepared:
      return "unprepared";
    case NodeError::Other:
      return "other";
  }
  return "other";
}

namespace {

// Help texts of the reference proxy where it has the family; ours otherwise.
struct NodeHelp {
  const char* kind;  // "origin", "target", "async"
  const char* requests_failed;
  const char* request_duration;
  const char* connections;
  const char* failed_connections;
  const char* used_stream_ids;
};

constexpr NodeHelp kOriginHelp{
    "origin",
    "Running total of requests that failed on Origin Cluster",
    "Histogram that tracks the latency of requests sent to origin clusters at cluster connector "
    "level",
    "Number of connections to Origin Cassandra currently open",
    "Running total of failed connection attempts to Origin nodes",
    "Number of used stream ids in Origin connections"};
constexpr NodeHelp kTargetHelp{
    "target",
    "Running total of requests that failed on Target Cluster",
    "Histogram that tracks the latency of requests sent to target clusters at cluster connector "
    "level",
    "Number of connections to Target Cassandra currently open",
    "Running total of failed connection attempts to Target nodes",
    "Number of used stream ids in Target connections"};
constexpr NodeHelp kAsyncHelp{
    "async",
    "Running total of requests that failed on Async Connector",
    "Histogram that tracks the latency of async requests at async cluster connector level",
    "Number of connections currently open for async requests",
    "Running total of failed connection attempts for async requests",
    "Number of used stream ids in Async connections"};

NodeMetricFamilies register_node(metrics::Registry& r, const std::string& prefix,
                                 const NodeHelp& help, const std::vector<double>& buckets_ms) {
  auto name = [&](const char* suffix) {
    return prefix.empty() ? fmt::format("{}_{}", help.kind, suffix)
                          : fmt::format("{}_{}_{}", prefix, help.kind, suffix);
  };
  NodeMetricFamilies f;
  f.requests_failed =
      &r.counter_family(name("requests_failed_total"), help.requests_failed, {"node", "error"});
  f.request_duration = &r.histogram_family(name("request_duration_seconds"), help.request_duration,
                                           {"node", "type"}, ms_to_seconds(buckets_ms));
  f.connections = &r.gauge_family(name("connections_total"), help.connections, {"node"});
  f.failed_connections =
      &r.counter_family(name("failed_connections_total"), help.failed_connections, {"node"});
  f.used_stream_ids =
      &r.gauge_family(name("used_stream_ids_total"), help.used_stream_ids, {"node"});
  return f;
}

}  // namespace

NodeMetrics bind_node(const NodeMetricFamilies& families, std::string_view node) {
  NodeMetrics m;
  for (size_t i = 0; i < kNodeErrorCount; ++i) {
    m.requests_failed[i] =
        &families.requests_failed->labels({node, node_error_label(static_cast<NodeError>(i))});
  }
  m.read_duration = &families.request_duration->labels({node, label::kReads});
  m.write_duration = &families.request_duration->labels({node, label::kWrites});
  m.connections = &families.connections->labels({node});
  m.failed_connections = &families.failed_connections->labels({node});
  m.used_stream_ids = &families.used_stream_ids->labels({node});
  if (families.inflight_requests != nullptr) {
    m.inflight_requests = &families.inflight_requests->labels({node});
  }
  return m;
}

ProxyMetrics register_proxy_metrics(metrics::Registry& r, const ProxyMetricsOptions& options) {
  const std::string& p = options.prefix;
  auto name = [&](std::string_view suffix) {
    return p.empty() ? std::string(suffix) : fmt::format("{}_{}", p, suffix);
  };
  ProxyMetrics m;

  m.request_duration =
      &r.histogram_family(name("proxy_request_duration_seconds"),
                          "Histogram that tracks the latency of requests at proxy entry point",
                          {"type"}, ms_to_seconds(options.proxy_buckets_ms));
  m.inflight_requests =
      &r.gauge_family(name("proxy_inflight_requests_total"),
                      "Number of requests currently in flight in the proxy", {"type"});
  m.failed_reads = &r.counter_family(name("proxy_failed_reads_total"),
                                     "Running total of failed reads", {"cluster"});
  m.failed_writes = &r.counter_family(name("proxy_failed_writes_total"),
                                      "Running total of failed writes", {"failed_on"});
  m.failed_connections = &r.counter_family(
      name("proxy_failed_connections_total"),
      "Running total of failed requests due to inability to connect to a given cluster",
      {"cluster"});
  m.pscache_entries = &r.gauge(name("pscache_entries_total"),
                               "Number of entries currently in the prepared statement cache");
  m.pscache_misses = &r.counter(name("pscache_miss_total"),
                                "Running total of prepared statement cache misses in the proxy");
  m.client_connections =
      &r.gauge(name("client_connections_total"), "Number of client connections currently open");

  m.table_requests = &r.counter_family(name("proxy_table_requests_total"),
                                       "Running total of requests per table and request type",
                                       {"keyspace", "table", "type"});
  m.table_failed_requests =
      &r.counter_family(name("proxy_table_failed_requests_total"),
                        "Running total of failed requests per table, by the cluster they failed on",
                        {"keyspace", "table", "failed_on"});
  m.read_comparisons = &r.counter_family(
      name("proxy_read_comparisons_total"),
      "Running total of async read results compared with the primary's, by outcome",
      {"keyspace", "table", "result"});
  m.async_reprepares = &r.counter(
      name("async_reprepares_total"),
      "Running total of statements re-prepared on the async connection after UNPREPARED");

  m.reads_origin_duration = &m.request_duration->labels({label::kReadsOrigin});
  m.reads_target_duration = &m.request_duration->labels({label::kReadsTarget});
  m.writes_duration = &m.request_duration->labels({label::kWrites});
  m.inflight_reads_origin = &m.inflight_requests->labels({label::kReadsOrigin});
  m.inflight_reads_target = &m.inflight_requests->labels({label::kReadsTarget});
  m.inflight_writes = &m.inflight_requests->labels({label::kWrites});
  m.failed_reads_origin = &m.failed_reads->labels({label::kOrigin});
  m.failed_reads_target = &m.failed_reads->labels({label::kTarget});
  m.failed_writes_origin = &m.failed_writes->labels({label::kOrigin});
  m.failed_writes_target = &m.failed_writes->labels({label::kTarget});
  m.failed_writes_both = &m.failed_writes->labels({label::kBoth});
  m.failed_connections_origin = &m.failed_connections->labels({label::kOrigin});
  m.failed_connections_target = &m.failed_connections->labels({label::kTarget});

  m.origin = register_node(r, p, kOriginHelp, options.origin_buckets_ms);
  m.target = register_node(r, p, kTargetHelp, options.target_buckets_ms);
  m.async = register_node(r, p, kAsyncHelp, options.async_buckets_ms);
  m.async.inflight_requests =
      &r.gauge_family(name("async_inflight_requests_total"),
                      "Number of async requests currently in flight", {"node"});
  return m;
}

}  // namespace zdm::proxy
