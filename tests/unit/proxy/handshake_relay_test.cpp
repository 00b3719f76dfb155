// The handshake rules with no sockets: refusals, READY, who authenticates where, the proxy's own
// login (configured or the client's credentials), DSE's mechanism step, failures; and failover's
// node rotation.
#include "proxy/session/handshake_relay.hpp"

#include <gtest/gtest.h>

#include "protocol/messages.hpp"
#include "proxy/session/upstream_connection.hpp"

namespace zdm::proxy {
namespace {

using protocol::Opcode;
constexpr auto O = ClusterType::Origin;
constexpr auto T = ClusterType::Target;

// Distinct stand-ins for whole frames: the relay passes them on unchanged.
Bytes frame(std::string_view text) { return Bytes(text.begin(), text.end()); }
std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

HandshakeSettings settings() {
  HandshakeSettings s;
  s.origin_username = "ouser";
  s.origin_password = "opass";
  s.target_username = "tuser";
  s.target_password = "tpass";
  return s;
}

TEST(HandshakeRelay, NothingHappensUntilBothClustersAnswered) {
  HandshakeRelay relay(settings());
  auto step = relay.on_startup_answer(O, Opcode::Ready, frame("o-ready"));
  EXPECT_TRUE(step.to_client.empty());
  EXPECT_FALSE(step.ready || step.failed);
  EXPECT_TRUE(relay.answered_startup(O));
  EXPECT_FALSE(relay.answered_startup(T));
}

TEST(HandshakeRelay, NoAuthenticationGivesThePrimarysReady) {
  auto s = settings();
  s.primary = T;
  HandshakeRelay relay(s);
  relay.on_startup_answer(T, Opcode::Ready, frame("t-ready"));
  auto step = relay.on_startup_answer(O, Opcode::Ready, frame("o-ready"));
  EXPECT_TRUE(step.ready);
  EXPECT_EQ(text(step.to_client), "t-ready");
  EXPECT_TRUE(step.send.empty());
}

TEST(HandshakeRelay, ARefusalReachesTheClientOriginsFirst) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(T, Opcode::Error, frame("t-error"));
  auto step = relay.on_startup_answer(O, Opcode::Error, frame("o-error"));
  EXPECT_TRUE(step.failed);
  EXPECT_EQ(text(step.to_client), "o-error");
  HandshakeRelay one(settings());
  one.on_startup_answer(O, Opcode::Ready, frame("o-ready"));
  auto refused = one.on_startup_answer(T, Opcode::Error, frame("t-error"));
  EXPECT_TRUE(refused.failed);
  EXPECT_EQ(text(refused.to_client), "t-error");
}

TEST(HandshakeRelay, OneAuthenticatingClusterGetsTheClientsCredentials) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  auto step = relay.on_startup_answer(T, Opcode::Ready, frame("t-ready"));
  EXPECT_TRUE(step.client_authenticates);
  EXPECT_EQ(text(step.to_client), "o-auth");
  EXPECT_TRUE(step.send.empty());
  EXPECT_TRUE(relay.expects_client_auth());
  EXPECT_EQ(relay.client_auth_cluster(), O);
  auto challenge = relay.on_auth_answer(O, Opcode::AuthChallenge, frame("o-challenge"));
  EXPECT_EQ(text(challenge.to_client), "o-challenge");
  auto success = relay.on_auth_answer(O, Opcode::AuthSuccess, frame("o-success"));
  EXPECT_TRUE(success.ready);
  EXPECT_EQ(text(success.to_client), "o-success");
}

TEST(HandshakeRelay, BothAuthenticateClientToTargetProxyLogsInToOrigin) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  auto step = relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  EXPECT_EQ(relay.client_auth_cluster(), T);
  EXPECT_EQ(text(step.to_client), "t-auth");
  ASSERT_EQ(step.send.size(), 1u);
  EXPECT_EQ(step.send[0].cluster, O);
  EXPECT_EQ(step.send[0].token, plain_sasl_token("ouser", "opass"));
  // The client hears target's AUTH_SUCCESS only once origin accepted the proxy's login.
  auto target_ok = relay.on_auth_answer(T, Opcode::AuthSuccess, frame("t-success"));
  EXPECT_FALSE(target_ok.ready);
  EXPECT_TRUE(target_ok.to_client.empty());
  auto origin_ok = relay.on_auth_answer(O, Opcode::AuthSuccess, frame("o-success"));
  EXPECT_TRUE(origin_ok.ready);
  EXPECT_EQ(text(origin_ok.to_client), "t-success");
}

TEST(HandshakeRelay, ForwardingToOriginSwapsTheRoles) {
  auto s = settings();
  s.forward_client_credentials_to_origin = true;
  HandshakeRelay relay(s);
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  auto step = relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  EXPECT_EQ(relay.client_auth_cluster(), O);
  ASSERT_EQ(step.send.size(), 1u);
  EXPECT_EQ(step.send[0].cluster, T);
  EXPECT_EQ(step.send[0].token, plain_sasl_token("tuser", "tpass"));
}

TEST(HandshakeRelay, WithoutConfiguredCredentialsTheClientsOwnAreReused) {
  auto s = settings();
  s.origin_username.clear();
  s.origin_password.clear();
  HandshakeRelay relay(s);
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  auto step = relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  EXPECT_TRUE(step.send.empty());  // waits for the client's token
  const Bytes client = plain_sasl_token("alice", "secret");
  auto after = relay.on_client_auth_response(ByteView(client));
  ASSERT_EQ(after.send.size(), 1u);
  EXPECT_EQ(after.send[0].cluster, O);
  EXPECT_EQ(after.send[0].token, client);
  EXPECT_EQ(relay.client_credentials(), client);
  // A second response (a challenge round) is not sent again.
  EXPECT_TRUE(relay.on_client_auth_response(ByteView(client)).send.empty());
}

TEST(HandshakeRelay, ARefusedProxyLoginReachesTheClientAfterItsOwnSuccess) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  auto refused = relay.on_auth_answer(O, Opcode::Error, frame("o-bad-credentials"));
  EXPECT_FALSE(refused.failed);  // the client is still authenticating with target
  auto step = relay.on_auth_answer(T, Opcode::AuthSuccess, frame("t-success"));
  EXPECT_TRUE(step.failed);
  EXPECT_EQ(text(step.to_client), "o-bad-credentials");
}

TEST(HandshakeRelay, TheClientsFailedLoginEndsTheHandshake) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Ready, frame("o-ready"));
  relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  auto step = relay.on_auth_answer(T, Opcode::Error, frame("t-bad"));
  EXPECT_TRUE(step.failed);
  EXPECT_EQ(text(step.to_client), "t-bad");
}

TEST(HandshakeRelay, DseAuthenticatorNamesTheMechanismFirst) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"),
                          "com.datastax.bdp.cassandra.auth.DseAuthenticator");
  auto step = relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  ASSERT_EQ(step.send.size(), 1u);
  EXPECT_EQ(text(step.send[0].token), "PLAIN");
  const std::string start = "PLAIN-START";
  auto next =
      relay.on_auth_answer(O, Opcode::AuthChallenge, frame("c"),
                           ByteView(reinterpret_cast<const uint8_t*>(start.data()), start.size()));
  ASSERT_EQ(next.send.size(), 1u);
  EXPECT_EQ(next.send[0].token, plain_sasl_token("ouser", "opass"));
  const std::string odd = "GSSAPI-START";
  auto refused =
      relay.on_auth_answer(O, Opcode::AuthChallenge, frame("c"),
                           ByteView(reinterpret_cast<const uint8_t*>(odd.data()), odd.size()));
  EXPECT_TRUE(refused.send.empty());
  auto done = relay.on_auth_answer(T, Opcode::AuthSuccess, frame("t-success"));
  EXPECT_TRUE(done.failed);  // the proxy's login failed: BadCredentials for the client
  // An ERROR frame (opcode 0) with code BadCredentials (0x0100) after the 9-byte v4 header.
  ASSERT_GE(done.to_client.size(), 13u);
  EXPECT_EQ(done.to_client[4], 0x00);
  EXPECT_EQ(done.to_client[9], 0x00);
  EXPECT_EQ(done.to_client[10], 0x00);
  EXPECT_EQ(done.to_client[11], 0x01);
  EXPECT_EQ(done.to_client[12], 0x00);
}

TEST(HandshakeRelay, AProxyLoginThatNeverEndsFailsAfterFiveRounds) {
  HandshakeRelay relay(settings());
  relay.on_startup_answer(O, Opcode::Authenticate, frame("o-auth"));
  relay.on_startup_answer(T, Opcode::Authenticate, frame("t-auth"));
  const Bytes empty;
  for (int round = 2; round <= 5; ++round) {
    EXPECT_EQ(
        relay.on_auth_answer(O, Opcode::AuthChallenge, frame("c"), ByteView(empty)).send.size(), 1u)
        << round;
  }
  EXPECT_TRUE(
      relay.on_auth_answer(O, Opcode::AuthChallenge, frame("c"), ByteView(empty)).send.empty());
  auto step = relay.on_auth_answer(T, Opcode::AuthSuccess, frame("t-success"));
  EXPECT_TRUE(step.failed);
}

TEST(NodeRotation, TriesEveryNodeOnceRecentlyDownOnesLast) {
  NodeRotation rotation(2);
  auto down = [](size_t i) { return i == 3; };
  std::vector<size_t> order;
  while (auto i = rotation.next(4, down)) order.push_back(*i);
  EXPECT_EQ(order, (std::vector<size_t>{2, 0, 1, 3}));
  EXPECT_EQ(rotation.attempts(), 4u);
  EXPECT_FALSE(rotation.next(4, down));
}

}  // namespace
}  // namespace zdm::proxy
