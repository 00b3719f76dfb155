#include "node/server/node_admin_http.hpp"

#include <charconv>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zdm::node {

namespace {

using admin::HttpRequest;
using admin::HttpResponse;

HttpResponse ok() { return HttpResponse::json(200, R"({"status":"ok"})"); }

HttpResponse error(unsigned status, std::string message) {
  return HttpResponse::json(status, nlohmann::json{{"error", std::move(message)}}.dump());
}

constexpr std::string_view kRulePrefix = "/faults/";

}  // namespace

void add_admin_routes(admin::HttpServer& server, FaultInjector& faults, AdminHooks hooks) {
  auto shared_hooks = std::make_shared<const AdminHooks>(std::move(hooks));
  server.route("GET", "/health", [](const HttpRequest&) { return ok(); });
  server.route("GET", "/faults", [&faults](const HttpRequest&) {
    return HttpResponse::json(200, faults.rules_json());
  });
  server.route("POST", "/faults", [&faults](const HttpRequest& request) {
    auto rule = parse_fault_spec(request.body);
    if (!rule) return error(400, rule.error().message);
    auto id = faults.add_rule(std::move(*rule));
    if (!id) return error(400, id.error().message);
    return HttpResponse::json(201, nlohmann::json{{"id", *id}}.dump());
  });
  server.route("DELETE", "/faults", [&faults](const HttpRequest&) {
    faults.clear_rules();
    return ok();
  });
  server.route_prefix("DELETE", std::string(kRulePrefix), [&faults](const HttpRequest& request) {
    const auto id_text = std::string_view(request.path).substr(kRulePrefix.size());
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size()) {
      return error(400, "the rule id must be a number");
    }
    if (!faults.remove_rule(id)) return error(404, fmt::format("no fault rule {}", id));
    return ok();
  });
  server.route("GET", "/counters", [&faults, shared_hooks](const HttpRequest&) {
    auto counters = nlohmann::json::parse(faults.counters_json());
    if (shared_hooks->open_connections) counters["connections"] = shared_hooks->open_connections();
    return HttpResponse::json(200, counters.dump());
  });
  server.route("POST", "/counters/reset", [&faults](const HttpRequest&) {
    faults.reset_counters();
    return ok();
  });
  server.route("POST", "/prepared/clear", [shared_hooks](const HttpRequest&) {
    if (shared_hooks->clear_prepared) shared_hooks->clear_prepared();
    return ok();
  });
}

Result<std::shared_ptr<NodeAdminHttp>> NodeAdminHttp::bind(boost::asio::io_context& context,
                                                           const net::HostPort& address,
                                                           FaultInjector& faults,
                                                           AdminHooks hooks) {
  admin::HttpServerOptions options;
  options.host = address.host;
  options.port = address.port;
  options.error_bodies = admin::ErrorBodies::Json;
  options.address_setting = "--admin";
  auto http = std::make_shared<NodeAdminHttp>(context, std::move(options));
  add_admin_routes(http->server_, faults, std::move(hooks));
  if (auto started = http->server_.start(); !started) return tl::unexpected(started.error());
  return http;
}

NodeAdminHttp::NodeAdminHttp(boost::asio::io_context& context, admin::HttpServerOptions options)
    : server_(context, std::move(options)) {}

}  // namespace zdm::node
