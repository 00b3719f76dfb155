// A routing snapshot switched under a running workload: `zdm proxy` (in process) in front of two
// `zdm node`s (in process), driven by our client over real sockets. Origin and target hold
// different values for the same key, so every answer says which cluster served it. Requests
// are sequential, so "the next request after the switch" is exact: no timing is involved.
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "client/session.hpp"
#include "node/server/node_server.hpp"
#include "protocol/row_reader.hpp"
#include "proxy/proxy_server.hpp"

namespace zdm {
namespace {

namespace asio = boost::asio;
using client::Session;
using client::Statement;

std::unique_ptr<node::NodeServer> start_node(std::string cluster) {
  node::NodeServerOptions o;
  o.listen = net::HostPort{"127.0.0.1", 0};
  o.threads = 1;
  o.identity.cluster_name = std::move(cluster);
  auto server = std::make_unique<node::NodeServer>(std::move(o));
  auto ok = server->start();
  EXPECT_TRUE(ok) << ok.error().message;
  return server;
}

client::SessionOptions to(uint16_t port) {
  client::SessionOptions o;
  o.contact_points = {client::Endpoint{"127.0.0.1", port}};
  o.discover_peers = false;
  o.listen_events = false;
  return o;
}

// GCC 12 destroys temporaries in a co_await argument list twice: every argument is named.

// Runs `body` as a coroutine on a fresh io_context and waits for it.
void run(std::function<asio::awaitable<void>()> body) {
  asio::io_context io;
  auto done = asio::co_spawn(io, std::move(body), asio::use_future);
  io.run();
  done.get();  // rethrows a failed ASSERT's exception, if any
}

asio::awaitable<std::string> value_of(Session& session, Statement statement) {
  auto r = co_await session.async_execute(std::move(statement), asio::use_awaitable);
  if (!r) co_return "error: " + r.error().to_string();
  const auto* rows = r->rows();
  if (!rows || rows->rows.size() != 1) co_return "no row";
  co_return protocol::RowReader(rows->metadata, rows->rows.front()).text("v").value_or("null");
}

asio::awaitable<void> must(Session& session, std::string cql) {
  auto r = co_await session.query(cql);
  EXPECT_TRUE(r) << cql << ": " << (r ? "" : r.error().to_string());
}

class LiveRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_ = start_node("origin");
    target_ = start_node("target");
    proxy::ProxyConfig c;
    c.origin_contact_points = "127.0.0.1";
    c.origin_port = origin_->port();
    c.target_contact_points = "127.0.0.1";
    c.target_port = target_->port();
    c.proxy_listen_address = "127.0.0.1";
    c.proxy_listen_port = 0;
    c.metrics_enabled = false;
    proxy_ = std::make_unique<proxy::ProxyServer>(c);
    auto ok = proxy_->start(std::chrono::seconds(20));
    ASSERT_TRUE(ok) << ok.error().message;
  }
  void TearDown() override {
    if (proxy_) proxy_->stop();
    if (origin_) origin_->stop();
    if (target_) target_->stop();
  }

  // Makes `primary` the primary cluster of every session's next request.
  void switch_primary(proxy::ClusterType primary) {
    proxy_->context().routing().update(
        [&](proxy::RoutingSnapshot& s) { s.primary_cluster = primary; });
  }

  std::unique_ptr<node::NodeServer> origin_, target_;
  std::unique_ptr<proxy::ProxyServer> proxy_;
};

TEST_F(LiveRoutingTest, NextRequestsAfterASwitchAreRoutedTheNewWay) {
  run([&]() -> asio::awaitable<void> {
    client::SessionOptions via_options = to(proxy_->port());
    client::SessionOptions origin_options = to(origin_->port());
    client::SessionOptions target_options = to(target_->port());
    auto via = co_await Session::connect(via_options);
    auto origin = co_await Session::connect(origin_options);
    auto target = co_await Session::connect(target_options);
    EXPECT_TRUE(via && origin && target);
    if (!via || !origin || !target) co_return;
    Session& proxy = **via;
    const std::string keyspace =
        "CREATE KEYSPACE live WITH replication = {'class': 'SimpleStrategy', "
        "'replication_factor': 1}";
    const std::string table = "CREATE TABLE live.kv (k int PRIMARY KEY, v text)";
    const std::string on_origin = "INSERT INTO live.kv (k, v) VALUES (1, 'origin')";
    const std::string on_target = "INSERT INTO live.kv (k, v) VALUES (1, 'target')";
    const std::string select = "SELECT v FROM live.kv WHERE k = ?";
    const std::string insert = "INSERT INTO live.kv (k, v) VALUES (?, 'w')";
    co_await must(proxy, keyspace);
    co_await must(proxy, table);
    co_await must(**origin, on_origin);
    co_await must(**target, on_target);
    auto read = co_await proxy.prepare(select);  // prepared before any switch
    EXPECT_TRUE(read);
    if (!read) co_return;
    auto prepared_read = [&] {
      std::vector<protocol::BoundValue> key{protocol::BoundValue::set(Bytes{0, 0, 0, 1})};
      return Statement::bound(*read, std::move(key));
    };
    auto text_read = [] { return Statement::simple("SELECT v FROM live.kv WHERE k = 1"); };
    auto write = co_await proxy.prepare(insert);
    EXPECT_TRUE(write);
    if (!write) co_return;

    // A workload: reads and writes, the primary switched every 50 requests.
    std::vector<std::string> expected, seen;
    proxy::ClusterType primary = proxy::ClusterType::Origin;
    int writes = 0;
    for (int i = 0; i < 400; ++i) {
      if (i > 0 && i % 50 == 0) {
        primary = primary == proxy::ClusterType::Origin ? proxy::ClusterType::Target
                                                        : proxy::ClusterType::Origin;
        switch_primary(primary);
      }
      const std::string want = primary == proxy::ClusterType::Origin ? "origin" : "target";
      expected.push_back(want);
      Statement statement = i % 2 ? prepared_read() : text_read();
      std::string value = co_await value_of(proxy, std::move(statement));
      seen.push_back(std::move(value));
      const auto key = static_cast<uint32_t>(1000 + i);
      std::vector<protocol::BoundValue> k{protocol::BoundValue::set(
          Bytes{static_cast<uint8_t>(key >> 24), static_cast<uint8_t>(key >> 16),
                static_cast<uint8_t>(key >> 8), static_cast<uint8_t>(key)})};
      Statement w_statement = Statement::bound(*write, std::move(k));
      auto w = co_await proxy.async_execute(std::move(w_statement), asio::use_awaitable);
      EXPECT_TRUE(w) << (w ? "" : w.error().to_string());
      writes += w ? 1 : 0;
    }
    EXPECT_EQ(seen, expected);
    // Writes went to both clusters whatever the primary was.
    for (Session* s : {origin->get(), target->get()}) {
      Statement keys = Statement::simple("SELECT k FROM live.kv");
      auto all = co_await s->fetch_all(std::move(keys));
      EXPECT_TRUE(all);
      if (all) {
        EXPECT_EQ(all->rows.size(), static_cast<size_t>(writes + 1));
      }
    }
    for (auto* s : {via->get(), origin->get(), target->get()}) s->close();
  });
}

uint64_t selects(node::NodeServer& n) {
  return n.faults().statements(protocol::StatementKind::Select);
}

TEST_F(LiveRoutingTest, AsyncReadsStartMoveAndStopWithTheSnapshot) {
  run([&]() -> asio::awaitable<void> {
    client::SessionOptions via_options = to(proxy_->port());
    auto via = co_await Session::connect(via_options);
    EXPECT_TRUE(via);
    if (!via) co_return;
    Session& proxy = **via;
    const std::string keyspace =
        "CREATE KEYSPACE asy WITH replication = {'class': 'SimpleStrategy', "
        "'replication_factor': 1}";
    const std::string table = "CREATE TABLE asy.kv (k int PRIMARY KEY, v text)";
    co_await must(proxy, keyspace);
    co_await must(proxy, table);
    // `n` reads through the proxy; returns how many SELECTs origin and target executed meanwhile
    // (the primary's count is exact: each read waits for its answer).
    auto reads = [&](int n) -> asio::awaitable<std::pair<uint64_t, uint64_t>> {
      const uint64_t o0 = selects(*origin_), t0 = selects(*target_);
      for (int i = 0; i < n; ++i) {
        Statement statement = Statement::simple("SELECT v FROM asy.kv WHERE k = 1");
        auto r = co_await proxy.async_execute(std::move(statement), asio::use_awaitable);
        EXPECT_TRUE(r);
      }
      co_return std::pair{selects(*origin_) - o0, selects(*target_) - t0};
    };
    // Copies are fire and forget: wait (at most 10 s) until `node` has executed `want` SELECTs.
    auto landed = [&](node::NodeServer& n, uint64_t want) -> asio::awaitable<uint64_t> {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < 5000 && selects(n) < want; ++i) {
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_return selects(n);
    };
    // Reads in DUAL_ASYNC_ON_SECONDARY until some copies were sent (the async connection opens on
    // the first eligible read; copies before its handshake are dropped and counted), then checks
    // that every copy not dropped reached `secondary` and every read was served by `primary`.
    auto dual_reads = [&](node::NodeServer& primary_node,
                          node::NodeServer& secondary) -> asio::awaitable<uint64_t> {
      const uint64_t p0 = selects(primary_node), s0 = selects(secondary);
      const uint64_t dropped0 = proxy_->context().async_dropped.load();
      uint64_t n = 0, sent = 0;
      for (int batch = 0; batch < 100 && sent < 100; ++batch) {
        co_await reads(50);
        n += 50;
        sent = n - (proxy_->context().async_dropped.load() - dropped0);
      }
      EXPECT_EQ(selects(primary_node) - p0, n);
      EXPECT_EQ(co_await landed(secondary, s0 + sent), s0 + sent);
      co_return sent;
    };

    auto plain = co_await reads(100);
    EXPECT_EQ(plain.first, 100u);
    EXPECT_EQ(plain.second, 0u);  // PRIMARY_ONLY: nothing reaches target

    proxy_->context().routing().update(
        [](proxy::RoutingSnapshot& s) { s.read_mode = proxy::ReadMode::DualAsyncOnSecondary; });
    EXPECT_GE(co_await dual_reads(*origin_, *target_), 100u) << "copies did not reach target";

    // Target becomes primary: reads go there, copies to origin (the async leg moves).
    switch_primary(proxy::ClusterType::Target);
    EXPECT_GE(co_await dual_reads(*target_, *origin_), 100u) << "copies did not reach origin";

    // Back to PRIMARY_ONLY: no more copies (every earlier copy has landed, see dual_reads).
    proxy_->context().routing().update(
        [](proxy::RoutingSnapshot& s) { s.read_mode = proxy::ReadMode::PrimaryOnly; });
    auto stopped = co_await reads(100);
    EXPECT_EQ(stopped.second, 100u);
    EXPECT_EQ(stopped.first, 0u);
    proxy.close();
  });
}

}  // namespace
}  // namespace zdm
