// Live configuration: which settings may change, how a change is checked and applied as a whole,
// and what it does to the routing snapshot, the generation and the metrics.
#include "proxy/control/live_config.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "common/metrics.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/session/client_session.hpp"

namespace zdm::proxy {
namespace {

ProxyConfig valid_config() {
  ProxyConfig c;
  c.origin_contact_points = "127.0.0.2";
  c.target_contact_points = "127.0.0.3";
  return c;
}

struct LiveFixture : ::testing::Test {
  PreparedCache cache{10};
  SessionContext context{valid_config(), nullptr, &cache};
  metrics::Registry registry;
  LiveConfig live{context, registry, "zdm"};

  double metric(const std::string& name) {
    const std::string text = registry.expose();
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }
};

TEST(LiveSettings, ThePhaseSettingsAreLiveAndAddressesAreNot) {
  for (const char* name : {"primary_cluster", "read_mode", "read_comparison_rate",
                           "replace_cql_functions", "log_level", "proxy_request_timeout_ms",
                           "proxy_max_client_connections", "origin_connection_timeout_ms"}) {
    EXPECT_TRUE(is_live_setting(name)) << name;
  }
  for (const char* name : {"proxy_listen_address", "proxy_listen_port", "origin_contact_points",
                           "target_tls_server_ca_path", "metrics_port", "admin_token"}) {
    EXPECT_FALSE(is_live_setting(name)) << name;
    EXPECT_TRUE(is_known_setting(name)) << name;
  }
  EXPECT_FALSE(is_known_setting("primary_clustr"));
}

TEST(LiveSettings, DiffNamesEveryChangedSettingAndHidesSecrets) {
  ProxyConfig a, b;
  b.primary_cluster = ClusterType::Target;
  b.read_comparison_rate = 0.5;
  b.origin_password = "new secret";
  const auto diff = diff_settings(a, b);
  ASSERT_EQ(diff.size(), 3u);
  EXPECT_EQ(diff[0].name, "primary_cluster");
  EXPECT_EQ(diff[0].old_value, "ORIGIN");
  EXPECT_EQ(diff[0].new_value, "TARGET");
  bool secret_seen = false;
  for (const auto& c : diff) {
    EXPECT_EQ(c.new_value.find("new secret"), std::string::npos);
    if (c.name == "origin_password") secret_seen = true;
  }
  EXPECT_TRUE(secret_seen);
  EXPECT_TRUE(diff_settings(a, a).empty());
}

TEST_F(LiveFixture, APhaseChangePublishesANewRoutingSnapshot) {
  const auto before = context.routing().generation();
  auto applied = live.patch({{"primary_cluster", "TARGET"}, {"read_mode", "PRIMARY_ONLY"}},
                            std::nullopt, "test");
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(applied->generation, 2u);
  ASSERT_EQ(applied->changes.size(), 1u);  // read_mode was already PRIMARY_ONLY
  EXPECT_EQ(applied->changes[0].name, "primary_cluster");
  EXPECT_GT(context.routing().generation(), before);
  EXPECT_EQ(context.routing().current()->primary_cluster, ClusterType::Target);
  EXPECT_EQ(context.config()->primary_cluster, ClusterType::Target);
  EXPECT_EQ(metric("zdm_proxy_config_changes_total"), 1);
  EXPECT_EQ(metric("zdm_proxy_config_generation"), 2);
}

TEST_F(LiveFixture, TheTopologySurvivesAChange) {
  VirtualTopologyConfig tc;
  tc.addresses = {"127.0.0.1"};
  ClusterLocalInfo cluster;
  const std::string murmur3 = "org.apache.cassandra.dht.Murmur3Partitioner";
  cluster.local_row["partitioner"] = Bytes(murmur3.begin(), murmur3.end());
  auto created = VirtualTopology::create(tc, cluster);
  ASSERT_TRUE(created) << created.error().message;
  auto topology = std::make_shared<const VirtualTopology>(std::move(*created));
  context.set_topology(topology);
  ASSERT_TRUE(live.patch({{"read_mode", "DUAL_ASYNC_ON_SECONDARY"}}, std::nullopt, "test"));
  EXPECT_EQ(context.routing().current()->topology, topology);
  EXPECT_TRUE(context.routing().current()->async_reads());
}

TEST_F(LiveFixture, NothingChangedKeepsTheGeneration) {
  auto applied = live.patch({{"primary_cluster", "origin"}}, std::nullopt, "test");
  ASSERT_TRUE(applied);
  EXPECT_TRUE(applied->changes.empty());
  EXPECT_EQ(applied->generation, 1u);
  EXPECT_EQ(metric("zdm_proxy_config_changes_total"), 0);
}

TEST_F(LiveFixture, ASettingThatNeedsARestartIsRefusedAndNothingChanges) {
  auto refused = live.patch({{"primary_cluster", "TARGET"}, {"proxy_listen_port", "9999"}},
                            std::nullopt, "test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().http_status, 400u);
  EXPECT_EQ(refused.error().setting, "proxy_listen_port");
  EXPECT_NE(refused.error().message.find("restart"), std::string::npos);
  EXPECT_EQ(context.config()->primary_cluster, ClusterType::Origin);  // all or nothing
  EXPECT_EQ(live.generation(), 1u);
}

TEST_F(LiveFixture, InvalidValuesAreRefusedNamingTheSetting) {
  auto bad_enum = live.patch({{"read_mode", "SOMETIMES"}}, std::nullopt, "test");
  ASSERT_FALSE(bad_enum);
  EXPECT_EQ(bad_enum.error().setting, "read_mode");
  auto out_of_range = live.patch({{"read_comparison_rate", "1.5"}}, std::nullopt, "test");
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(out_of_range.error().http_status, 400u);
  EXPECT_EQ(out_of_range.error().setting, "read_comparison_rate");
  auto unknown = live.patch({{"primary_clustr", "TARGET"}}, std::nullopt, "test");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().setting, "primary_clustr");
  EXPECT_EQ(live.generation(), 1u);
}

TEST_F(LiveFixture, AStaleGenerationIsAConflict) {
  ASSERT_TRUE(live.patch({{"read_comparison_rate", "0.25"}}, 1, "first"));
  auto second = live.patch({{"read_comparison_rate", "0.5"}}, 1, "second");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().http_status, 409u);
  EXPECT_DOUBLE_EQ(context.config()->read_comparison_rate, 0.25);
  EXPECT_EQ(live.generation(), 2u);
}

TEST_F(LiveFixture, ReloadAppliesLiveDifferencesAndRefusesTheOthers) {
  ProxyConfig file = *context.config();
  file.read_mode = ReadMode::DualAsyncOnSecondary;
  auto applied = live.reload(file, "SIGHUP");
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->generation, 2u);
  file.origin_contact_points = "10.9.9.9";
  auto refused = live.reload(file, "SIGHUP");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().setting, "origin_contact_points");
  EXPECT_EQ(live.generation(), 2u);
}

TEST_F(LiveFixture, LogLevelChangesTheLogger) {
  const auto before = spdlog::get_level();
  ASSERT_TRUE(live.patch({{"log_level", "DEBUG"}}, std::nullopt, "test"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  ASSERT_TRUE(live.patch({{"log_level", "INFO"}}, std::nullopt, "test"));
  EXPECT_EQ(spdlog::get_level(), spdlog::level::info);
  spdlog::set_level(before);
}

}  // namespace
}  // namespace zdm::proxy
