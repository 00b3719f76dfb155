// Connection and Session against the in-process mock server (127.0.0.1, port 0).
#include "client/connection.hpp"

#include <chrono>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "client/session.hpp"
#include "mock_cql_server.hpp"

namespace zdm::client {
namespace {

namespace asio = boost::asio;
using protocol::ProtocolVersion;
using testing::MockCqlServer;
using testing::MockServerConfig;

// Runs `body` as a coroutine on `io` until it finishes; fails the test if it takes more than
// 20 s (a hang, not a timing check).
void run_test(asio::io_context& io, std::function<asio::awaitable<void>()> body) {
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body();
        done = true;
        io.stop();
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  ASSERT_TRUE(done) << "test coroutine did not finish";
}

Endpoint local(uint16_t port) { return Endpoint{"127.0.0.1", port}; }

// GCC 12 destroys braced temporaries inside a co_await expression twice; tests build request
// bodies and options through functions (a returned prvalue is fine).
protocol::RequestBody query(std::string text) {
  protocol::QueryMessage q;
  q.query = std::move(text);
  return q;
}
ConnectionOptions default_options() { return ConnectionOptions{}; }

MockServerConfig config_for(ProtocolVersion v) {
  MockServerConfig c;
  c.max_version = v;
  return c;
}

const protocol::ResponseBody& body_of(const protocol::Message& m) {
  return std::get<protocol::ResponseBody>(m.body);
}

TEST(Connection, NegotiatesDownToTheServersVersion) {
  asio::io_context io;
  MockCqlServer server(io, config_for(ProtocolVersion::V4));
  run_test(io, [&]() -> asio::awaitable<void> {
    auto conn = co_await Connection::connect(local(server.port()), default_options());
    EXPECT_TRUE(conn) << conn.error().to_string();
    if (!conn) co_return;
    EXPECT_EQ((*conn)->version(), ProtocolVersion::V4);
    EXPECT_EQ(server.connections, 2);  // v5 refused, then v4
    auto r = co_await (*conn)->async_request(query("INSERT x"), asio::use_awaitable);
    EXPECT_TRUE(r);
    (*conn)->close();
  });
}

TEST(Connection, FixedVersionRefusedIsAnError) {
  asio::io_context io;
  MockCqlServer server(io, config_for(ProtocolVersion::V4));
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    o.protocol_version = ProtocolVersion::V5;
    auto conn = co_await Connection::connect(local(server.port()), o);
    EXPECT_FALSE(conn);
    if (!conn) {
      EXPECT_EQ(conn.error().kind, ClientErrc::VersionRefused);
      EXPECT_NE(conn.error().message.find("fixed protocol version"), std::string::npos);
    }
  });
}

class CompressionTest
    : public ::testing::TestWithParam<std::pair<ProtocolVersion, protocol::Compression>> {};

TEST_P(CompressionTest, QueriesRoundTrip) {
  asio::io_context io;
  MockCqlServer server(io, config_for(GetParam().first));
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    o.protocol_version = GetParam().first;
    o.compression = GetParam().second;
    auto conn = co_await Connection::connect(local(server.port()), o);
    EXPECT_TRUE(conn) << conn.error().to_string();
    if (!conn) co_return;
    for (int i = 0; i < 3; ++i) {
      // Large enough that compression matters (and v5 splits it over segments).
      protocol::QueryMessage q{"INSERT " + std::string(200000, 'a'), {}};
      auto r = co_await (*conn)->async_request(std::move(q), asio::use_awaitable);
      EXPECT_TRUE(r);
      if (r) {
        EXPECT_TRUE(std::holds_alternative<protocol::ResultMessage>(body_of(*r)));
      }
    }
    EXPECT_EQ(server.queries.size(), 3u);
    (*conn)->close();
  });
}

INSTANTIATE_TEST_SUITE_P(
    Versions, CompressionTest,
    ::testing::Values(std::pair{ProtocolVersion::V3, protocol::Compression::Snappy},
                      std::pair{ProtocolVersion::V4, protocol::Compression::Lz4},
                      std::pair{ProtocolVersion::V4, protocol::Compression::None},
                      std::pair{ProtocolVersion::V5, protocol::Compression::None},
                      std::pair{ProtocolVersion::V5, protocol::Compression::Lz4}));

TEST(Connection, AuthenticatesWithPlain) {
  asio::io_context io;
  MockServerConfig config;
  config.username = "alice";
  config.password = "secret";
  MockCqlServer server(io, config);
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    auto missing = co_await Connection::connect(local(server.port()), o);
    EXPECT_FALSE(missing);
    if (!missing) {
      EXPECT_EQ(missing.error().kind, ClientErrc::Auth);
    }
    o.username = "alice";
    o.password = "wrong";
    auto bad = co_await Connection::connect(local(server.port()), o);
    EXPECT_FALSE(bad);
    if (!bad) {
      EXPECT_EQ(bad.error().kind, ClientErrc::Auth);
    }
    o.password = "secret";
    auto good = co_await Connection::connect(local(server.port()), o);
    EXPECT_TRUE(good) << good.error().to_string();
    if (good) {
      EXPECT_EQ((*good)->version(), ProtocolVersion::V5);
      (*good)->close();
    }
  });
}

TEST(Connection, PipelinesAndCoalescesWrites) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    o.max_stream_ids = 100;  // fewer ids than requests: the rest wait in the queue
    auto conn = co_await Connection::connect(local(server.port()), o);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    int answered = 0;
    const int n = 1000;
    bool all = false;
    asio::steady_timer done_timer(io, std::chrono::hours(1));
    for (int i = 0; i < n; ++i) {
      (*conn)->send(protocol::QueryMessage{"INSERT " + std::to_string(i), {}},
                    [&](ClientResult<protocol::Message> r) {
                      EXPECT_TRUE(r);
                      if (++answered == n) {
                        all = true;
                        done_timer.cancel();
                      }
                    });
    }
    EXPECT_EQ((*conn)->in_flight(), 100);
    EXPECT_EQ((*conn)->queued(), 900u);
    auto [ec] = co_await done_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    EXPECT_TRUE(all);
    EXPECT_EQ((*conn)->in_flight(), 0);
    EXPECT_LT((*conn)->stats().writes, static_cast<uint64_t>(n) / 5);
    (*conn)->close();
  });
}

// Regression: with v5 a request issued while a write is in flight waits in the segment encoder,
// not in the write buffer; the write's completion must still flush it (it used to stay there
// until another request came, so a connection's last requests timed out).
TEST(Connection, V5RequestQueuedDuringAWriteIsSent) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    o.request_timeout = std::chrono::seconds(5);
    auto conn = co_await Connection::connect(local(server.port()), o);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    EXPECT_EQ((*conn)->version(), ProtocolVersion::V5);
    int answered = 0;
    asio::steady_timer done_timer(io, std::chrono::hours(1));
    auto on_answer = [&](ClientResult<protocol::Message> r) {
      EXPECT_TRUE(r);
      if (++answered == 2) done_timer.cancel();
    };
    (*conn)->send(query("INSERT 1"), on_answer);
    // Lets the deferred write start (its completion is queued behind this coroutine), so the
    // second request is encoded while that write is in flight.
    co_await asio::post(io, asio::use_awaitable);
    (*conn)->send(query("INSERT 2"), on_answer);
    auto [ec] = co_await done_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;
    EXPECT_EQ(answered, 2);
    (*conn)->close();
  });
}

TEST(Connection, TimedOutRequestKeepsItsStreamId) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    ConnectionOptions o;
    o.request_timeout = std::chrono::milliseconds(50);
    auto conn = co_await Connection::connect(local(server.port()), o);
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    auto r = co_await (*conn)->async_request(query("never answer"), asio::use_awaitable);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().kind, ClientErrc::Timeout);
    }
    EXPECT_EQ((*conn)->in_flight(), 1);  // the id is not reused while the server may answer
    auto ok = co_await (*conn)->async_request(query("INSERT"), asio::use_awaitable);
    EXPECT_TRUE(ok);
    (*conn)->close();
    EXPECT_FALSE((*conn)->is_open());
  });
}

TEST(Connection, PendingRequestsFailWhenTheConnectionCloses) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    auto conn = co_await Connection::connect(local(server.port()), default_options());
    EXPECT_TRUE(conn);
    if (!conn) co_return;
    std::optional<ClientError> error;
    (*conn)->send(query("never answer"), [&](ClientResult<protocol::Message> r) {
      if (!r) error = r.error();
    });
    (*conn)->close();
    EXPECT_TRUE(error.has_value());
    if (error) {
      EXPECT_EQ(error->kind, ClientErrc::ConnectionClosed);
    }
    // After close, requests fail without being sent.
    auto late = co_await (*conn)->async_request(query("x"), asio::use_awaitable);
    EXPECT_FALSE(late);
    if (!late) {
      EXPECT_FALSE(late.error().written);
    }
  });
}

SessionOptions session_options(uint16_t port) {
  SessionOptions o;
  o.contact_points = {local(port)};
  o.connections_per_host = 2;
  return o;
}

TEST(Session, DiscoversLocalHostAndRoutesByToken) {
  asio::io_context io;
  MockServerConfig config;
  config.tokens = {"-100", "100"};
  MockCqlServer server(io, config);
  run_test(io, [&]() -> asio::awaitable<void> {
    auto session = co_await Session::connect(session_options(server.port()));
    EXPECT_TRUE(session) << session.error().to_string();
    if (!session) co_return;
    auto& s = **session;
    EXPECT_EQ(s.local_dc(), "dc1");
    EXPECT_EQ(s.hosts().size(), 1u);
    if (s.hosts().size() != 1u) co_return;
    EXPECT_EQ(s.hosts()[0].pool.size(), 2u);
    EXPECT_EQ(s.token_map().size(), 2u);
    auto prepared = co_await s.prepare("INSERT INTO t (key) VALUES (?)");
    EXPECT_TRUE(prepared);
    if (!prepared) co_return;
    // Built outside the co_await: GCC 12 mishandles braced temporaries inside co_await.
    std::vector<protocol::BoundValue> values;
    values.push_back(protocol::BoundValue::set(Bytes(8, 1)));
    auto statement = Statement::bound(*prepared, std::move(values));
    auto r = co_await s.async_execute(std::move(statement), asio::use_awaitable);
    EXPECT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(s.stats().token_routed, 1u);
    s.close();
  });
}

TEST(Session, RepreparesTransparentlyOnUnprepared) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    auto session = co_await Session::connect(session_options(server.port()));
    EXPECT_TRUE(session);
    if (!session) co_return;
    auto& s = **session;
    auto prepared = co_await s.prepare("INSERT INTO t (key) VALUES (?)");
    EXPECT_TRUE(prepared);
    if (!prepared) co_return;
    server.forget_prepared();  // as after a server restart
    int before = server.prepares;
    // Built outside the co_await: GCC 12 mishandles braced temporaries inside co_await.
    std::vector<protocol::BoundValue> values;
    values.push_back(protocol::BoundValue::set(Bytes(8, 1)));
    auto statement = Statement::bound(*prepared, std::move(values));
    auto r = co_await s.async_execute(std::move(statement), asio::use_awaitable);
    EXPECT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(s.stats().reprepares, 1u);
    EXPECT_EQ(server.prepares, before + 1);
    s.close();
  });
}

TEST(Session, FetchAllFollowsPagingState) {
  asio::io_context io;
  MockCqlServer server(io, config_for(ProtocolVersion::V4));
  run_test(io, [&]() -> asio::awaitable<void> {
    auto session = co_await Session::connect(session_options(server.port()));
    EXPECT_TRUE(session);
    if (!session) co_return;
    auto rows = co_await (*session)->fetch_all(Statement::simple("SELECT pages"));
    EXPECT_TRUE(rows) << rows.error().to_string();
    if (rows) {
      EXPECT_EQ(rows->rows.size(), 3u);
      for (size_t i = 0; i < rows->rows.size(); ++i) {
        EXPECT_EQ(*rows->rows[i][0], (Bytes{0, 0, 0, static_cast<uint8_t>(i)}));
      }
    }
    (*session)->close();
  });
}

TEST(Session, UsePropagatesToEveryPooledConnection) {
  asio::io_context io;
  MockCqlServer server(io, MockServerConfig());
  run_test(io, [&]() -> asio::awaitable<void> {
    auto session = co_await Session::connect(session_options(server.port()));
    EXPECT_TRUE(session);
    if (!session) co_return;
    auto r = co_await (*session)->use_keyspace("ks");
    EXPECT_TRUE(r);
    for (const auto& c : (*session)->hosts()[0].pool) EXPECT_EQ(c->keyspace(), "ks");
    EXPECT_EQ((*session)->keyspace(), "ks");
    (*session)->close();
  });
}

TEST(Session, NoContactPointAnsweringIsAnError) {
  asio::io_context io;
  uint16_t port = 0;
  {
    // A port that was just free: nothing listens on it any more.
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  run_test(io, [&]() -> asio::awaitable<void> {
    auto session = co_await Session::connect(session_options(port));
    EXPECT_FALSE(session);
    if (!session) {
      EXPECT_EQ(session.error().kind, ClientErrc::NoHost);
    }
  });
}

TEST(Endpoint, Parses) {
  EXPECT_EQ(*parse_endpoint("10.0.0.1:9043"), (Endpoint{"10.0.0.1", 9043}));
  EXPECT_EQ(*parse_endpoint("node1"), (Endpoint{"node1", 9042}));
  EXPECT_EQ(*parse_endpoint("[::1]:19042"), (Endpoint{"::1", 19042}));
  EXPECT_EQ(*parse_endpoint("::1"), (Endpoint{"::1", 9042}));
  EXPECT_FALSE(parse_endpoint("host:0"));
  EXPECT_FALSE(parse_endpoint("host:70000"));
  EXPECT_FALSE(parse_endpoint(""));
}

}  // namespace
}  // namespace zdm::client
