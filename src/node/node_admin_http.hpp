#pragma once
// The node's admin HTTP endpoint (Boost.Beast), for tests and demos to steer fault injection at
// run time:
//   GET /health               {"status":"ok"}
//   GET /faults               the rules, with ids and matched/fired counts
//   POST /faults              add a rule: a JSON object, or a key=value spec (see
//   fault_injector.hpp) DELETE /faults            remove every rule;  DELETE /faults/<id>  remove
//   one GET /counters             requests per opcode, statements per kind, faults fired,
//   connections POST /counters/reset POST /prepared/clear      forget every prepared statement (a
//   node that lost them)
// Control plane: one coroutine per HTTP connection on the io thread it was given.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "net/listener.hpp"
#include "node/fault_injector.hpp"

namespace zdm::node {

struct AdminHooks {
  std::function<void()> clear_prepared;
  std::function<uint64_t()> open_connections;
};

struct AdminReply {
  unsigned status = 200;
  std::string body;  // JSON
};

// The routing, without sockets (unit-testable).
AdminReply handle_admin_request(std::string_view method, std::string_view target,
                                std::string_view body, FaultInjector& faults,
                                const AdminHooks& hooks);

class NodeAdminHttp : public std::enable_shared_from_this<NodeAdminHttp> {
 public:
  static Result<std::shared_ptr<NodeAdminHttp>> bind(boost::asio::io_context& context,
                                                     const net::HostPort& address,
                                                     FaultInjector& faults, AdminHooks hooks);
  NodeAdminHttp(boost::asio::ip::tcp::acceptor acceptor, FaultInjector& faults, AdminHooks hooks);

  uint16_t port() const { return port_; }
  void start();
  void stop();  // thread-safe

 private:
  void accept_next();

  boost::asio::ip::tcp::acceptor acceptor_;
  FaultInjector& faults_;
  AdminHooks hooks_;
  uint16_t port_ = 0;
};

}  // namespace zdm::node
