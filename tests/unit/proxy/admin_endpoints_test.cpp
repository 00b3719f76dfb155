#include "admin/admin_endpoints.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "common/process_metrics.hpp"
#include "proxy/proxy_metrics.hpp"

namespace zdm::admin {
namespace {

using proxy::bind_node;
using proxy::kNodeErrorCount;
using proxy::NodeError;
using proxy::ProxyMetrics;
using proxy::register_proxy_metrics;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

// Blocking client: fine here because the server runs on its own thread and answers each
// request before closing (Connection: close).
Reply fetch(uint16_t port, std::string target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.keep_alive(false);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {res.result_int(), std::string(res[http::field::content_type]), res.body()};
}

// A small parser of the text exposition format, independent of the code under test.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};
struct Exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;
  std::vector<std::string> errors;

  std::vector<Sample> find(const std::string& name) const {
    std::vector<Sample> out;
    for (const auto& s : samples) {
      if (s.name == name) out.push_back(s);
    }
    return out;
  }
};

Exposition parse_exposition(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      e.help[rest.substr(0, sp)] = sp == std::string::npos ? "" : rest.substr(sp + 1);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      e.type[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        auto eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          e.errors.push_back(line);
          break;
        }
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      e.errors.push_back(line);
      continue;
    }
    s.value = line.substr(i + 1);
    e.samples.push_back(std::move(s));
  }
  return e;
}

class AdminEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_ = register_proxy_metrics(registry_);
    metrics::register_process_metrics(registry_);
    server_.emplace(io_, HttpServerOptions{});
    endpoints_.emplace(*server_, registry_);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().to_string();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_->port(); }

  metrics::Registry registry_;
  ProxyMetrics metrics_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::optional<HttpServer> server_;
  std::optional<AdminEndpoints> endpoints_;
  std::thread thread_;
};

TEST_F(AdminEndpointsTest, LivenessIsAlways200Ok) {
  auto reply = fetch(port(), "/health/liveness");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, "OK");
}

TEST_F(AdminEndpointsTest, ReadinessGoesStartupThenDownThenUp) {
  auto startup = fetch(port(), "/health/readiness");
  EXPECT_EQ(startup.status, 503u);
  EXPECT_EQ(startup.content_type, "application/json");
  EXPECT_EQ(startup.body, R"({"OriginStatus":null,"TargetStatus":null,"Status":"STARTUP"})");

  std::atomic<int> origin_failures{1};
  endpoints_->set_readiness_provider([&origin_failures] {
    return ReadinessReport::from(
        ControlConnStatus::from_failures("10.0.0.1:9042", origin_failures.load(), 1),
        ControlConnStatus::from_failures("10.0.0.2:9042", 0, 1));
  });
  auto down = fetch(port(), "/health/readiness");
  EXPECT_EQ(down.status, 503u);
  EXPECT_EQ(down.body, R"({"OriginStatus":{"Addr":"10.0.0.1:9042","CurrentFailureCount":1,)"
                       R"("FailureCountThreshold":1,"Status":"DOWN"},)"
                       R"("TargetStatus":{"Addr":"10.0.0.2:9042","CurrentFailureCount":0,)"
                       R"("FailureCountThreshold":1,"Status":"UP"},"Status":"DOWN"})");

  origin_failures = 0;
  auto up = fetch(port(), "/health/readiness");
  EXPECT_EQ(up.status, 200u);
  EXPECT_EQ(up.body, R"({"OriginStatus":{"Addr":"10.0.0.1:9042","CurrentFailureCount":0,)"
                     R"("FailureCountThreshold":1,"Status":"UP"},)"
                     R"("TargetStatus":{"Addr":"10.0.0.2:9042","CurrentFailureCount":0,)"
                     R"("FailureCountThreshold":1,"Status":"UP"},"Status":"UP"})");

  endpoints_->clear_readiness_provider();
  EXPECT_EQ(fetch(port(), "/health/readiness").status, 503u);
}

TEST_F(AdminEndpointsTest, UnknownPathIs404) {
  EXPECT_EQ(fetch(port(), "/health/nope").status, 404u);
  EXPECT_EQ(fetch(port(), "/").status, 404u);
}

TEST_F(AdminEndpointsTest, MetricsParseWithReferenceNamesAndCumulativeBuckets) {
  metrics_.writes_duration->observe(0.002);
  metrics_.writes_duration->observe(0.030);
  metrics_.writes_duration->observe(20.0);
  metrics_.failed_writes_both->inc();
  auto node = bind_node(metrics_.origin, "10.0.0.1:9042");
  node.failed(NodeError::Overloaded).inc(2);
  node.connections->inc();

  auto reply = fetch(port(), "/metrics");
  ASSERT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type.rfind("text/plain; version=0.0.4", 0), 0u) << reply.content_type;
  auto e = parse_exposition(reply.body);
  EXPECT_TRUE(e.errors.empty()) << e.errors.front();

  // Every sample belongs to a family with HELP and TYPE.
  for (const auto& s : e.samples) {
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (family.size() > sfx.size() && family.ends_with(sfx) &&
          e.type.count(family.substr(0, family.size() - sfx.size())) != 0 &&
          e.type.at(family.substr(0, family.size() - sfx.size())) == "histogram") {
        family = family.substr(0, family.size() - sfx.size());
      }
    }
    EXPECT_EQ(e.help.count(family), 1u) << s.name;
    EXPECT_EQ(e.type.count(family), 1u) << s.name;
  }

  EXPECT_EQ(e.type["zdm_proxy_request_duration_seconds"], "histogram");
  EXPECT_EQ(e.type["zdm_proxy_failed_writes_total"], "counter");
  EXPECT_EQ(e.type["zdm_proxy_inflight_requests_total"], "gauge");
  EXPECT_EQ(e.type["zdm_origin_requests_failed_total"], "counter");
  EXPECT_EQ(e.type["process_cpu_seconds_total"], "counter");
  EXPECT_EQ(e.help["zdm_proxy_failed_writes_total"], "Running total of failed writes");

  // Writes histogram: 17 reference buckets + Inf, cumulative, Inf == count.
  std::vector<Sample> buckets;
  for (const auto& s : e.find("zdm_proxy_request_duration_seconds_bucket")) {
    if (s.labels.at("type") == "writes") buckets.push_back(s);
  }
  ASSERT_EQ(buckets.size(), 18u);
  EXPECT_EQ(buckets.front().labels.at("le"), "0.001");
  EXPECT_EQ(buckets.back().labels.at("le"), "+Inf");
  double previous = 0;
  for (const auto& b : buckets) {
    const double v = std::stod(b.value);
    EXPECT_GE(v, previous) << b.labels.at("le");
    previous = v;
  }
  EXPECT_EQ(buckets[0].value, "0");   // le=0.001
  EXPECT_EQ(buckets[1].value, "1");   // le=0.004
  EXPECT_EQ(buckets[4].value, "1");   // le=0.025 (0.030 is above it)
  EXPECT_EQ(buckets[5].value, "2");   // le=0.04
  EXPECT_EQ(buckets[16].value, "2");  // le=15
  EXPECT_EQ(buckets[17].value, "3");  // +Inf
  for (const auto& c : e.find("zdm_proxy_request_duration_seconds_count")) {
    if (c.labels.at("type") == "writes") {
      EXPECT_EQ(c.value, "3");
    }
  }

  // Pre-bound proxy series exist at 0; node series carry node and error labels.
  bool both_found = false;
  for (const auto& s : e.find("zdm_proxy_failed_writes_total")) {
    if (s.labels.at("failed_on") == "both") {
      both_found = true;
      EXPECT_EQ(s.value, "1");
    }
  }
  EXPECT_TRUE(both_found);
  EXPECT_EQ(e.find("zdm_proxy_failed_reads_total").size(), 2u);
  bool overloaded_found = false;
  for (const auto& s : e.find("zdm_origin_requests_failed_total")) {
    EXPECT_EQ(s.labels.at("node"), "10.0.0.1:9042");
    if (s.labels.at("error") == "overloaded") {
      overloaded_found = true;
      EXPECT_EQ(s.value, "2");
    }
  }
  EXPECT_TRUE(overloaded_found);
  EXPECT_EQ(e.find("zdm_origin_requests_failed_total").size(), kNodeErrorCount);
  ASSERT_EQ(e.find("zdm_origin_connections_total").size(), 1u);
  EXPECT_EQ(e.find("zdm_origin_connections_total")[0].value, "1");
  EXPECT_EQ(e.find("process_open_fds").size(), 1u);
}

}  // namespace
}  // namespace zdm::admin
