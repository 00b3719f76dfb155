// The node server over real sockets, driven with the protocol library: handshake (OPTIONS,
// STARTUP v4/v5, compression), auth, version negotiation errors as Cassandra sends them,
// REGISTER, pipelining, fault injection and the admin HTTP endpoint.
#include "node/server/node_server.hpp"

#include <boost/asio/read.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cql_test_client.hpp"

namespace zdm::node {
namespace {

using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using testing::CqlTestClient;
using testing::error_of;
using testing::response_of;

constexpr auto V3 = ProtocolVersion::V3;
constexpr auto V4 = ProtocolVersion::V4;
constexpr auto V5 = ProtocolVersion::V5;

protocol::StartupMessage startup(std::string compression = "") {
  protocol::StartupMessage s;
  s.options.emplace_back("CQL_VERSION", "3.0.0");
  if (!compression.empty()) s.options.emplace_back("COMPRESSION", compression);
  return s;
}

protocol::QueryMessage query(std::string text) {
  protocol::QueryMessage q;
  q.query = std::move(text);
  return q;
}

protocol::AuthResponseMessage sasl_plain(std::string_view user, std::string_view password) {
  std::string token;
  token.push_back('\0');
  token += user;
  token.push_back('\0');
  token += password;
  auto view = as_bytes(token);
  return protocol::AuthResponseMessage{Bytes(view.begin(), view.end())};
}

class NodeServerTest : public ::testing::Test {
 protected:
  void start(NodeServerOptions options = {}) {
    options.listen = net::HostPort{"127.0.0.1", 0};
    options.threads = 2;
    if (!options.admin) options.admin = net::HostPort{"127.0.0.1", 0};
    server_ = std::make_unique<NodeServer>(std::move(options));
    auto ok = server_->start();
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  // A client that completed STARTUP without auth.
  std::unique_ptr<CqlTestClient> ready_client(ProtocolVersion v, std::string compression = "") {
    auto c = std::make_unique<CqlTestClient>(server_->port());
    auto r = c->request(v, 0, startup(compression));
    EXPECT_TRUE(r.has_value());
    if (r) {
      EXPECT_EQ(r->opcode(), Opcode::Ready);
    }
    if (protocol::uses_segments(v)) {
      EXPECT_TRUE(c->enable_segments(compression == "lz4" ? protocol::Compression::Lz4
                                                          : protocol::Compression::None));
    } else if (!compression.empty()) {
      c->enable_compression(*protocol::compression_from_name(compression));
    }
    return c;
  }

  std::string http(std::string method, std::string target, std::string body = "") {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), *server_->admin_port()});
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    boost::asio::write(s, boost::asio::buffer(req));
    std::string out;
    boost::system::error_code ec;
    boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);
    return out;
  }

  std::unique_ptr<NodeServer> server_;
};

TEST_F(NodeServerTest, OptionsListsCqlVersionCompressionAndProtocolVersions) {
  start();
  CqlTestClient c(server_->port());
  auto r = c.request(V4, 3, protocol::OptionsMessage{});
  ASSERT_TRUE(r.has_value()) << c.error();
  EXPECT_EQ(r->stream.value, 3);
  const auto& supported = std::get<protocol::SupportedMessage>(response_of(*r));
  std::map<std::string, std::vector<std::string>> opts(supported.options.begin(),
                                                       supported.options.end());
  EXPECT_EQ(opts["PROTOCOL_VERSIONS"], (std::vector<std::string>{"3/v3", "4/v4", "5/v5"}));
  EXPECT_EQ(opts["COMPRESSION"], (std::vector<std::string>{"lz4", "snappy"}));
  EXPECT_EQ(opts["CQL_VERSION"].size(), 1u);
}

TEST_F(NodeServerTest, StartupV4ThenStatementsAreAnsweredOnTheirStreams) {
  start();
  auto c = ready_client(V4);
  auto r = c->request(V4, 9, query("SELECT release_version FROM system.local"));
  ASSERT_TRUE(r.has_value()) << c->error();
  EXPECT_EQ(r->stream.value, 9);
  EXPECT_TRUE(r->opcode() == Opcode::Result || r->opcode() == Opcode::Error);
  EXPECT_GE(server_->faults().requests(Opcode::Query), 1u);
}

TEST_F(NodeServerTest, RequestsBeforeStartupGetProtocolError) {
  start();
  CqlTestClient c(server_->port());
  auto r = c.request(V4, 1, query("SELECT * FROM system.local"));
  ASSERT_TRUE(r.has_value());
  ASSERT_NE(error_of(*r), nullptr);
  EXPECT_EQ(error_of(*r)->code, ErrorCode::ProtocolError);
  EXPECT_EQ(error_of(*r)->message, "Unexpected message QUERY, expecting STARTUP or OPTIONS");
  // The connection survives and can still start up.
  auto ready = c.request(V4, 2, startup());
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->opcode(), Opcode::Ready);
  auto again = c.request(V4, 3, startup());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(error_of(*again)->message,
            "Unexpected message STARTUP, the connection is already initialized");
}

TEST_F(NodeServerTest, StartupRejectsMissingCqlVersionAndUnknownCompression) {
  start();
  CqlTestClient c(server_->port());
  auto missing = c.request(V4, 1, protocol::StartupMessage{});
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(error_of(*missing)->message, "Missing value CQL_VERSION in STARTUP message");
  auto unknown = c.request(V4, 2, startup("zstd"));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(error_of(*unknown)->message, "Unknown compression algorithm: zstd");
  auto snappy_v5 = c.request(V5, 3, startup("snappy"));
  ASSERT_TRUE(snappy_v5.has_value());
  EXPECT_EQ(error_of(*snappy_v5)->code, ErrorCode::ProtocolError);
}

TEST_F(NodeServerTest, V5SwitchesToSegmentsAfterReady) {
  start();
  for (std::string compression : {"", "lz4"}) {
    auto c = ready_client(V5, compression);
    // Several requests pipelined: they share segments both ways.
    c->send(V5, 1, protocol::OptionsMessage{});
    c->send(V5, 2, query("SELECT * FROM system.local"));
    auto a = c->receive();
    ASSERT_TRUE(a.has_value()) << compression << ": " << c->error();
    EXPECT_EQ(a->stream.value, 1);
    EXPECT_EQ(a->opcode(), Opcode::Supported);
    auto b = c->receive();
    ASSERT_TRUE(b.has_value()) << c->error();
    EXPECT_EQ(b->stream.value, 2);
  }
}

TEST_F(NodeServerTest, V4CompressedFramesBothWays) {
  start();
  for (std::string compression : {"lz4", "snappy"}) {
    auto c = ready_client(V4, compression);
    auto r = c->request(V4, 5, query("SELECT * FROM system.local WHERE key = 'local'"));
    ASSERT_TRUE(r.has_value()) << compression << ": " << c->error();
    EXPECT_EQ(r->stream.value, 5);
  }
}

TEST_F(NodeServerTest, UnsupportedVersionsAreAnsweredAsCassandraDoes) {
  start();
  const std::string supported = "supported versions are (3/v3, 4/v4, 5/v5)";
  {
    // DSE_V2, what the Python driver tries first: answered in v5 on the request's stream.
    CqlTestClient c(server_->port());
    c.send(ProtocolVersion::DseV2, 7, protocol::OptionsMessage{});
    auto r = c.receive();
    ASSERT_TRUE(r.has_value()) << c.error();
    EXPECT_EQ(r->version, V5);
    EXPECT_EQ(r->stream.value, 7);
    ASSERT_NE(error_of(*r), nullptr);
    EXPECT_EQ(error_of(*r)->code, ErrorCode::ProtocolError);
    EXPECT_EQ(error_of(*r)->message, "Invalid or unsupported protocol version (66); " + supported);
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    // v6, unknown to the frame decoder: caught from the first bytes.
    CqlTestClient c(server_->port());
    Bytes frame = {0x06, 0x00, 0x00, 0x0B, 0x05, 0x00, 0x00, 0x00, 0x00};
    c.send_raw(frame);
    auto r = c.receive();
    ASSERT_TRUE(r.has_value()) << c.error();
    EXPECT_EQ(r->version, V5);
    EXPECT_EQ(r->stream.value, 11);
    EXPECT_EQ(error_of(*r)->message, "Invalid or unsupported protocol version (6); " + supported);
  }
  {
    // v2: answered in v2 framing (8-byte header, 1-byte stream).
    CqlTestClient c(server_->port());
    Bytes frame = {0x02, 0x00, 0x04, 0x05, 0x00, 0x00, 0x00, 0x00};
    c.send_raw(frame);
    Bytes reply = c.read_until_close();
    ASSERT_GE(reply.size(), 14u);
    EXPECT_EQ(reply[0], 0x82);
    EXPECT_EQ(reply[2], 0x04);
    EXPECT_EQ(reply[3], 0x00);  // ERROR
    EXPECT_EQ(load_be32(reply.data() + 8), 0x000Au);
    std::string text(reply.begin() + 14, reply.end());
    EXPECT_EQ(text, "Invalid or unsupported protocol version (2); " + supported);
  }
}

TEST_F(NodeServerTest, DisabledVersionGetsErrorInAVersionTheClientCanRead) {
  NodeServerOptions options;
  options.protocol_versions = {V3, V4};
  start(options);
  CqlTestClient c(server_->port());
  auto r = c.request(V5, 1, startup());
  ASSERT_TRUE(r.has_value()) << c.error();
  EXPECT_EQ(r->version, V4);
  EXPECT_EQ(error_of(*r)->message,
            "Invalid or unsupported protocol version (5); supported versions are (3/v3, 4/v4)");
  auto ok = ready_client(V3);
  EXPECT_TRUE(ok->request(V3, 1, protocol::OptionsMessage{}).has_value());
}

TEST_F(NodeServerTest, BetaV5NeedsUseBetaFlag) {
  NodeServerOptions options;
  options.v5_beta = true;
  start(options);
  CqlTestClient c(server_->port());
  auto r = c.request(V5, 1, startup());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(error_of(*r)->message,
            "Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset");
  CqlTestClient beta(server_->port());
  auto m = protocol::make_request(V5, protocol::StreamId{1}, startup());
  m.envelope.use_beta = true;
  beta.send(m);
  auto ready = beta.receive();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->opcode(), Opcode::Ready);
}

TEST_F(NodeServerTest, PasswordAuthenticatorAcceptsKnownUsersOnly) {
  NodeServerOptions options;
  options.users = {{"cassandra", "cassandra"}, {"app", "s3cret:x"}};
  start(options);
  for (auto v : {V4, V5}) {
    CqlTestClient c(server_->port());
    auto auth = c.request(v, 1, startup());
    ASSERT_TRUE(auth.has_value());
    const auto& a = std::get<protocol::AuthenticateMessage>(response_of(*auth));
    EXPECT_EQ(a.authenticator, "org.apache.cassandra.auth.PasswordAuthenticator");
    if (v == V5) {
      ASSERT_TRUE(c.enable_segments(protocol::Compression::None));
    }

    auto early = c.request(v, 2, query("SELECT * FROM system.local"));
    ASSERT_TRUE(early.has_value());
    EXPECT_EQ(error_of(*early)->message, "Unexpected message QUERY, expecting SASL_RESPONSE");

    auto bad = c.request(v, 3, sasl_plain("cassandra", "wrong"));
    ASSERT_TRUE(bad.has_value());
    ASSERT_NE(error_of(*bad), nullptr);
    EXPECT_EQ(error_of(*bad)->code, ErrorCode::BadCredentials);
    EXPECT_EQ(error_of(*bad)->message, "Provided username cassandra and/or password are incorrect");

    auto good = c.request(v, 4, sasl_plain("app", "s3cret:x"));
    ASSERT_TRUE(good.has_value());
    EXPECT_EQ(good->opcode(), Opcode::AuthSuccess);
    auto after = c.request(v, 5, protocol::OptionsMessage{});
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->opcode(), Opcode::Supported);
  }
}

TEST_F(NodeServerTest, RegisterAnswersReadyAndRejectsUnknownEvents) {
  start();
  auto c = ready_client(V4);
  auto r = c->request(V4, 1, protocol::RegisterMessage{{"SCHEMA_CHANGE", "STATUS_CHANGE"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->opcode(), Opcode::Ready);
  auto bad = c->request(V4, 2, protocol::RegisterMessage{{"WEATHER_CHANGE"}});
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(error_of(*bad)->code, ErrorCode::ProtocolError);
}

TEST_F(NodeServerTest, SchemaChangesArePushedToRegisteredConnections) {
  start();
  auto listener = ready_client(V4);
  ASSERT_TRUE(listener->request(V4, 1, protocol::RegisterMessage{{"SCHEMA_CHANGE"}}).has_value());
  auto ddl = ready_client(V5);
  auto r = ddl->request(V5, 1,
                        query("CREATE KEYSPACE evt WITH replication = {'class': "
                              "'SimpleStrategy', 'replication_factor': 1}"));
  ASSERT_TRUE(r.has_value());
  if (r->opcode() != Opcode::Result) GTEST_SKIP() << "the query processor does not run DDL yet";
  auto event = listener->receive();
  ASSERT_TRUE(event.has_value()) << listener->error();
  EXPECT_EQ(event->stream.value, -1);
  const auto& e = std::get<protocol::EventMessage>(response_of(*event));
  const auto& change = std::get<protocol::SchemaChangeEvent>(e.event).change;
  EXPECT_EQ(change.keyspace, "evt");
}

TEST_F(NodeServerTest, MalformedBodyGetsProtocolErrorAndConnectionSurvives) {
  start();
  auto c = ready_client(V4);
  // A QUERY whose [long string] claims more bytes than the body has.
  Bytes frame = {0x04, 0x00, 0x00, 0x04, 0x07, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x50};
  c->send_raw(frame);
  auto r = c->receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->stream.value, 4);
  EXPECT_EQ(error_of(*r)->code, ErrorCode::ProtocolError);
  EXPECT_TRUE(c->request(V4, 5, protocol::OptionsMessage{}).has_value());
}

TEST_F(NodeServerTest, FaultErrorDelayNoResponseAndDrop) {
  NodeServerOptions options;
  options.faults.push_back(*parse_fault_spec("action=error,error=WRITE_TIMEOUT,query=boom"));
  start(options);
  ASSERT_TRUE(
      server_->faults().add_rule(*parse_fault_spec("action=delay,delay_ms=200,query=slow")));
  ASSERT_TRUE(server_->faults().add_rule(*parse_fault_spec("action=no_response,query=hang")));
  ASSERT_TRUE(server_->faults().add_rule(*parse_fault_spec("action=drop,query=drop")));
  auto c = ready_client(V4);

  protocol::QueryMessage boom = query("INSERT INTO boom (a) VALUES (1)");
  boom.parameters.consistency = protocol::Consistency::Quorum;
  auto r = c->request(V4, 1, boom);
  ASSERT_TRUE(r.has_value());
  ASSERT_NE(error_of(*r), nullptr);
  EXPECT_EQ(error_of(*r)->code, ErrorCode::WriteTimeout);
  EXPECT_EQ(std::get<protocol::WriteTimeoutInfo>(error_of(*r)->detail).consistency,
            protocol::Consistency::Quorum);

  // Pipelined: the delayed request and the unanswered one do not hold back the fast one.
  c->send(V4, 2, query("SELECT slow FROM t"));
  c->send(V4, 3, query("SELECT hang FROM t"));
  c->send(V4, 4, protocol::OptionsMessage{});
  auto first = c->receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->stream.value, 4);
  auto second = c->receive();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->stream.value, 2);

  c->send(V4, 5, query("SELECT drop FROM t"));
  EXPECT_TRUE(c->closed_by_peer());
  EXPECT_EQ(server_->faults().faults_fired(), 4u);
}

TEST_F(NodeServerTest, AdminHttpManagesFaultsAndCounters) {
  start();
  EXPECT_NE(http("GET", "/health").find("\"ok\""), std::string::npos);
  auto added =
      http("POST", "/faults", R"({"action":"error","error":"OVERLOADED","opcode":"OPTIONS"})");
  EXPECT_NE(added.find("201"), std::string::npos) << added;
  EXPECT_NE(http("GET", "/faults").find("OVERLOADED"), std::string::npos);

  CqlTestClient c(server_->port());
  auto r = c.request(V4, 1, protocol::OptionsMessage{});
  ASSERT_TRUE(r.has_value());
  ASSERT_NE(error_of(*r), nullptr);
  EXPECT_EQ(error_of(*r)->code, ErrorCode::Overloaded);

  EXPECT_NE(http("POST", "/faults", "action=explode").find("400"), std::string::npos);
  EXPECT_NE(http("DELETE", "/faults").find("200"), std::string::npos);
  auto ok = c.request(V4, 2, protocol::OptionsMessage{});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->opcode(), Opcode::Supported);

  auto counters = http("GET", "/counters");
  auto body = nlohmann::json::parse(counters.substr(counters.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["requests"]["OPTIONS"], 2);
  EXPECT_EQ(body["connections"], 1);
  EXPECT_NE(http("POST", "/counters/reset").find("200"), std::string::npos);
  EXPECT_EQ(server_->faults().requests(Opcode::Options), 0u);
  EXPECT_NE(http("POST", "/prepared/clear").find("200"), std::string::npos);
  EXPECT_NE(http("GET", "/nope").find("404"), std::string::npos);
}

TEST(NodeServerOptionsTest, ParsesProtocolVersions) {
  auto v = parse_protocol_versions("5, v3,4,4");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (std::vector<ProtocolVersion>{V3, V4, V5}));
  EXPECT_FALSE(parse_protocol_versions("2").has_value());
  EXPECT_FALSE(parse_protocol_versions("").has_value());
}

}  // namespace
}  // namespace zdm::node
