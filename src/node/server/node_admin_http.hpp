#pragma once
// The node's admin HTTP API, for tests and demos to steer fault injection at run time. Served by
// admin::HttpServer (the proxy's /metrics server) on the io thread it is given; every answer,
// errors included, is JSON:
//   GET /health               {"status":"ok"}
//   GET /faults               the rules, with ids and matched/fired counts
//   POST /faults              add a rule: a JSON object or a key=value spec (fault_injector.hpp);
//                             201 {"id":N}, or 400 {"error":...} for a bad spec
//   DELETE /faults            remove every rule
//   DELETE /faults/<id>       remove one (400 if <id> is not a number, 404 if no such rule)
//   GET /counters             requests per opcode, statements per kind, faults fired, connections
//   POST /counters/reset
//   POST /prepared/clear      forget every prepared statement (a node that lost them)
// A known path with another method gets 405, an unknown path 404.

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "admin/http_server.hpp"
#include "common/result.hpp"
#include "net/listener.hpp"
#include "node/server/fault_injector.hpp"

namespace zdm::node {

struct AdminHooks {
  std::function<void()> clear_prepared;
  std::function<uint64_t()> open_connections;
};

// Installs the routes above on `server`. `faults` must outlive the server's use of it; the hooks
// run on the server's io thread.
void add_admin_routes(admin::HttpServer& server, FaultInjector& faults, AdminHooks hooks);

// An HttpServer with the routes above, bound to the node's --admin address.
class NodeAdminHttp {
 public:
  // Binds and listens (port 0: a free port, see port()); requests are served once `context` runs.
  static Result<std::shared_ptr<NodeAdminHttp>> bind(boost::asio::io_context& context,
                                                     const net::HostPort& address,
                                                     FaultInjector& faults, AdminHooks hooks);
  NodeAdminHttp(boost::asio::io_context& context, admin::HttpServerOptions options);

  uint16_t port() const { return server_.port(); }
  // Nothing left to do: bind() already listens. Kept so that callers read as bind, start, stop.
  void start() {}
  void stop() { server_.stop(); }  // thread-safe; closes open connections too

 private:
  admin::HttpServer server_;
};

}  // namespace zdm::node
