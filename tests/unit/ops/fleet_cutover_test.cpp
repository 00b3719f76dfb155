// zdm cutover against fake proxies: the verdict and its reasons, the clients still connected, and
// each driver's settings to reach target directly (contact points or an Astra bundle).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fleet_fake_proxy.hpp"
#include "ops/cutover.hpp"

namespace zdm::ops {
namespace {

using testing::FakeProxy;
using testing::FakeState;
using namespace std::chrono_literals;

class CutoverFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      proxies_.push_back(std::make_unique<FakeProxy>());
      proxies_.back()->with([](FakeState& s) { s.config["primary_cluster"] = "TARGET"; });
    }
  }
  CutoverVerdict judge() const {
    Fleet f;
    for (const auto& p : proxies_) {
      f.proxies.emplace_back(AdminAddress{"127.0.0.1", p->port()},
                             AdminClientOptions{2s, "", "zdm cutover (test@host)"});
    }
    return judge_cutover(take_snapshot(f, SnapshotOptions{true, 0ms}));
  }
  FakeProxy& proxy(size_t i) { return *proxies_[i]; }

  std::vector<std::unique_ptr<FakeProxy>> proxies_;
};

std::string all_reasons(const CutoverVerdict& v) {
  std::string out;
  for (const auto& r : v.reasons) out += r + "\n";
  return out;
}

TEST_F(CutoverFleet, ReadyWhenTargetIsPrimaryEverywhereCleanAndNobodyConnected) {
  auto v = judge();
  EXPECT_TRUE(v.ready) << all_reasons(v);
  auto text = render_cutover_text(v);
  EXPECT_EQ(text.rfind("READY: the proxies can be removed", 0), 0u) << text;
  ASSERT_TRUE(v.target);
  EXPECT_EQ(v.target->contact_points, (std::vector<std::string>{"10.1.0.1", "10.1.0.2"}));
  EXPECT_EQ(v.target->port, 9043);
  EXPECT_EQ(v.target->local_datacenter, "dc2");
  EXPECT_EQ(cutover_json(v)["ready"], true);
}

TEST_F(CutoverFleet, NotReadyWhileAProxyStillHasOriginPrimary) {
  proxy(1).with([](FakeState& s) { s.config["primary_cluster"] = "ORIGIN"; });
  auto v = judge();
  EXPECT_FALSE(v.ready);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0],
            "proxy " + proxy(1).address() +
                ": primary_cluster is ORIGIN, not TARGET (run zdm ctl phase 4 first)");
  EXPECT_EQ(render_cutover_text(v).rfind("NOT READY", 0), 0u);
}

TEST_F(CutoverFleet, NotReadyWithAsyncReadErrorsOrMismatches) {
  proxy(0).with([](FakeState& s) { s.status_extra = {{"async_read_errors", 2}}; });
  proxy(1).with([](FakeState& s) {
    s.status_extra = {{"read_comparison", {{"compared", 500}, {"mismatches", 1}}}};
  });
  auto v = judge();
  EXPECT_FALSE(v.ready);
  auto reasons = all_reasons(v);
  EXPECT_NE(reasons.find(proxy(0).address() + ": 2 async-read errors"), std::string::npos)
      << reasons;
  EXPECT_NE(reasons.find(proxy(1).address() + ": 1 read-comparison mismatch out of 500"),
            std::string::npos)
      << reasons;
}

TEST_F(CutoverFleet, NotReadyWhileAsyncWritesAreOwedToTheSecondary) {
  proxy(0).with([](FakeState& s) {
    s.status_extra = {{"secondary_writes", {{"journal_pending_records", 40}, {"in_flight", 2}}}};
  });
  proxy(1).with([](FakeState& s) {
    s.status_extra = {{"secondary_writes", {{"journal_aside_records", 1}, {"lost", 0}}}};
  });
  auto v = judge();
  EXPECT_FALSE(v.ready);
  auto reasons = all_reasons(v);
  EXPECT_NE(reasons.find(proxy(0).address() +
                         ": 40 journaled and 2 in-flight writes not yet on the secondary"),
            std::string::npos)
      << reasons;
  EXPECT_NE(reasons.find(proxy(1).address() + ": 1 write set aside by the secondary and 0 lost"),
            std::string::npos)
      << reasons;
}

TEST_F(CutoverFleet, NotReadyWhileClientsAreConnectedAndListsThem) {
  proxy(1).with([](FakeState& s) {
    s.clients = nlohmann::json::array({{{"address", "10.9.0.5:40000"},
                                        {"driver_name", "DataStax Python Driver"},
                                        {"driver_version", "3.25.0"},
                                        {"protocol_version", 4},
                                        {"keyspace", "shop"},
                                        {"connected_at", "2026-12-06T15:01:02Z"},
                                        {"last_request_at", "2026-12-06T15:09:40Z"},
                                        {"requests", 12}}});
  });
  auto v = judge();
  EXPECT_FALSE(v.ready);
  ASSERT_EQ(v.clients.size(), 1u);
  EXPECT_EQ(v.clients[0].proxy, proxy(1).address());
  EXPECT_NE(all_reasons(v).find("1 client connection still go through the proxies"),
            std::string::npos)
      << all_reasons(v);
  auto text = render_cutover_text(v);
  EXPECT_NE(text.find("10.9.0.5:40000  DataStax Python Driver 3.25.0"), std::string::npos) << text;
  auto json = cutover_json(v);
  EXPECT_EQ(json["clients"][0]["proxy"], proxy(1).address());
  EXPECT_EQ(json["clients"][0]["driver_name"], "DataStax Python Driver");
}

TEST_F(CutoverFleet, UnreachableProxyMeansNotReady) {
  proxy(0).stop();
  auto v = judge();
  EXPECT_FALSE(v.ready);
  EXPECT_NE(all_reasons(v).find("proxy " + proxy(0).address() + " unreachable: connection refused"),
            std::string::npos)
      << all_reasons(v);
  ASSERT_TRUE(v.target);  // from the proxy that answered
}

TEST_F(CutoverFleet, ProxiesThatReachDifferentTargetsAreNotReady) {
  proxy(1).with([](FakeState& s) { s.config["target_contact_points"] = "10.7.0.1"; });
  auto v = judge();
  EXPECT_FALSE(v.ready);
  EXPECT_NE(all_reasons(v).find("reaches target with other settings"), std::string::npos);
}

TEST(CutoverSnippets, ContactPointsPortAndDatacenterInEveryDriver) {
  TargetConnection t;
  t.contact_points = {"10.1.0.1", "10.1.0.2"};
  t.port = 9043;
  t.local_datacenter = "dc2";
  auto snippets = driver_snippets(t);
  ASSERT_EQ(snippets.size(), 4u);
  EXPECT_EQ(snippets[0].key, "java");
  EXPECT_NE(snippets[0].text.find("basic.contact-points = [\"10.1.0.1:9043\", \"10.1.0.2:9043\"]"),
            std::string::npos)
      << snippets[0].text;
  EXPECT_NE(snippets[0].text.find("basic.load-balancing-policy.local-datacenter = \"dc2\""),
            std::string::npos);
  EXPECT_EQ(snippets[1].key, "python");
  EXPECT_NE(snippets[1].text.find("contact_points=[\"10.1.0.1\", \"10.1.0.2\"],\n    port=9043,"),
            std::string::npos)
      << snippets[1].text;
  EXPECT_NE(snippets[1].text.find("DCAwareRoundRobinPolicy(local_dc=\"dc2\")"), std::string::npos);
  EXPECT_EQ(snippets[1].text.find("auth_provider"), std::string::npos);
  EXPECT_EQ(snippets[2].key, "nodejs");
  EXPECT_NE(snippets[2].text.find("contactPoints: [\"10.1.0.1\", \"10.1.0.2\"]"), std::string::npos)
      << snippets[2].text;
  EXPECT_NE(snippets[2].text.find("protocolOptions: { port: 9043 }"), std::string::npos);
  EXPECT_NE(snippets[2].text.find("localDataCenter: \"dc2\""), std::string::npos);
  EXPECT_EQ(snippets[3].key, "go");
  EXPECT_NE(snippets[3].text.find("gocql.NewCluster(\"10.1.0.1\", \"10.1.0.2\")"),
            std::string::npos)
      << snippets[3].text;
  EXPECT_NE(snippets[3].text.find("cluster.Port = 9043"), std::string::npos);
  EXPECT_NE(snippets[3].text.find("gocql.DCAwareRoundRobinPolicy(\"dc2\")"), std::string::npos);
}

TEST(CutoverSnippets, AstraBundleReplacesContactPoints) {
  TargetConnection t;
  t.secure_connect_bundle = "/etc/zdm/secure-connect-shop.zip";
  t.username = "client-id";
  auto snippets = driver_snippets(t);
  EXPECT_NE(snippets[0].text.find(
                "basic.cloud.secure-connect-bundle = \"/etc/zdm/secure-connect-shop.zip\""),
            std::string::npos)
      << snippets[0].text;
  EXPECT_EQ(snippets[0].text.find("contact-points"), std::string::npos);
  EXPECT_NE(snippets[1].text.find(
                "cloud={\"secure_connect_bundle\": \"/etc/zdm/secure-connect-shop.zip\"}"),
            std::string::npos)
      << snippets[1].text;
  EXPECT_NE(snippets[1].text.find("PlainTextAuthProvider(\"client-id\", \"<password>\")"),
            std::string::npos);
  EXPECT_NE(snippets[2].text.find("cloud: { secureConnectBundle: "), std::string::npos)
      << snippets[2].text;
  EXPECT_NE(snippets[3].text.find("gocqlastra.NewClusterFromBundle("), std::string::npos)
      << snippets[3].text;
}

TEST(CutoverSnippets, MissingDatacenterIsAPlaceholderWithANote) {
  TargetConnection t;
  t.contact_points = {"10.1.0.1"};
  for (const auto& s : driver_snippets(t)) {
    EXPECT_NE(s.text.find("<target datacenter>"), std::string::npos) << s.key;
    EXPECT_NE(s.text.find("no target_local_datacenter"), std::string::npos) << s.key;
  }
}

TEST(CutoverSnippets, CredentialsAndTlsWhenTheProxiesUseThem) {
  TargetConnection t;
  t.contact_points = {"db.example"};
  t.local_datacenter = "dc1";
  t.username = "app";
  t.tls_ca = "/etc/ssl/target-ca.pem";
  auto snippets = driver_snippets(t);
  EXPECT_NE(snippets[1].text.find("ssl.create_default_context(cafile=\"/etc/ssl/target-ca.pem\")"),
            std::string::npos)
      << snippets[1].text;
  EXPECT_NE(snippets[1].text.find("PlainTextAuthProvider(\"app\", \"<password>\")"),
            std::string::npos);
  EXPECT_NE(snippets[2].text.find("credentials: { username: \"app\""), std::string::npos);
  EXPECT_NE(snippets[3].text.find("gocql.SslOptions{CaPath: \"/etc/ssl/target-ca.pem\"}"),
            std::string::npos);
}

TEST_F(CutoverFleet, JsonHasTheTargetAndASnippetPerDriver) {
  auto json = cutover_json(judge());
  EXPECT_EQ(json["target"]["contact_points"], nlohmann::json({"10.1.0.1", "10.1.0.2"}));
  EXPECT_EQ(json["target"]["port"], 9043);
  for (const char* key : {"java", "python", "nodejs", "go"}) {
    ASSERT_TRUE(json["snippets"].contains(key)) << key;
    EXPECT_NE(json["snippets"][key].get<std::string>().find("10.1.0.1"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace zdm::ops
