// The operations API over HTTP (an in-process admin server on its own io thread): who may change
// what, how answers look, and the helpers behind /api/v1/status and /api/v1/statements.
#include "proxy/control/operations_api.hpp"

#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "proxy/control/live_config.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/session/client_session.hpp"

namespace zdm::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Json = nlohmann::json;

struct Reply {
  unsigned status = 0;
  Json body;
};

Reply call(uint16_t port, http::verb verb, const std::string& target, const std::string& body = "",
           const std::string& token = "", const std::string& if_match = "") {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(verb, target, 11);
  req.keep_alive(false);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!if_match.empty()) req.set(http::field::if_match, if_match);
  req.set("X-Zdm-Actor", "unit test");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {res.result_int(), Json::parse(res.body())};
}

class ApiFixture : public ::testing::Test {
 protected:
  void start(const std::string& token) {
    metrics = register_proxy_metrics(registry);
    ProxyConfig config;
    config.origin_contact_points = "127.0.0.2";
    config.target_contact_points = "127.0.0.3";
    context.emplace(config, &metrics, &cache);
    live.emplace(*context, registry, "zdm");
    server.emplace(io, admin::HttpServerOptions{});
    StatusSource source;
    source.version = "zdm test";
    source.instance = [] { return std::string("127.0.0.1:9042"); };
    source.readiness = [] { return admin::ReadinessReport::startup(); };
    source.draining = [] { return false; };
    api.emplace(*server, *live, *context, metrics, cache, token, source);
    ASSERT_TRUE(server->start());
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    if (server) server->stop();
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  uint16_t port() const { return server->port(); }

  metrics::Registry registry;
  ProxyMetrics metrics;
  PreparedCache cache{100};
  std::optional<SessionContext> context;
  std::optional<LiveConfig> live;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::optional<admin::HttpServer> server;
  std::optional<OperationsApi> api;
  std::thread thread;
};

TEST_F(ApiFixture, ConfigIsReadableWithoutAToken) {
  start("s3cret");
  auto r = call(port(), http::verb::get, "/api/v1/config");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body["generation"], 1);
  EXPECT_EQ(r.body["config"]["primary_cluster"], "ORIGIN");
  EXPECT_EQ(r.body["config"]["admin_token"], "");  // not set in the config here
  const auto& live_names = r.body["live"];
  EXPECT_NE(std::find(live_names.begin(), live_names.end(), "read_mode"), live_names.end());
}

TEST_F(ApiFixture, ChangesNeedTheRightToken) {
  start("s3cret");
  const std::string body = R"({"primary_cluster": "TARGET"})";
  EXPECT_EQ(call(port(), http::verb::patch, "/api/v1/config", body).status, 401u);
  EXPECT_EQ(call(port(), http::verb::patch, "/api/v1/config", body, "wrong").status, 401u);
  EXPECT_EQ(context->config()->primary_cluster, ClusterType::Origin);
  auto ok = call(port(), http::verb::patch, "/api/v1/config", body, "s3cret");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body["generation"], 2);
  EXPECT_EQ(ok.body["changed"]["primary_cluster"]["old"], "ORIGIN");
  EXPECT_EQ(ok.body["changed"]["primary_cluster"]["new"], "TARGET");
  EXPECT_EQ(context->routing().current()->primary_cluster, ClusterType::Target);
}

TEST_F(ApiFixture, WithoutATokenTheApiIsReadOnly) {
  start("");
  auto r = call(port(), http::verb::patch, "/api/v1/config", R"({"read_mode": "PRIMARY_ONLY"})",
                "anything");
  EXPECT_EQ(r.status, 403u);
  EXPECT_NE(r.body["error"].get<std::string>().find("ZDM_ADMIN_TOKEN"), std::string::npos);
}

TEST_F(ApiFixture, BadBodiesAndValuesAre400NamingTheSetting) {
  start("t");
  EXPECT_EQ(call(port(), http::verb::patch, "/api/v1/config", "not json", "t").status, 400u);
  EXPECT_EQ(call(port(), http::verb::patch, "/api/v1/config", "[1]", "t").status, 400u);
  auto bad =
      call(port(), http::verb::patch, "/api/v1/config", R"({"read_comparison_rate": 7})", "t");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.body["setting"], "read_comparison_rate");
  auto fixed =
      call(port(), http::verb::patch, "/api/v1/config", R"({"proxy_listen_port": 1})", "t");
  EXPECT_EQ(fixed.status, 400u);
  EXPECT_EQ(fixed.body["setting"], "proxy_listen_port");
  // Numbers, booleans and lists are accepted as the YAML file would give them.
  auto typed = call(port(), http::verb::patch, "/api/v1/config",
                    R"({"read_comparison_rate": 0.5, "replace_cql_functions": true,
                        "blocked_protocol_versions": ["v5", "DseV1"]})",
                    "t");
  EXPECT_EQ(typed.status, 200u) << typed.body.dump();
  EXPECT_DOUBLE_EQ(context->config()->read_comparison_rate, 0.5);
  EXPECT_TRUE(context->config()->replace_cql_functions);
  EXPECT_EQ(context->config()->blocked_protocol_versions, "v5,DseV1");
}

TEST_F(ApiFixture, IfMatchTellsConcurrentWritersWhichOneWon) {
  start("t");
  auto first = call(port(), http::verb::patch, "/api/v1/config", R"({"read_mode":
      "DUAL_ASYNC_ON_SECONDARY"})",
                    "t", "1");
  EXPECT_EQ(first.status, 200u);
  auto second = call(port(), http::verb::patch, "/api/v1/config",
                     R"({"read_mode": "PRIMARY_ONLY"})", "t", "1");
  EXPECT_EQ(second.status, 409u);
  EXPECT_EQ(second.body["generation"], 2);
  EXPECT_TRUE(context->routing().current()->async_reads());
}

TEST_F(ApiFixture, StatusReportsPhaseAndStartup) {
  start("t");
  auto r = call(port(), http::verb::get, "/api/v1/status");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body["phase"], 1);
  EXPECT_EQ(r.body["ready"], false);
  EXPECT_EQ(r.body["status"], "STARTUP");
  EXPECT_EQ(r.body["version"], "zdm test");
  metrics.writes_duration->observe(0.002);
  metrics.failed_writes_target->inc();
  const std::string_view match[] = {"ks", "t", "match"};
  const std::string_view mismatch[] = {"ks", "t", "mismatch"};
  metrics.read_comparisons->labels(match).inc(3);
  metrics.read_comparisons->labels(mismatch).inc();
  call(port(), http::verb::patch, "/api/v1/config", R"({"primary_cluster": "TARGET"})", "t");
  r = call(port(), http::verb::get, "/api/v1/status");
  EXPECT_EQ(r.body["phase"], 4);
  EXPECT_EQ(r.body["generation"], 2);
  EXPECT_EQ(r.body["requests_total"], 1);
  EXPECT_EQ(r.body["failed_writes"]["target"], 1);
  EXPECT_EQ(r.body["read_comparison"]["compared"], 4);
  EXPECT_EQ(r.body["read_comparison"]["mismatches"], 1);
  EXPECT_GT(r.body["latency_p99_ms"]["writes"].get<double>(), 1.0);
  EXPECT_LE(r.body["latency_p99_ms"]["writes"].get<double>(), 4.0);
}

TEST_F(ApiFixture, StatementsListNonDeterministicFunctions) {
  start("t");
  PreparedEntry entry;
  entry.origin_id = Bytes{1};
  entry.target_id = Bytes{2};
  entry.query = "INSERT INTO ks.t (id, at) VALUES (?, now())";
  entry.keyspace = "ks";
  cache.put(entry);
  auto r = call(port(), http::verb::get, "/api/v1/statements");
  ASSERT_EQ(r.body["statements"].size(), 1u);
  EXPECT_EQ(r.body["statements"][0]["nondeterministic_functions"], Json::array({"now"}));
  EXPECT_EQ(call(port(), http::verb::get, "/api/v1/clients").body["clients"].size(), 0u);
}

TEST(NondeterministicFunctions, FindsCallsNotWordsOrLiterals) {
  EXPECT_EQ(nondeterministic_functions("INSERT INTO t (a, b) VALUES (now(), UUID ())"),
            (std::vector<std::string>{"now", "uuid"}));
  EXPECT_TRUE(nondeterministic_functions("SELECT now FROM t WHERE x = 'now()'").empty());
  EXPECT_TRUE(nondeterministic_functions("SELECT \"now\"(x) FROM t -- now()\n").empty());
  EXPECT_EQ(nondeterministic_functions("UPDATE t SET a = toTimestamp(currentTimestamp())"),
            (std::vector<std::string>{"currenttimestamp"}));
  EXPECT_EQ(nondeterministic_functions("SELECT 'it''s now()', now() FROM t"),
            (std::vector<std::string>{"now"}));
}

TEST(HistogramQuantile, InterpolatesInsideTheBucket) {
  const std::vector<double> bounds{1, 2, 4};
  EXPECT_DOUBLE_EQ(histogram_quantile(0.5, bounds, {0, 10, 10, 10}), 1.5);
  EXPECT_DOUBLE_EQ(histogram_quantile(0.99, bounds, {0, 0, 0, 5}), 4);  // +Inf: the last bound
  EXPECT_DOUBLE_EQ(histogram_quantile(0.99, bounds, {0, 0, 0, 0}), 0);
  EXPECT_NEAR(histogram_quantile(0.99, bounds, {100, 100, 100, 100}), 0.99, 1e-12);
}

}  // namespace
}  // namespace zdm::proxy
