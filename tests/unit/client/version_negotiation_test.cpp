#include "client/version_negotiation.hpp"

#include <gtest/gtest.h>

namespace zdm::client {
namespace {

using protocol::ProtocolVersion;

protocol::ErrorMessage error(protocol::ErrorCode code, std::string text) {
  protocol::ErrorMessage m;
  m.code = code;
  m.message = std::move(text);
  return m;
}

TEST(VersionNegotiation, StepsDownFromV5ToV3ThenGivesUp) {
  VersionNegotiation n;
  EXPECT_TRUE(n.negotiating());
  EXPECT_EQ(n.current(), ProtocolVersion::V5);
  EXPECT_EQ(n.on_rejected(), ProtocolVersion::V4);
  EXPECT_EQ(n.on_rejected(), ProtocolVersion::V3);
  EXPECT_EQ(n.on_rejected(), std::nullopt);
  EXPECT_EQ(n.on_rejected(), std::nullopt);
}

TEST(VersionNegotiation, JumpsToTheVersionTheServerAnsweredIn) {
  VersionNegotiation n;
  EXPECT_EQ(n.on_rejected(ProtocolVersion::V3), ProtocolVersion::V3);
  EXPECT_EQ(n.on_rejected(ProtocolVersion::V3), std::nullopt);
}

TEST(VersionNegotiation, IgnoresAServerVersionThatIsNotLower) {
  VersionNegotiation n;
  EXPECT_EQ(n.on_rejected(ProtocolVersion::V5), ProtocolVersion::V4);
  EXPECT_EQ(n.on_rejected(ProtocolVersion::DseV1), ProtocolVersion::V3);
}

TEST(VersionNegotiation, FixedVersionIsTriedOnce) {
  VersionNegotiation n(ProtocolVersion::V4);
  EXPECT_FALSE(n.negotiating());
  EXPECT_EQ(n.current(), ProtocolVersion::V4);
  EXPECT_EQ(n.on_rejected(ProtocolVersion::V3), std::nullopt);
  EXPECT_EQ(n.current(), ProtocolVersion::V4);
}

TEST(VersionNegotiation, RecognisesCassandraVersionRejections) {
  EXPECT_TRUE(VersionNegotiation::is_version_rejection(
      error(protocol::ErrorCode::ProtocolError,
            "Invalid or unsupported protocol version (5); supported versions are (3/v3, 4/v4)")));
  EXPECT_TRUE(VersionNegotiation::is_version_rejection(
      error(protocol::ErrorCode::ProtocolError,
            "Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset")));
  EXPECT_FALSE(VersionNegotiation::is_version_rejection(
      error(protocol::ErrorCode::ProtocolError, "Unknown compression algorithm")));
  EXPECT_FALSE(VersionNegotiation::is_version_rejection(
      error(protocol::ErrorCode::BadCredentials, "bad version of password")));
}

}  // namespace
}  // namespace zdm::client
