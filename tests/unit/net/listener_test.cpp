#include "net/listener.hpp"

#include <condition_variable>
#include <mutex>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

namespace zdm::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

TEST(HostPortTest, ParsesHostsPortsAndIpv6) {
  auto a = parse_host_port("127.0.0.1:9042");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9042);
  auto b = parse_host_port("[::1]:0");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  EXPECT_EQ(b->to_string(), "[::1]:0");
  EXPECT_FALSE(parse_host_port("localhost").has_value());
  EXPECT_FALSE(parse_host_port("localhost:70000").has_value());
  EXPECT_FALSE(parse_host_port("localhost:x").has_value());
  EXPECT_FALSE(parse_host_port(":9042").has_value());
}

TEST(ListenerTest, HandsConnectionsRoundRobinToIoThreadsOnTheirOwnThread) {
  IoThreads threads(2);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<size_t> indexes;
  int on_own_thread = 0;
  std::vector<tcp::socket> kept;
  auto listener =
      Listener::bind(threads, HostPort{"127.0.0.1", 0}, [&](tcp::socket socket, size_t index) {
        std::lock_guard lock(mu);
        indexes.push_back(index);
        if (threads.context(index).get_executor().running_in_this_thread()) {
          ++on_own_thread;
        }
        kept.push_back(std::move(socket));
        cv.notify_all();
      });
  ASSERT_TRUE(listener.has_value()) << listener.error().message;
  ASSERT_NE((*listener)->port(), 0);
  threads.start();
  (*listener)->start();

  asio::io_context client_io;
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back(client_io);
    clients.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*listener)->port()));
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return indexes.size() == 4; }));
    EXPECT_EQ(on_own_thread, 4);
    EXPECT_EQ(std::set<size_t>(indexes.begin(), indexes.end()).size(), 2u);
  }
  (*listener)->stop();
  threads.stop();
  kept.clear();
}

TEST(ListenerTest, ReportsAPortInUse) {
  IoThreads threads(1);
  auto first = Listener::bind(threads, HostPort{"127.0.0.1", 0}, [](tcp::socket, size_t) {});
  ASSERT_TRUE(first.has_value());
  // SO_REUSEADDR does not allow two listeners on one port.
  auto second =
      Listener::bind(threads, HostPort{"127.0.0.1", (*first)->port()}, [](tcp::socket, size_t) {});
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace zdm::net
