#include "node/node_admin_http.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

namespace zdm::node {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

std::string error_json(std::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump();
}

constexpr size_t kMaxBodyBytes = 64 * 1024;

asio::awaitable<void> serve(tcp::socket socket, FaultInjector& faults, AdminHooks hooks) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    auto [read_ec, n] =
        co_await http::async_read(socket, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (read_ec) co_return;  // closed, or not HTTP: nothing to answer
    const auto& req = parser.get();
    AdminReply reply =
        handle_admin_request(std::string_view(req.method_string()), std::string_view(req.target()),
                             req.body(), faults, hooks);
    http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
    res.set(http::field::server, "zdm node");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(reply.body);
    res.prepare_payload();
    auto [write_ec, m] =
        co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    (void)m;
    if (write_ec || !res.keep_alive()) break;
  }
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

AdminReply handle_admin_request(std::string_view method, std::string_view target,
                                std::string_view body, FaultInjector& faults,
                                const AdminHooks& hooks) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const std::string ok = nlohmann::json{{"status", "ok"}}.dump();
  if (target == "/health") {
    if (method != "GET") return {405, error_json("use GET /health")};
    return {200, ok};
  }
  if (target == "/faults") {
    if (method == "GET") return {200, faults.rules_json()};
    if (method == "DELETE") {
      faults.clear_rules();
      return {200, ok};
    }
    if (method == "POST") {
      auto rule = parse_fault_spec(body);
      if (!rule) return {400, error_json(rule.error().message)};
      auto id = faults.add_rule(std::move(*rule));
      if (!id) return {400, error_json(id.error().message)};
      return {201, nlohmann::json{{"id", *id}}.dump()};
    }
    return {405, error_json("use GET, POST or DELETE on /faults")};
  }
  if (target.starts_with("/faults/")) {
    if (method != "DELETE") return {405, error_json("use DELETE /faults/<id>")};
    const auto id_text = target.substr(8);
    uint64_t id = 0;
    auto [p, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || p != id_text.data() + id_text.size()) {
      return {400, error_json("the rule id must be a number")};
    }
    if (!faults.remove_rule(id)) return {404, error_json(fmt::format("no fault rule {}", id))};
    return {200, ok};
  }
  if (target == "/counters") {
    if (method != "GET") return {405, error_json("use GET /counters")};
    auto j = nlohmann::json::parse(faults.counters_json());
    if (hooks.open_connections) j["connections"] = hooks.open_connections();
    return {200, j.dump()};
  }
  if (target == "/counters/reset") {
    if (method != "POST") return {405, error_json("use POST /counters/reset")};
    faults.reset_counters();
    return {200, ok};
  }
  if (target == "/prepared/clear") {
    if (method != "POST") return {405, error_json("use POST /prepared/clear")};
    if (hooks.clear_prepared) hooks.clear_prepared();
    return {200, ok};
  }
  return {404, error_json(fmt::format("no such endpoint: {} {} (see /health, /faults, /counters, "
                                      "/counters/reset, /prepared/clear)",
                                      method, target))};
}

Result<std::shared_ptr<NodeAdminHttp>> NodeAdminHttp::bind(asio::io_context& context,
                                                           const net::HostPort& address,
                                                           FaultInjector& faults,
                                                           AdminHooks hooks) {
  boost::system::error_code ec;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return fail(Errc::Io, fmt::format("cannot resolve admin address {}: {}", address.to_string(),
                                      ec ? ec.message() : "no addresses"));
  }
  tcp::acceptor acceptor(context);
  const auto endpoint = results.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(Errc::Io, fmt::format("cannot listen for admin HTTP on {}: {}", address.to_string(),
                                      ec.message()));
  }
  return std::make_shared<NodeAdminHttp>(std::move(acceptor), faults, std::move(hooks));
}

NodeAdminHttp::NodeAdminHttp(tcp::acceptor acceptor, FaultInjector& faults, AdminHooks hooks)
    : acceptor_(std::move(acceptor)), faults_(faults), hooks_(std::move(hooks)) {
  boost::system::error_code ec;
  port_ = acceptor_.local_endpoint(ec).port();
}

void NodeAdminHttp::start() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept_next(); });
}

void NodeAdminHttp::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
}

void NodeAdminHttp::accept_next() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(
      [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (!ec) {
          asio::co_spawn(self->acceptor_.get_executor(),
                         serve(std::move(socket), self->faults_, self->hooks_),
                         [](std::exception_ptr e) {
                           if (!e) return;
                           try {
                             std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                             spdlog::warn("admin HTTP connection failed: {}", ex.what());
                           }
                         });
        }
        self->accept_next();
      });
}

}  // namespace zdm::node
