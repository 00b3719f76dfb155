#include "admin/http_server.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/error_code.hpp>
#include <gtest/gtest.h>

namespace zdm::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr auto kDeadline = std::chrono::seconds(5);

// The server on its own io thread, as the proxy would run it.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {}
  void start(HttpServerOptions options = {}) {
    server_.emplace(io_, options);
    configure(*server_);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().to_string();
    thread_ = std::thread([this] { io_.run(); });
  }
  virtual void configure(HttpServer&) {}
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::optional<HttpServer> server_;
  std::thread thread_;
};

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  bool keep_alive = false;
};

struct Request {
  http::verb method = http::verb::get;
  std::string target;
  std::string body;
  bool keep_alive = true;
};

// Sends the requests one after another on one connection and collects the replies; stops at the
// first failure. Every operation is bounded by kDeadline.
std::vector<Reply> exchange(uint16_t port, std::vector<Request> requests,
                            std::string* error = nullptr) {
  asio::io_context io;
  std::vector<Reply> replies;
  std::string failure;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        stream.expires_after(kDeadline);
        auto [cec] = co_await stream.async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kAwait);
        if (cec) {
          failure = "connect: " + cec.message();
          co_return;
        }
        beast::flat_buffer buffer;
        for (const auto& r : requests) {
          http::request<http::string_body> req(r.method, r.target, 11);
          req.set(http::field::host, "127.0.0.1");
          req.body() = r.body;
          req.keep_alive(r.keep_alive);
          req.prepare_payload();
          stream.expires_after(kDeadline);
          auto [wec, wn] = co_await http::async_write(stream, req, kAwait);
          if (wec) {
            failure = "write: " + wec.message();
            co_return;
          }
          http::response<http::string_body> res;
          auto [rec, rn] = co_await http::async_read(stream, buffer, res, kAwait);
          if (rec) {
            failure = "read: " + rec.message();
            co_return;
          }
          replies.push_back(Reply{res.result_int(), std::string(res[http::field::content_type]),
                                  res.body(), res.keep_alive()});
        }
      },
      asio::detached);
  io.run();
  if (error != nullptr) *error = failure;
  return replies;
}

Reply get(uint16_t port, std::string target, http::verb method = http::verb::get) {
  std::string error;
  auto replies = exchange(port, {Request{method, std::move(target), "", false}}, &error);
  EXPECT_EQ(replies.size(), 1u) << error;
  return replies.empty() ? Reply{} : replies.front();
}

// Raw bytes in, everything the server sends until it closes out (bounded by kDeadline). `end`,
// when given, gets what ended the read: EOF or a reset when the server closed, beast's timeout
// when it kept the connection open.
std::string raw_exchange(uint16_t port, std::string bytes,
                         boost::system::error_code* end = nullptr) {
  asio::io_context io;
  std::string received;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        stream.expires_after(kDeadline);
        auto [cec] = co_await stream.async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kAwait);
        if (cec) co_return;
        auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(bytes), kAwait);
        if (wec) co_return;
        char chunk[4096];
        for (;;) {
          auto [rec, n] = co_await stream.async_read_some(asio::buffer(chunk), kAwait);
          received.append(chunk, n);
          if (rec) {
            if (end != nullptr) *end = rec;
            break;
          }
        }
      },
      asio::detached);
  io.run();
  return received;
}

class HttpServerTest : public ServerFixture {
 protected:
  void configure(HttpServer& server) override {
    server.route("GET", "/hello",
                 [](const HttpRequest& r) { return HttpResponse::text(200, "hello " + r.query); });
    server.route("POST", "/echo", [](const HttpRequest& r) {
      return HttpResponse{201, "application/octet-stream", r.body};
    });
    server.route("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler bug");
    });
  }
};

TEST_F(HttpServerTest, BindsAnEphemeralPortAndServesARoute) {
  start();
  ASSERT_NE(server_->port(), 0);
  auto reply = get(server_->port(), "/hello?x=1");
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body, "hello x=1");
  EXPECT_EQ(reply.content_type, "text/plain; charset=utf-8");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  start();
  EXPECT_EQ(get(server_->port(), "/nope").status, 404u);
  EXPECT_EQ(get(server_->port(), "/hello", http::verb::post).status, 405u);
  EXPECT_EQ(get(server_->port(), "/echo").status, 405u);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  std::string error;
  auto replies = exchange(server_->port(),
                          {Request{http::verb::get, "/hello?a", "", true},
                           Request{http::verb::post, "/echo", "payload", true},
                           Request{http::verb::get, "/hello?b", "", false}},
                          &error);
  ASSERT_EQ(replies.size(), 3u) << error;
  EXPECT_EQ(replies[0].body, "hello a");
  EXPECT_TRUE(replies[0].keep_alive);
  EXPECT_EQ(replies[1].status, 201u);
  EXPECT_EQ(replies[1].body, "payload");
  EXPECT_EQ(replies[2].body, "hello b");
  EXPECT_FALSE(replies[2].keep_alive);
}

TEST_F(HttpServerTest, ThrowingHandlerGives500AndServerKeepsServing) {
  start();
  EXPECT_EQ(get(server_->port(), "/boom").status, 500u);
  EXPECT_EQ(get(server_->port(), "/hello").status, 200u);
}

TEST_F(HttpServerTest, RoutesCanBeReplacedAndRemovedWhileRunning) {
  start();
  server_->route("GET", "/hello", [](const HttpRequest&) { return HttpResponse::text(200, "v2"); });
  EXPECT_EQ(get(server_->port(), "/hello").body, "v2");
  server_->remove_route("GET", "/hello");
  EXPECT_EQ(get(server_->port(), "/hello").status, 404u);
}

TEST_F(HttpServerTest, OversizedBodyIs413AndConnectionCloses) {
  HttpServerOptions options;
  options.max_body_bytes = 16;
  start(options);
  boost::system::error_code end;
  auto out = raw_exchange(
      server_->port(),
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'a'),
      &end);
  EXPECT_TRUE(out.starts_with("HTTP/1.1 413")) << out;
  // The server closed the connection (EOF, or a reset: the unread body was still in its receive
  // buffer); a connection left open ends the read at kDeadline with beast's timeout instead.
  EXPECT_TRUE(end == asio::error::eof || end == asio::error::connection_reset)
      << "the read ended with: " << end.message();
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 256;
  start(options);
  auto out = raw_exchange(server_->port(), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                               std::string(1000, 'b') + "\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 431")) << out;
}

TEST_F(HttpServerTest, GarbageGets400AndDoesNotStopTheServer) {
  start();
  auto out = raw_exchange(server_->port(), std::string("\x01\x02 not http\r\n\r\n"));
  EXPECT_TRUE(out.starts_with("HTTP/1.1 400")) << out;
  EXPECT_EQ(get(server_->port(), "/hello").status, 200u);
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnections) {
  start();
  // Open a keep-alive connection, then stop the server from this thread: the next read on that
  // connection must see the close rather than wait for the deadline.
  asio::io_context io;
  std::string outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        stream.expires_after(kDeadline);
        auto [cec] = co_await stream.async_connect(
            tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()), kAwait);
        if (cec) co_return;
        http::request<http::string_body> req(http::verb::get, "/hello", 11);
        req.keep_alive(true);
        co_await http::async_write(stream, req, kAwait);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        auto [rec, rn] = co_await http::async_read(stream, buffer, res, kAwait);
        if (rec || !res.keep_alive()) {
          outcome = "first request failed";
          co_return;
        }
        server_->stop();
        char byte;
        auto [ec2, n2] = co_await stream.async_read_some(asio::buffer(&byte, 1), kAwait);
        outcome = ec2 == beast::error::timeout ? "timeout" : "closed";
      },
      asio::detached);
  io.run();
  EXPECT_EQ(outcome, "closed");
  // And no new connection is accepted.
  std::string error;
  EXPECT_TRUE(
      exchange(server_->port(), {Request{http::verb::get, "/hello", "", false}}, &error).empty());
}

class HttpServerPrefixTest : public ServerFixture {
 protected:
  void configure(HttpServer& server) override {
    server.route("GET", "/items",
                 [](const HttpRequest&) { return HttpResponse::text(200, "all"); });
    server.route_prefix("DELETE", "/items/", [](const HttpRequest& r) {
      return HttpResponse::text(200, "deleted " + r.path.substr(7));
    });
    server.route_prefix("DELETE", "/items/special/", [](const HttpRequest& r) {
      return HttpResponse::text(200, "special " + r.path.substr(15));
    });
    server.route("DELETE", "/items/exact",
                 [](const HttpRequest&) { return HttpResponse::text(200, "exact"); });
  }
};

TEST_F(HttpServerPrefixTest, PrefixRouteServesEveryPathBelowIt) {
  start();
  EXPECT_EQ(get(server_->port(), "/items/42?x=1", http::verb::delete_).body, "deleted 42");
  EXPECT_EQ(get(server_->port(), "/items/", http::verb::delete_).body, "deleted ");
  EXPECT_EQ(get(server_->port(), "/items", http::verb::get).body, "all");
}

TEST_F(HttpServerPrefixTest, ExactRouteAndLongerPrefixWin) {
  start();
  EXPECT_EQ(get(server_->port(), "/items/exact", http::verb::delete_).body, "exact");
  EXPECT_EQ(get(server_->port(), "/items/special/7", http::verb::delete_).body, "special 7");
}

TEST_F(HttpServerPrefixTest, PrefixRouteWithAnotherMethodIs405AndCanBeRemoved) {
  start();
  EXPECT_EQ(get(server_->port(), "/items/42").status, 405u);
  EXPECT_EQ(get(server_->port(), "/other/42", http::verb::delete_).status, 404u);
  server_->remove_prefix_route("DELETE", "/items/");
  EXPECT_EQ(get(server_->port(), "/items/42", http::verb::delete_).status, 404u);
}

class HttpServerJsonErrorsTest : public HttpServerTest {};

TEST_F(HttpServerJsonErrorsTest, ServerAnswersAreJsonWhenAsked) {
  HttpServerOptions options;
  options.error_bodies = ErrorBodies::Json;
  start(options);
  auto missing = get(server_->port(), "/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.content_type, "application/json");
  EXPECT_EQ(missing.body, R"({"error":"no such path: /nope"})");
  auto wrong_method = get(server_->port(), "/hello", http::verb::post);
  EXPECT_EQ(wrong_method.status, 405u);
  EXPECT_EQ(wrong_method.content_type, "application/json");
  EXPECT_EQ(get(server_->port(), "/boom").content_type, "application/json");
  auto garbage = raw_exchange(server_->port(), std::string("\x01\x02 not http\r\n\r\n"));
  EXPECT_TRUE(garbage.starts_with("HTTP/1.1 400")) << garbage;
  EXPECT_NE(garbage.find(R"({"error":"bad request: )"), std::string::npos) << garbage;
}

TEST_F(HttpServerTest, ServerAnswersAreTextByDefault) {
  start();
  auto missing = get(server_->port(), "/nope");
  EXPECT_EQ(missing.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(missing.body, "no such path: /nope\n");
}

TEST(HttpServerStart, FailsWithAMessageWhenThePortIsTaken) {
  asio::io_context io;
  HttpServer first(io, {});
  ASSERT_TRUE(first.start());
  HttpServerOptions options;
  options.port = first.port();
  options.address_setting = "--admin";
  HttpServer second(io, options);
  auto result = second.start();
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find(std::to_string(first.port())), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("choose another with --admin"), std::string::npos)
      << result.error().message;
}

TEST(HttpServerStart, FailsOnUnresolvableHost) {
  asio::io_context io;
  HttpServerOptions options;
  options.host = "no-such-host.invalid";
  HttpServer server(io, options);
  EXPECT_FALSE(server.start());
}

}  // namespace
}  // namespace zdm::admin
