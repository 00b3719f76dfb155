// Protocol version selection of the control connections and of client sessions.
#include <gtest/gtest.h>

#include "proxy/cluster/control_connection.hpp"
#include "proxy/session/client_session.hpp"

namespace zdm::proxy {
namespace {

using protocol::ProtocolVersion;

TEST(ControlVersions, StepDownFromTheConfiguredMaximum) {
  EXPECT_EQ(control_versions_from(ProtocolVersion::DseV2),
            (std::vector<ProtocolVersion>{ProtocolVersion::DseV2, ProtocolVersion::DseV1,
                                          ProtocolVersion::V5, ProtocolVersion::V4,
                                          ProtocolVersion::V3}));
  EXPECT_EQ(control_versions_from(ProtocolVersion::V4),
            (std::vector<ProtocolVersion>{ProtocolVersion::V4, ProtocolVersion::V3}));
  EXPECT_EQ(control_versions_from(ProtocolVersion::V3),
            (std::vector<ProtocolVersion>{ProtocolVersion::V3}));
}

TEST(ControlVersions, RecognisesAVersionRefusalByKindNotByText) {
  client::ClientError refused;
  refused.kind = client::ClientErrc::VersionRefused;
  refused.message = "anything";
  EXPECT_TRUE(is_version_refusal(refused));
  client::ClientError dropped;
  dropped.kind = client::ClientErrc::ConnectionClosed;  // servers that drop unknown versions
  EXPECT_TRUE(is_version_refusal(dropped));
  client::ClientError auth;
  auth.kind = client::ClientErrc::Auth;
  auth.message = "x: authentication as 'u' failed: BAD_CREDENTIALS wrong version of password";
  EXPECT_FALSE(is_version_refusal(auth));
  client::ClientError other;
  other.kind = client::ClientErrc::Protocol;  // a message mentioning versions is not enough
  other.message = "x: STARTUP with protocol v4 refused: PROTOCOL_ERROR protocol version (4)";
  EXPECT_FALSE(is_version_refusal(other));
  client::ClientError connect;
  connect.kind = client::ClientErrc::Connect;
  connect.message = "connecting to x: Connection refused";
  EXPECT_FALSE(is_version_refusal(connect));
}

TEST(ControlVersions, HighestListedVersionSkipsBetasAndJunk) {
  protocol::SupportedMessage s;
  EXPECT_FALSE(highest_listed_version(s));
  s.options.emplace_back("PROTOCOL_VERSIONS",
                         std::vector<std::string>{"3/v3", "4/v4", "5/v5-beta", "x", "999/v999"});
  EXPECT_EQ(highest_listed_version(s), ProtocolVersion::V4);
  s.options.back().second.push_back("5/v5");
  EXPECT_EQ(highest_listed_version(s), ProtocolVersion::V5);
  s.options.back().second.push_back("66/dse-v2");
  EXPECT_EQ(highest_listed_version(s), ProtocolVersion::DseV2);
}

std::shared_ptr<const ClusterView> view_at(ProtocolVersion v) {
  auto view = std::make_shared<ClusterView>();
  view->version = v;
  view->client_version = v;
  return view;
}

TEST(ControlVersions, SessionsUseDseVersionsOnlyWhenBothClustersSpeakThem) {
  PreparedCache cache(10);
  SessionContext ctx(ProxyConfig{}, nullptr, &cache);
  ctx.set_view(ClusterType::Origin, view_at(ProtocolVersion::DseV2));
  ctx.set_view(ClusterType::Target, view_at(ProtocolVersion::DseV1));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::DseV1);
  // Target without DSE versions: origin's best non-DSE version, which it does not list: v4.
  ctx.set_view(ClusterType::Target, view_at(ProtocolVersion::V5));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V4);
  // Origin lists v5 next to its DSE versions.
  auto listed = std::make_shared<ClusterView>(*view_at(ProtocolVersion::DseV2));
  listed->supported.options.emplace_back(
      "PROTOCOL_VERSIONS",
      std::vector<std::string>{"3/v3", "4/v4", "5/v5", "65/dse-v1", "66/dse-v2"});
  ctx.set_view(ClusterType::Origin, listed);
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V5);
}

TEST(ControlVersions, ClientVersionMayExceedACappedControlConnection) {
  PreparedCache cache(10);
  SessionContext ctx(ProxyConfig{}, nullptr, &cache);
  auto capped = std::make_shared<ClusterView>();
  capped->version = ProtocolVersion::V3;
  capped->client_version = ProtocolVersion::V5;
  ctx.set_view(ClusterType::Origin, capped);
  ctx.set_view(ClusterType::Target, view_at(ProtocolVersion::V5));
  EXPECT_EQ(ctx.max_version(), ProtocolVersion::V5);
}

}  // namespace
}  // namespace zdm::proxy
