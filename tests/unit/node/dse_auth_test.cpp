// The node's DseAuthenticator mode and DSE protocol versions (`--authenticator`,
// `--protocol-versions ...,dse_v1,dse_v2`).
#include <gtest/gtest.h>

#include "cql_test_client.hpp"
#include "node/server/node_server.hpp"

namespace zdm::node {
namespace {

using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using testing::CqlTestClient;
using testing::error_of;
using testing::response_of;

protocol::StartupMessage startup() {
  protocol::StartupMessage s;
  s.options.emplace_back("CQL_VERSION", "3.0.0");
  return s;
}

protocol::AuthResponseMessage token_of(std::string_view text) {
  auto view = as_bytes(text);
  return protocol::AuthResponseMessage{Bytes(view.begin(), view.end())};
}

std::string plain(std::string_view user, std::string_view password) {
  std::string t;
  t.push_back('\0');
  t += user;
  t.push_back('\0');
  t += password;
  return t;
}

class DseNodeTest : public ::testing::Test {
 protected:
  void start(NodeServerOptions options) {
    options.listen = net::HostPort{"127.0.0.1", 0};
    options.threads = 1;
    server_ = std::make_unique<NodeServer>(std::move(options));
    auto ok = server_->start();
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  std::unique_ptr<NodeServer> server_;
};

TEST_F(DseNodeTest, DseAuthenticatorTakesTheMechanismNameThenTheCredentials) {
  NodeServerOptions options;
  options.users = {{"app", "pw"}};
  options.authenticator = AuthenticatorKind::Dse;
  start(options);
  CqlTestClient c(server_->port());
  auto auth = c.request(ProtocolVersion::V4, 1, startup());
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(std::get<protocol::AuthenticateMessage>(response_of(*auth)).authenticator,
            "com.datastax.bdp.cassandra.auth.DseAuthenticator");
  auto challenge = c.request(ProtocolVersion::V4, 2, token_of("PLAIN"));
  ASSERT_TRUE(challenge.has_value());
  ASSERT_EQ(challenge->opcode(), Opcode::AuthChallenge);
  const auto& token = std::get<protocol::AuthChallengeMessage>(response_of(*challenge)).token;
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(as_chars(*token), "PLAIN-START");
  auto bad = c.request(ProtocolVersion::V4, 3, token_of(plain("app", "nope")));
  ASSERT_TRUE(bad.has_value());
  ASSERT_NE(error_of(*bad), nullptr);
  EXPECT_EQ(error_of(*bad)->code, ErrorCode::BadCredentials);
}

TEST_F(DseNodeTest, DseAuthenticatorAcceptsAPlainTokenAtOnceAndRefusesOtherMechanisms) {
  NodeServerOptions options;
  options.users = {{"app", "pw"}};
  options.authenticator = AuthenticatorKind::Dse;
  start(options);
  {
    CqlTestClient c(server_->port());
    ASSERT_TRUE(c.request(ProtocolVersion::V4, 1, startup()).has_value());
    auto ok = c.request(ProtocolVersion::V4, 2, token_of(plain("app", "pw")));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->opcode(), Opcode::AuthSuccess);
  }
  {
    CqlTestClient c(server_->port());
    ASSERT_TRUE(c.request(ProtocolVersion::V4, 1, startup()).has_value());
    auto refused = c.request(ProtocolVersion::V4, 2, token_of("GSSAPI"));
    ASSERT_TRUE(refused.has_value());
    ASSERT_NE(error_of(*refused), nullptr);
    EXPECT_EQ(error_of(*refused)->code, ErrorCode::BadCredentials);
  }
}

TEST_F(DseNodeTest, ServesDseVersionsWhenAsked) {
  NodeServerOptions options;
  auto versions = parse_protocol_versions("3,4,5,dse_v1,66");
  ASSERT_TRUE(versions.has_value());
  options.protocol_versions = *versions;
  start(options);
  for (auto v : {ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    CqlTestClient c(server_->port());
    auto ready = c.request(v, 1, startup());
    ASSERT_TRUE(ready.has_value());
    EXPECT_EQ(ready->opcode(), Opcode::Ready);
  }
}

TEST(DseNodeOptionsTest, ParsesAuthenticatorAndDseVersions) {
  EXPECT_EQ(parse_authenticator_kind("DseAuthenticator"), AuthenticatorKind::Dse);
  EXPECT_EQ(parse_authenticator_kind("com.datastax.bdp.cassandra.auth.DseAuthenticator"),
            AuthenticatorKind::Dse);
  EXPECT_EQ(parse_authenticator_kind("PasswordAuthenticator"), AuthenticatorKind::Password);
  EXPECT_FALSE(parse_authenticator_kind("KerberosAuthenticator").has_value());
  auto v = parse_protocol_versions("DSE_V2, 4, 65");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (std::vector<ProtocolVersion>{ProtocolVersion::V4, ProtocolVersion::DseV1,
                                              ProtocolVersion::DseV2}));
}

}  // namespace
}  // namespace zdm::node
