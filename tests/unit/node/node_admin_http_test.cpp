// The node's admin API over HTTP (NodeAdminHttp on admin::HttpServer), without a CQL server:
// status codes, JSON bodies (errors included) and the effect on the FaultInjector.
#include "node/server/node_admin_http.hpp"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zdm::node {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct Reply {
  unsigned status = 0;
  std::string content_type;
  nlohmann::json body;
};

class NodeAdminHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminHooks hooks;
    hooks.clear_prepared = [this] { ++clears_; };
    hooks.open_connections = [] { return uint64_t{7}; };
    auto bound = NodeAdminHttp::bind(io_, net::HostPort{"127.0.0.1", 0}, faults_, hooks);
    ASSERT_TRUE(bound) << bound.error().to_string();
    admin_ = *bound;
    admin_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (admin_) admin_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // One request on its own connection (the server answers, then closes: Connection: close).
  Reply call(http::verb method, std::string target, std::string body = "") {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), admin_->port()});
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(false);
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    Reply reply{res.result_int(), std::string(res[http::field::content_type]), nullptr};
    reply.body = nlohmann::json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
    return reply;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  FaultInjector faults_;
  std::shared_ptr<NodeAdminHttp> admin_;
  std::thread thread_;
  std::atomic<int> clears_{0};  // the hook runs on the io thread
};

TEST_F(NodeAdminHttpTest, HealthIsOk) {
  auto reply = call(http::verb::get, "/health");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, nlohmann::json({{"status", "ok"}}));
}

TEST_F(NodeAdminHttpTest, AddsListsAndRemovesFaultRules) {
  auto added = call(http::verb::post, "/faults", "action=error,error=OVERLOADED,opcode=OPTIONS");
  ASSERT_EQ(added.status, 201u);
  const auto id = added.body["id"].get<uint64_t>();
  auto listed = call(http::verb::get, "/faults");
  EXPECT_EQ(listed.status, 200u);
  ASSERT_TRUE(listed.body.is_array());
  EXPECT_EQ(listed.body.size(), 1u);
  EXPECT_TRUE(faults_.has_rules());

  EXPECT_EQ(call(http::verb::delete_, "/faults/" + std::to_string(id)).status, 200u);
  EXPECT_FALSE(faults_.has_rules());
  auto again = call(http::verb::delete_, "/faults/" + std::to_string(id));
  EXPECT_EQ(again.status, 404u);
  EXPECT_TRUE(again.body.contains("error"));

  ASSERT_EQ(call(http::verb::post, "/faults", R"({"action":"drop","query":"x"})").status, 201u);
  EXPECT_EQ(call(http::verb::delete_, "/faults").status, 200u);
  EXPECT_FALSE(faults_.has_rules());
}

TEST_F(NodeAdminHttpTest, BadRequestsGetJsonErrors) {
  auto bad_spec = call(http::verb::post, "/faults", "action=explode");
  EXPECT_EQ(bad_spec.status, 400u);
  EXPECT_TRUE(bad_spec.body.contains("error"));
  auto bad_id = call(http::verb::delete_, "/faults/abc");
  EXPECT_EQ(bad_id.status, 400u);
  EXPECT_EQ(bad_id.body["error"], "the rule id must be a number");
  auto unknown = call(http::verb::get, "/nope");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(unknown.content_type, "application/json");
  EXPECT_TRUE(unknown.body.contains("error"));
  EXPECT_EQ(call(http::verb::post, "/health").status, 405u);
  EXPECT_EQ(call(http::verb::get, "/faults/1").status, 405u);
  EXPECT_EQ(call(http::verb::get, "/counters/reset").status, 405u);
  EXPECT_EQ(call(http::verb::put, "/faults").status, 405u);
}

TEST_F(NodeAdminHttpTest, CountersIncludeConnectionsAndReset) {
  faults_.count_request(protocol::Opcode::Options);
  auto counters = call(http::verb::get, "/counters");
  EXPECT_EQ(counters.status, 200u);
  EXPECT_EQ(counters.body["requests"]["OPTIONS"], 1);
  EXPECT_EQ(counters.body["connections"], 7);
  EXPECT_EQ(call(http::verb::post, "/counters/reset").status, 200u);
  EXPECT_EQ(faults_.requests(protocol::Opcode::Options), 0u);
}

TEST_F(NodeAdminHttpTest, PreparedClearCallsTheHook) {
  EXPECT_EQ(call(http::verb::post, "/prepared/clear").status, 200u);
  EXPECT_EQ(clears_.load(), 1);
}

TEST(NodeAdminHttpBind, FailsWithAMessageNamingAdminWhenThePortIsTaken) {
  asio::io_context io;
  FaultInjector faults;
  auto first = NodeAdminHttp::bind(io, net::HostPort{"127.0.0.1", 0}, faults, {});
  ASSERT_TRUE(first);
  auto second = NodeAdminHttp::bind(io, net::HostPort{"127.0.0.1", (*first)->port()}, faults, {});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("--admin"), std::string::npos) << second.error().message;
}

}  // namespace
}  // namespace zdm::node
