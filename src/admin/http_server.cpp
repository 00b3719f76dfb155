#include "admin/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <map>
#include <mutex>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace zdm::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

HttpResponse HttpResponse::text(unsigned status, std::string body) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

HttpResponse HttpResponse::json(unsigned status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body)};
}

// Shared by the server object and every coroutine, so that destroying the HttpServer while
// connections are still unwinding on the io thread is safe.
struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  struct Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
  };

  State(asio::io_context& io_context, HttpServerOptions opts)
      : io(io_context), options(std::move(opts)), acceptor(asio::make_strand(io_context)) {}

  asio::io_context& io;
  HttpServerOptions options;
  tcp::acceptor acceptor;
  std::atomic<uint16_t> bound_port{0};
  std::atomic<bool> stopped{false};

  using Routes = std::map<std::pair<std::string, std::string>, std::shared_ptr<const HttpHandler>>;
  mutable std::mutex mu;  // guards routes, prefix_routes and connections
  Routes routes;          // (method, path)
  Routes prefix_routes;   // (method, path prefix)
  std::map<uint64_t, std::weak_ptr<Connection>> connections;
  uint64_t next_connection_id = 0;

  void set_route(Routes& table, std::string method, std::string path, HttpHandler handler) {
    auto shared = std::make_shared<const HttpHandler>(std::move(handler));
    std::lock_guard lock(mu);
    table[{std::move(method), std::move(path)}] = std::move(shared);
  }
  void erase_route(Routes& table, const std::string& method, const std::string& path) {
    std::lock_guard lock(mu);
    table.erase({method, path});
  }
  HttpResponse dispatch(const HttpRequest& request) const;
  HttpResponse error_response(unsigned status, std::string message) const;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection);
  void forget(uint64_t id) {
    std::lock_guard lock(mu);
    connections.erase(id);
  }
};

HttpResponse HttpServer::State::error_response(unsigned status, std::string message) const {
  if (options.error_bodies == ErrorBodies::Json) {
    return HttpResponse::json(status, nlohmann::json{{"error", std::move(message)}}.dump());
  }
  message += '\n';
  return HttpResponse::text(status, std::move(message));
}

HttpResponse HttpServer::State::dispatch(const HttpRequest& request) const {
  std::shared_ptr<const HttpHandler> handler;
  std::string allowed;
  {
    std::lock_guard lock(mu);
    for (const auto& [key, h] : routes) {
      if (key.second != request.path) continue;
      if (key.first == request.method) {
        handler = h;
        break;
      }
      if (!allowed.empty()) allowed += ", ";
      allowed += key.first;
    }
    if (!handler && allowed.empty()) {
      // No exact route for the path: the longest matching prefix decides.
      size_t longest = 0;
      for (const auto& [key, h] : prefix_routes) {
        if (request.path.starts_with(key.second)) longest = std::max(longest, key.second.size());
      }
      for (const auto& [key, h] : prefix_routes) {
        if (key.second.size() != longest || !request.path.starts_with(key.second)) continue;
        if (key.first == request.method) {
          handler = h;
          break;
        }
        if (!allowed.empty()) allowed += ", ";
        allowed += key.first;
      }
    }
  }
  if (!handler) {
    if (!allowed.empty()) {
      return error_response(405, fmt::format("method {} not allowed on {} (allowed: {})",
                                             request.method, request.path, allowed));
    }
    return error_response(404, fmt::format("no such path: {}", request.path));
  }
  try {
    return (*handler)(request);
  } catch (const std::exception& e) {
    spdlog::error("admin http: handler for {} {} failed: {}", request.method, request.path,
                  e.what());
    return error_response(500, "internal error; see the server log");
  }
}

asio::awaitable<void> HttpServer::State::accept_loop() {
  auto self = shared_from_this();
  while (!stopped.load()) {
    // Each connection gets its own strand so stop() can close it from any thread via post.
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), kAwait);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped.load()) break;
      // Out of fds and similar: log and keep serving the connections we have.
      spdlog::warn("admin http: accept failed: {}", ec.message());
      continue;
    }
    auto connection = std::make_shared<Connection>(std::move(socket));
    uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      if (connections.size() >= options.max_connections) {
        spdlog::warn("admin http: {} connections open, refusing another", connections.size());
        continue;  // the socket closes with `connection`
      }
      id = next_connection_id++;
      connections.emplace(id, connection);
    }
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor, serve(connection), [self, id](std::exception_ptr e) {
      self->forget(id);
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("admin http: connection ended with an exception: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> HttpServer::State::serve(std::shared_ptr<Connection> connection) {
  auto self = shared_from_this();
  auto& stream = connection->stream;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    stream.expires_after(options.idle_timeout);
    auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, kAwait);
    (void)read_bytes;

    http::response<http::string_body> response;
    bool keep_alive = false;
    if (read_ec) {
      // A malformed or oversized request gets an answer; a closed or idle socket does not.
      unsigned status = 0;
      if (read_ec == http::error::body_limit) {
        status = 413;
      } else if (read_ec == http::error::header_limit) {
        status = 431;
      } else if (read_ec.category() == beast::error_code(http::error::bad_method).category() &&
                 read_ec != http::error::end_of_stream && read_ec != http::error::partial_message) {
        status = 400;
      }
      if (status == 0) break;
      auto error = error_response(status, fmt::format("bad request: {}", read_ec.message()));
      response.result(status);
      response.set(http::field::content_type, error.content_type);
      response.body() = std::move(error.body);
    } else {
      auto& msg = parser.get();
      HttpRequest request;
      request.method = std::string(msg.method_string());
      request.target = std::string(msg.target());
      const auto q = request.target.find('?');
      request.path = request.target.substr(0, q);
      if (q != std::string::npos) request.query = request.target.substr(q + 1);
      for (const auto& field : msg) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      request.body = std::move(msg.body());
      beast::error_code peer_ec;
      const auto peer = stream.socket().remote_endpoint(peer_ec);
      if (!peer_ec) request.peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
      keep_alive = msg.keep_alive() && !stopped.load();

      auto result = dispatch(request);
      response.result(result.status);
      response.version(msg.version());
      response.set(http::field::content_type, result.content_type);
      response.body() = std::move(result.body);
    }
    response.set(http::field::server, "zdm");
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(options.idle_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, response, kAwait);
    (void)written;
    if (write_ec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options)
    : state_(std::make_shared<State>(io, std::move(options))) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string path, HttpHandler handler) {
  state_->set_route(state_->routes, std::move(method), std::move(path), std::move(handler));
}

void HttpServer::remove_route(const std::string& method, const std::string& path) {
  state_->erase_route(state_->routes, method, path);
}

void HttpServer::route_prefix(std::string method, std::string prefix, HttpHandler handler) {
  state_->set_route(state_->prefix_routes, std::move(method), std::move(prefix),
                    std::move(handler));
}

void HttpServer::remove_prefix_route(const std::string& method, const std::string& prefix) {
  state_->erase_route(state_->prefix_routes, method, prefix);
}

Result<void> HttpServer::start() {
  auto& st = *state_;
  const auto where = fmt::format("{}:{}", st.options.host, st.options.port);
  boost::system::error_code ec;
  tcp::resolver resolver(st.io);
  auto results = resolver.resolve(st.options.host, std::to_string(st.options.port),
                                  tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return fail(Errc::Io, fmt::format("admin http: cannot resolve {}: {}", where,
                                      ec ? ec.message() : "no address"));
  }
  const auto endpoint = results.begin()->endpoint();
  st.acceptor.open(endpoint.protocol(), ec);
  if (!ec) st.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) st.acceptor.bind(endpoint, ec);
  if (!ec) st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    st.acceptor.close(ignored);
    return fail(Errc::Io, fmt::format("admin http: cannot listen on {}: {} (is the port in use? "
                                      "choose another with {})",
                                      where, ec.message(), st.options.address_setting));
  }
  st.bound_port.store(st.acceptor.local_endpoint(ec).port());
  auto self = state_;
  asio::co_spawn(st.acceptor.get_executor(), st.accept_loop(), [self](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("admin http: accept loop ended with an exception: {}", ex.what());
    }
  });
  return {};
}

uint16_t HttpServer::port() const { return state_->bound_port.load(); }

size_t HttpServer::connection_count() const {
  std::lock_guard lock(state_->mu);
  return state_->connections.size();
}

void HttpServer::stop() {
  auto st = state_;
  if (st->stopped.exchange(true)) return;
  asio::post(st->acceptor.get_executor(), [st] {
    boost::system::error_code ignored;
    st->acceptor.close(ignored);
  });
  std::lock_guard lock(st->mu);
  for (auto& [id, weak] : st->connections) {
    if (auto connection = weak.lock()) {
      asio::post(connection->stream.get_executor(), [connection] {
        boost::system::error_code ignored;
        connection->stream.socket().close(ignored);
      });
    }
  }
}

}  // namespace zdm::admin
