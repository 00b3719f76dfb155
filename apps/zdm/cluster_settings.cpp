#include "cluster_settings.hpp"

#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/cluster/cluster_tls.hpp"

namespace zdm::cli {

namespace asio = boost::asio;

void apply_endpoint_flag(const std::string& flag, const std::string& prefix,
                         proxy::Environment& env) {
  if (flag.empty()) return;
  std::string hosts;
  std::string port;
  for (const auto& item : proxy::split_list(flag)) {
    auto endpoint = client::parse_endpoint(item, 0);
    if (!endpoint) continue;
    hosts += (hosts.empty() ? "" : ",") + endpoint->host;
    if (endpoint->port != 0) port = std::to_string(endpoint->port);
  }
  env["ZDM_" + prefix + "_CONTACT_POINTS"] = hosts;
  if (!port.empty()) env["ZDM_" + prefix + "_PORT"] = port;
}

Result<proxy::ProxyConfig> load_cluster_config(const std::string& config_path,
                                               const std::string& origin_flag,
                                               const std::string& target_flag) {
  auto env = proxy::process_environment();
  std::optional<std::string> path;
  if (!config_path.empty()) path = config_path;
  if (!path) {
    apply_endpoint_flag(origin_flag, "ORIGIN", env);
    apply_endpoint_flag(target_flag, "TARGET", env);
  }
  auto loaded = path ? proxy::load_proxy_config(path, env) : proxy::load_config_from_env(env);
  if (!loaded) return tl::unexpected(loaded.error());
  auto config = loaded->config;
  if (path && (!origin_flag.empty() || !target_flag.empty())) {
    proxy::Environment overrides;
    apply_endpoint_flag(origin_flag, "ORIGIN", overrides);
    apply_endpoint_flag(target_flag, "TARGET", overrides);
    if (overrides.count("ZDM_ORIGIN_CONTACT_POINTS"))
      config.origin_contact_points = overrides["ZDM_ORIGIN_CONTACT_POINTS"];
    if (overrides.count("ZDM_ORIGIN_PORT"))
      config.origin_port = std::stoll(overrides["ZDM_ORIGIN_PORT"]);
    if (overrides.count("ZDM_TARGET_CONTACT_POINTS"))
      config.target_contact_points = overrides["ZDM_TARGET_CONTACT_POINTS"];
    if (overrides.count("ZDM_TARGET_PORT"))
      config.target_port = std::stoll(overrides["ZDM_TARGET_PORT"]);
  }
  return config;
}

Result<ClusterSettings> session_options(const proxy::ProxyConfig& c, proxy::ClusterType which,
                                        const SessionDefaults& defaults) {
  const bool origin = which == proxy::ClusterType::Origin;
  const char* name = origin ? "ORIGIN" : "TARGET";
  ClusterSettings out;
  const bool bundle =
      !(origin ? c.origin_secure_connect_bundle_path : c.target_secure_connect_bundle_path).empty();
  if (bundle) {
    auto setup = proxy::make_cluster_connect_setup(c, which);
    if (!setup) return tl::unexpected(setup.error());
    out.astra = std::move(setup->astra);
    out.session.tls_context = setup->tls.context;
  }
  client::SessionOptions& so = out.session;
  const auto port = static_cast<uint16_t>(origin ? c.origin_port : c.target_port);
  for (const auto& host : bundle ? std::vector<std::string>{} : c.contact_points(which)) {
    auto endpoint = client::parse_endpoint(host, port);
    if (!endpoint) {
      return fail(Errc::InvalidArgument, fmt::format("ZDM_{}_CONTACT_POINTS: '{}': {}", name, host,
                                                     endpoint.error().message));
    }
    so.contact_points.push_back(*endpoint);
  }
  if (so.contact_points.empty() && !bundle) {
    return fail(Errc::InvalidArgument,
                fmt::format("no contact points for {0}: set ZDM_{0}_CONTACT_POINTS or --{1}", name,
                            origin ? "origin" : "target"));
  }
  so.local_dc = origin ? c.origin_local_datacenter : c.target_local_datacenter;
  so.connection.username = origin ? c.origin_username : c.target_username;
  so.connection.password = origin ? c.origin_password : c.target_password;
  so.connection.connect_timeout = std::chrono::milliseconds(
      origin ? c.origin_connection_timeout_ms : c.target_connection_timeout_ms);
  so.connection.request_timeout = defaults.request_timeout;
  so.connection.driver_name = defaults.driver_name;
  const std::string& ca = origin ? c.origin_tls_server_ca_path : c.target_tls_server_ca_path;
  const std::string& cert = origin ? c.origin_tls_client_cert_path : c.target_tls_client_cert_path;
  const std::string& key = origin ? c.origin_tls_client_key_path : c.target_tls_client_key_path;
  so.connection.tls.settings_name = name;
  if (bundle) {
    so.connection.tls.verify_hostname = !(origin ? c.origin_tls_skip_hostname_verification
                                                 : c.target_tls_skip_hostname_verification);
  } else if (!ca.empty() || !cert.empty()) {
    so.connection.tls.enabled = true;
    so.connection.tls.ca_file = ca;
    so.connection.tls.cert_file = cert;
    so.connection.tls.key_file = key;
    so.connection.tls.verify_hostname = !(origin ? c.origin_tls_skip_hostname_verification
                                                 : c.target_tls_skip_hostname_verification);
  }
  so.connections_per_host = 2;
  so.listen_events = false;
  so.page_size = 1000;
  so.consistency = defaults.consistency;
  return out;
}

asio::awaitable<Result<void>> resolve_astra(ClusterSettings& cluster, const char* which) {
  if (!cluster.astra) co_return Result<void>{};
  auto info = co_await proxy::fetch_astra_metadata(*cluster.astra);
  if (!info) {
    co_return fail(info.error().code, fmt::format("ZDM_{}_SECURE_CONNECT_BUNDLE_PATH: {}", which,
                                                  info.error().message));
  }
  client::SniProxy sni;
  sni.address = client::Endpoint{info->sni_proxy_host, info->sni_proxy_port};
  sni.host_ids = info->host_ids;
  cluster.session.sni_proxy = std::move(sni);
  if (cluster.session.local_dc.empty()) cluster.session.local_dc = info->local_dc;
  spdlog::info("{}: Astra metadata: SNI proxy {}:{}, {} host id(s), datacenter '{}'", which,
               info->sni_proxy_host, info->sni_proxy_port, info->host_ids.size(), info->local_dc);
  co_return Result<void>{};
}

std::string describe_connect_failure(const char* which, const client::SessionOptions& so,
                                     const client::ClientError& error) {
  std::string where;
  for (const auto& e : so.contact_points) where += (where.empty() ? "" : ", ") + e.to_string();
  if (so.sni_proxy) where = "SNI proxy " + so.sni_proxy->address.to_string();
  std::string advice;
  if (error.kind == client::ClientErrc::Auth) {
    advice = fmt::format(" (check ZDM_{}_USERNAME / ZDM_{}_PASSWORD)", which, which);
  }
  return fmt::format("cannot connect to {} ({}): {}{}", which, where, error.to_string(), advice);
}

}  // namespace zdm::cli
