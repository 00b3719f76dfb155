#include "proxy/session/client_session.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "proxy/cluster/control_connection.hpp"

namespace zdm::proxy {
namespace {

using protocol::ProtocolVersion;

std::shared_ptr<const ClusterView> view_with(ProtocolVersion v,
                                             std::vector<std::string> compressions) {
  auto view = std::make_shared<ClusterView>();
  view->version = v;
  view->client_version = v;
  view->supported.options.emplace_back("CQL_VERSION", std::vector<std::string>{"3.4.5"});
  view->supported.options.emplace_back("COMPRESSION", std::move(compressions));
  return view;
}

std::vector<std::string> compression_of(const protocol::SupportedMessage& s) {
  for (const auto& [k, v] : s.options) {
    if (k == "COMPRESSION") return v;
  }
  return {"<absent>"};
}

TEST(SessionContext, SupportedCompressionIsTheIntersectionOfBothClusters) {
  PreparedCache cache(10);
  SessionContext ctx(ProxyConfig{}, nullptr, &cache);
  ctx.set_view(ClusterType::Origin, view_with(ProtocolVersion::V4, {"lz4", "snappy"}));
  ctx.set_view(ClusterType::Target, view_with(ProtocolVersion::V4, {"lz4"}));
  EXPECT_EQ(compression_of(ctx.supported()), std::vector<std::string>{"lz4"});
  ctx.set_view(ClusterType::Target, view_with(ProtocolVersion::V4, {}));
  EXPECT_TRUE(compression_of(ctx.supported()).empty());
}

TEST(SessionContext, MaxVersionIsTheLowerOfTheClusters) {
  PreparedCache cache(10);
  SessionContext ctx(ProxyConfig{}, nullptr, &cache);
  ctx.set_view(ClusterType::Origin, view_with(ProtocolVersion::V5, {}));
  ctx.set_view(ClusterType::Target, view_with(ProtocolVersion::V4, {}));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V4);
  ctx.set_view(ClusterType::Target, view_with(ProtocolVersion::V5, {}));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V5);
}

TEST(SessionContext, BlockedVersionsStepTheMaximumDown) {
  PreparedCache cache(10);
  ProxyConfig config;
  config.blocked_protocol_versions = "v5";
  SessionContext ctx(config, nullptr, &cache);
  ctx.set_view(ClusterType::Origin, view_with(ProtocolVersion::V5, {}));
  ctx.set_view(ClusterType::Target, view_with(ProtocolVersion::V5, {}));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V4);
}

TEST(SessionContext, RoundRobinsOverNodesPerCluster) {
  PreparedCache cache(10);
  SessionContext ctx(ProxyConfig{}, nullptr, &cache);
  EXPECT_EQ(ctx.next_node_index(ClusterType::Origin), 0u);
  EXPECT_EQ(ctx.next_node_index(ClusterType::Origin), 1u);
  EXPECT_EQ(ctx.next_node_index(ClusterType::Target), 0u);
}

ClusterNode node(std::string address, std::string rack, uint8_t id) {
  ClusterNode n;
  n.address = std::move(address);
  n.rack = std::move(rack);
  n.host_id[15] = id;
  return n;
}

TEST(AssignHosts, SortsByRackThenHostIdAndTakesEveryNth) {
  std::vector<ClusterNode> nodes{node("10.0.0.3", "r2", 1), node("10.0.0.1", "r1", 2),
                                 node("10.0.0.2", "r1", 1), node("10.0.0.4", "r2", 2)};
  auto mine = assign_hosts(nodes, 1, 2);
  ASSERT_EQ(mine.size(), 2u);
  // Sorted: r1/1 (10.0.0.2), r1/2 (10.0.0.1), r2/1 (10.0.0.3), r2/2 (10.0.0.4).
  EXPECT_EQ(mine[0].address, "10.0.0.1");
  EXPECT_EQ(mine[1].address, "10.0.0.4");
  auto theirs = assign_hosts(nodes, 0, 2);
  EXPECT_EQ(theirs[0].address, "10.0.0.2");
  EXPECT_EQ(theirs[1].address, "10.0.0.3");
}

TEST(AssignHosts, EveryProxyGetsAHostWhenThereAreFewerHostsThanProxies) {
  std::vector<ClusterNode> nodes{node("10.0.0.1", "r1", 1)};
  for (size_t i = 0; i < 3; ++i) {
    auto mine = assign_hosts(nodes, i, 3);
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].address, "10.0.0.1");
  }
}

TEST(PlainSasl, TokenIsNulUserNulPassword) {
  Bytes t = plain_sasl_token("cassandra", "pw");
  const std::string expected("\0cassandra\0pw", 13);
  EXPECT_EQ(std::string(t.begin(), t.end()), expected);
}

}  // namespace
}  // namespace zdm::proxy
