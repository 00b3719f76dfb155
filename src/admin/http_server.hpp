#pragma once
// A small HTTP/1.1 server (Boost.Beast) for admin endpoints: metrics, health, and later control
// APIs such as the embedded node's fault injection. It knows nothing about metrics; it maps
// (method, path) to handlers.
//
// It runs on an io_context owned by the caller (so it can share the proxy's event loop), serves
// keep-alive connections, bounds header and body sizes, the number of connections and idle time.
// Handlers run on the io thread and should return quickly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/result.hpp"

namespace zdm::admin {

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/metrics?name=x"
  std::string path;    // "/metrics"
  std::string query;   // "name=x" (undecoded)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;

  static HttpResponse text(unsigned status, std::string body);
  static HttpResponse json(unsigned status, std::string body);
};

// May throw: the server answers 500 and keeps going (control plane).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the OS picks a free port; see HttpServer::port()
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  size_t max_connections = 64;
  std::chrono::milliseconds idle_timeout{30'000};  // also bounds a slow request or response
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds or replaces the handler of (method, path); exact path match, query string ignored.
  // Thread-safe, before or after start(): a replaced handler serves the next request, which lets
  // the HTTP endpoints come up before the component behind them is ready.
  void route(std::string method, std::string path, HttpHandler handler);
  void remove_route(const std::string& method, const std::string& path);

  // Resolves host, binds, listens and starts accepting. Fails with a message naming the address.
  Result<void> start();
  // The bound port (the real one when 0 was asked for); 0 before start().
  uint16_t port() const;

  // Stops accepting and closes open connections. Thread-safe; idempotent.
  void stop();

  // Connections currently open (for tests and status pages).
  size_t connection_count() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace zdm::admin
