#include "proxy/cluster/control_connection.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "net/framed_connection.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using protocol::DataType;
using protocol::TypeId;

// A cluster seen through one node: answers the control connection's queries from a peer list the
// test changes, and pushes TOPOLOGY_CHANGE events to connections that registered. Everything runs
// on the io thread; the test changes it through post().
class TopologyNode {
 public:
  explicit TopologyNode(asio::io_context& io) : io_(io), acceptor_(io) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    accept();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Sets the peers (last byte of 127.0.0.x) and, with `events`, sends that many NEW_NODE events
  // in one write to every registered connection.
  void set_peers(std::vector<uint8_t> peers, int events) {
    asio::post(io_, [this, peers, events] {
      peers_ = peers;
      for (auto& c : conns_) c->push_events(events);
    });
  }
  void close() {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& c : conns_) c->close();
      conns_.clear();
    });
  }
  std::atomic<int> peer_queries{0};

 private:
  class Conn final : public net::FramedConnection {
   public:
    Conn(net::Stream s, TopologyNode& node)
        : FramedConnection(std::move(s), net::ConnectionRole::Server), node_(node) {}
    void push_events(int n) {
      if (!registered_) return;
      for (int i = 0; i < n; ++i) {
        protocol::TopologyChangeEvent e;
        e.address.address = Bytes{127, 0, 0, 9};
        e.address.port = 9042;
        (void)send(
            protocol::make_response(version_, protocol::StreamId{-1}, protocol::EventMessage{e}));
      }
      flush();
    }

   private:
    void on_frame(const protocol::Frame& frame) override {
      version_ = frame.header.version;
      auto msg = protocol::decode_message(frame.header, frame.body);
      if (!msg) return close();
      const auto& body = std::get<protocol::RequestBody>(msg->body);
      protocol::ResponseBody answer = protocol::ReadyMessage{};
      if (std::holds_alternative<protocol::OptionsMessage>(body)) {
        answer = protocol::SupportedMessage{};
      } else if (std::holds_alternative<protocol::RegisterMessage>(body)) {
        registered_ = true;
      } else if (const auto* q = std::get_if<protocol::QueryMessage>(&body)) {
        answer = node_.rows(q->query);
      }
      (void)send(protocol::make_response(frame.header.version, frame.header.stream, answer));
    }
    TopologyNode& node_;
    protocol::ProtocolVersion version_ = protocol::ProtocolVersion::V4;
    bool registered_ = false;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<Conn>(net::Stream(std::move(socket)), *this);
      conns_.push_back(c);
      c->start();
      accept();
    });
  }

  static Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
  static Bytes uuid(uint8_t last) {
    Bytes b(16, 0);
    b[15] = last;
    return b;
  }

  protocol::ResultMessage rows(const std::string& query) {
    protocol::RowsResult r;
    auto column = [&r](std::string name, TypeId type) {
      r.metadata.columns.push_back({"system", "t", std::move(name), DataType::simple(type)});
    };
    if (query.find("system.local") != std::string::npos) {
      column("data_center", TypeId::Varchar);
      column("rack", TypeId::Varchar);
      column("host_id", TypeId::Uuid);
      r.rows.push_back({text("dc1"), text("r1"), uuid(1)});
    } else {
      ++peer_queries;
      column("peer", TypeId::Inet);
      column("rpc_address", TypeId::Inet);
      column("data_center", TypeId::Varchar);
      column("rack", TypeId::Varchar);
      column("host_id", TypeId::Uuid);
      for (uint8_t p : peers_) {
        r.rows.push_back(
            {Bytes{127, 0, 0, p}, Bytes{127, 0, 0, p}, text("dc1"), text("r1"), uuid(p)});
      }
    }
    r.metadata.column_count = static_cast<int32_t>(r.metadata.columns.size());
    return protocol::ResultMessage{std::move(r)};
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<uint8_t> peers_;
};

template <class Predicate>
bool wait_until(Predicate p) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return p();
}

class ControlConnectionTopology : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds debounce, std::chrono::milliseconds refresh) {
    ControlConnectionOptions o;
    o.contact_points = {"127.0.0.1"};
    o.port = node_.port();
    o.max_version = protocol::ProtocolVersion::V4;
    o.topology_event_debounce = debounce;
    o.topology_refresh_interval = refresh;
    control_ = std::make_unique<ControlConnection>(io_, o);
    control_->start([this](std::shared_ptr<const ClusterView>) { ++views_; });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (control_) control_->stop();
    node_.close();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  size_t nodes() const {
    auto v = control_->view();
    return v ? v->nodes.size() : 0;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  TopologyNode node_{io_};
  std::unique_ptr<ControlConnection> control_;
  std::atomic<int> views_{0};
  std::thread thread_;
};

TEST_F(ControlConnectionTopology, FollowsTopologyChangeEventsWithoutPeriodicRefresh) {
  start(std::chrono::milliseconds(20), std::chrono::milliseconds(0));
  ASSERT_TRUE(wait_until([&] { return views_.load() == 1; }));
  EXPECT_EQ(nodes(), 1u);
  EXPECT_EQ(views_.load(), 1);

  node_.set_peers({2, 3}, 1);
  ASSERT_TRUE(wait_until([&] { return views_.load() == 2; }));
  EXPECT_EQ(nodes(), 3u);
  auto view = control_->view();
  EXPECT_EQ(view->assigned.size(), 3u);  // one proxy: every node is ours
  EXPECT_EQ(views_.load(), 2);

  node_.set_peers({3}, 1);  // 127.0.0.2 leaves: new sessions stop using it
  ASSERT_TRUE(wait_until([&] { return views_.load() == 3; }));
  EXPECT_EQ(nodes(), 2u);
  for (const auto& n : control_->view()->assigned) EXPECT_NE(n.address, "127.0.0.2");
}

TEST_F(ControlConnectionTopology, ABurstOfEventsCausesOneRefresh) {
  start(std::chrono::milliseconds(300), std::chrono::milliseconds(0));
  ASSERT_TRUE(wait_until([&] { return views_.load() == 1; }));
  EXPECT_EQ(nodes(), 1u);
  const int queries_before = node_.peer_queries.load();
  node_.set_peers({2}, 25);
  ASSERT_TRUE(wait_until([&] { return views_.load() == 2; }));
  EXPECT_EQ(control_->topology_events(), 25u);
  EXPECT_EQ(control_->topology_refreshes(), 1u);
  EXPECT_EQ(node_.peer_queries.load() - queries_before, 1);
}

TEST_F(ControlConnectionTopology, PeriodicRefreshPicksUpChangedPeersWithoutEvents) {
  start(std::chrono::milliseconds(20), std::chrono::milliseconds(30));
  ASSERT_TRUE(wait_until([&] { return views_.load() == 1; }));
  EXPECT_EQ(nodes(), 1u);
  node_.set_peers({5}, 0);
  ASSERT_TRUE(wait_until([&] { return views_.load() == 2; }));
  EXPECT_EQ(nodes(), 2u);
  EXPECT_EQ(control_->topology_events(), 0u);
  EXPECT_GE(control_->topology_refreshes(), 1u);
  const auto refreshes = control_->topology_refreshes();
  ASSERT_TRUE(wait_until([&] { return control_->topology_refreshes() >= refreshes + 2; }));
  EXPECT_EQ(views_.load(), 2);  // unchanged refreshes publish nothing
}

TEST(SameNodes, ComparesAddressesAndIdentity) {
  ClusterNode a;
  a.address = "10.0.0.1";
  ClusterNode b = a;
  EXPECT_TRUE(same_nodes({a}, {b}));
  b.host_id[0] = 1;
  EXPECT_FALSE(same_nodes({a}, {b}));
  EXPECT_FALSE(same_nodes({a}, {a, a}));
}

}  // namespace
}  // namespace zdm::proxy
