#include "proxy/proxy_metrics.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::proxy {
namespace {

using metrics::MetricType;

// name -> (type, labels) of every family in the registry.
std::map<std::string, std::pair<MetricType, std::vector<std::string>>> shapes(
    const metrics::Registry& r) {
  std::map<std::string, std::pair<MetricType, std::vector<std::string>>> out;
  for (const auto& f : r.collect()) out[f.name] = {f.type, f.label_names};
  return out;
}

TEST(ProxyMetrics, RegistersTheReferenceFamilySetWithItsLabels) {
  metrics::Registry r;
  register_proxy_metrics(r);
  using L = std::vector<std::string>;
  const std::map<std::string, std::pair<MetricType, L>> expected = {
      {"zdm_proxy_request_duration_seconds", {MetricType::Histogram, L{"type"}}},
      {"zdm_proxy_inflight_requests_total", {MetricType::Gauge, L{"type"}}},
      {"zdm_proxy_failed_reads_total", {MetricType::Counter, L{"cluster"}}},
      {"zdm_proxy_failed_writes_total", {MetricType::Counter, L{"failed_on"}}},
      {"zdm_proxy_failed_connections_total", {MetricType::Counter, L{"cluster"}}},
      {"zdm_pscache_entries_total", {MetricType::Gauge, L{}}},
      {"zdm_pscache_miss_total", {MetricType::Counter, L{}}},
      {"zdm_client_connections_total", {MetricType::Gauge, L{}}},
      {"zdm_proxy_table_requests_total", {MetricType::Counter, L{"keyspace", "table", "type"}}},
      {"zdm_proxy_table_failed_requests_total",
       {MetricType::Counter, L{"keyspace", "table", "failed_on"}}},
      {"zdm_proxy_read_comparisons_total", {MetricType::Counter, L{"keyspace", "table", "result"}}},
      {"zdm_async_inflight_requests_total", {MetricType::Gauge, L{"node"}}},
      {"zdm_async_reprepares_total", {MetricType::Counter, L{}}},
  };
  auto actual = shapes(r);
  for (const auto& [name, shape] : expected) {
    ASSERT_EQ(actual.count(name), 1u) << name;
    EXPECT_EQ(actual[name].first, shape.first) << name;
    EXPECT_EQ(actual[name].second, shape.second) << name;
  }
  for (const char* x : {"origin", "target", "async"}) {
    const std::string p = std::string("zdm_") + x;
    const std::map<std::string, std::pair<MetricType, L>> node = {
        {p + "_requests_failed_total", {MetricType::Counter, L{"node", "error"}}},
        {p + "_request_duration_seconds", {MetricType::Histogram, L{"node", "type"}}},
        {p + "_connections_total", {MetricType::Gauge, L{"node"}}},
        {p + "_failed_connections_total", {MetricType::Counter, L{"node"}}},
        {p + "_used_stream_ids_total", {MetricType::Gauge, L{"node"}}},
    };
    for (const auto& [name, shape] : node) {
      ASSERT_EQ(actual.count(name), 1u) << name;
      EXPECT_EQ(actual[name].first, shape.first) << name;
      EXPECT_EQ(actual[name].second, shape.second) << name;
    }
  }
  EXPECT_EQ(actual.count("zdm_origin_inflight_requests_total"), 0u);
  EXPECT_EQ(actual.size(), expected.size() + 15);
}

TEST(ProxyMetrics, ProxyLevelSeriesExistAtZeroBeforeAnyTraffic) {
  metrics::Registry r;
  register_proxy_metrics(r);
  const auto text = r.expose();
  for (const char* series : {"zdm_proxy_failed_reads_total{cluster=\"origin\"} 0\n",
                             "zdm_proxy_failed_reads_total{cluster=\"target\"} 0\n",
                             "zdm_proxy_failed_writes_total{failed_on=\"both\"} 0\n",
                             "zdm_proxy_inflight_requests_total{type=\"reads_origin\"} 0\n",
                             "zdm_proxy_request_duration_seconds_count{type=\"reads_target\"} 0\n",
                             "zdm_proxy_failed_connections_total{cluster=\"target\"} 0\n",
                             "zdm_pscache_miss_total 0\n", "zdm_client_connections_total 0\n"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series;
  }
}

TEST(ProxyMetrics, PrefixAndBucketsAreConfigurable) {
  metrics::Registry r;
  ProxyMetricsOptions options;
  options.prefix = "cg";
  options.origin_buckets_ms = {5, 50};
  auto m = register_proxy_metrics(r, options);
  auto actual = shapes(r);
  EXPECT_EQ(actual.count("cg_proxy_failed_reads_total"), 1u);
  EXPECT_EQ(actual.count("cg_origin_request_duration_seconds"), 1u);
  EXPECT_EQ(actual.count("zdm_proxy_failed_reads_total"), 0u);
  EXPECT_EQ(m.origin.request_duration->bounds(), (std::vector<double>{0.005, 0.05}));
  EXPECT_EQ(m.target.request_duration->bounds().size(), 17u);
  EXPECT_THROW(register_proxy_metrics(r, ProxyMetricsOptions{.prefix = "bad-prefix"}),
               std::invalid_argument);
}

TEST(ProxyMetrics, RegisteringTwiceReturnsTheSameFamilies) {
  metrics::Registry r;
  auto a = register_proxy_metrics(r);
  auto b = register_proxy_metrics(r);
  EXPECT_EQ(a.failed_writes_both, b.failed_writes_both);
  EXPECT_EQ(a.origin.requests_failed, b.origin.requests_failed);
}

TEST(ProxyMetrics, BindNodeCreatesEveryErrorSeriesAndReadWriteHistograms) {
  metrics::Registry r;
  auto m = register_proxy_metrics(r);
  auto node = bind_node(m.async, "10.1.1.1:9042");
  std::set<metrics::Counter*> distinct(node.requests_failed.begin(), node.requests_failed.end());
  EXPECT_EQ(distinct.size(), kNodeErrorCount);
  EXPECT_EQ(distinct.count(nullptr), 0u);
  ASSERT_NE(node.inflight_requests, nullptr);
  EXPECT_NE(node.read_duration, node.write_duration);
  node.failed(NodeError::ClientTimeout).inc();
  node.read_duration->observe(0.003);
  const auto text = r.expose();
  EXPECT_NE(text.find("zdm_async_requests_failed_total{node=\"10.1.1.1:9042\","
                      "error=\"client_timeout\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("zdm_async_request_duration_seconds_count{node=\"10.1.1.1:9042\","
                      "type=\"reads\"} 1\n"),
            std::string::npos);
  // Binding the same node again yields the same series (connections share them).
  auto again = bind_node(m.async, "10.1.1.1:9042");
  EXPECT_EQ(again.read_duration, node.read_duration);
  EXPECT_EQ(bind_node(m.origin, "x").inflight_requests, nullptr);
}

TEST(ProxyMetrics, NodeErrorLabelsMatchTheReference) {
  const std::vector<std::string> expected = {"client_timeout", "read_timeout",  "read_failure",
                                             "write_timeout",  "write_failure", "overloaded",
                                             "unavailable",    "unprepared",    "other"};
  for (size_t i = 0; i < kNodeErrorCount; ++i) {
    EXPECT_EQ(node_error_label(static_cast<NodeError>(i)), expected[i]);
  }
}

}  // namespace
}  // namespace zdm::proxy
