#pragma once
// A small HTTP/1.1 server (Boost.Beast) for admin endpoints: the proxy's metrics and health, the
// embedded node's fault injection API. It knows nothing about either; it maps (method, path or
// path prefix) to handlers.
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
  std::string peer;  // "ip:port" of the caller ("" if unknown)

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

// The shape of the answers the server writes itself (400, 404, 405, 413, 431, 500).
enum class ErrorBodies {
  Text,  // "no such path: /x\n", text/plain (the proxy's endpoints)
  Json,  // {"error":"no such path: /x"}, application/json (an API whose every answer is JSON)
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the OS picks a free port; see HttpServer::port()
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  size_t max_connections = 64;
  std::chrono::milliseconds idle_timeout{30'000};  // also bounds a slow request or response
  ErrorBodies error_bodies = ErrorBodies::Text;
  // Named in the message when the address cannot be bound ("choose another with ...").
  std::string address_setting = "the metrics port setting";
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

  // Adds or replaces the handler of (method, every path that starts with `prefix`), e.g.
  // ("DELETE", "/faults/") for "/faults/<id>"; the handler reads the rest from request.path. An
  // exact route wins over a prefix route for the same path, a longer prefix over a shorter one.
  void route_prefix(std::string method, std::string prefix, HttpHandler handler);
  void remove_prefix_route(const std::string& method, const std::string& prefix);

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
