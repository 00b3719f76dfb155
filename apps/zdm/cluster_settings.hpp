#pragma once
// How the commands that talk to both clusters (zdm migrate, zdm validate, zdm preflight) reach
// them: the proxy's settings (ZDM_ORIGIN_*/ZDM_TARGET_* or its YAML file with --config),
// --origin/--target overrides, TLS, Astra secure connect bundles. One place, so that every
// command reads them as the proxy does.

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "client/client_error.hpp"
#include "client/session.hpp"
#include "common/result.hpp"
#include "protocol/messages.hpp"
#include "proxy/cluster/astra_metadata.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::cli {

// Turns --origin/--target into the proxy's setting names so that validation and defaults are
// the proxy's; the flags win over the environment and the file.
void apply_endpoint_flag(const std::string& flag, const std::string& prefix,
                         proxy::Environment& env);

// The proxy's configuration: the YAML file at `config_path` (the environment is then ignored) or
// the ZDM_* environment, with the --origin/--target flags (HOST[:PORT][,...], may be empty) over
// either. Fails with the loader's message (naming the setting).
Result<proxy::ProxyConfig> load_cluster_config(const std::string& config_path,
                                               const std::string& origin_flag,
                                               const std::string& target_flag);

// How to reach one cluster: the session's options and, for an Astra secure connect bundle, the
// metadata service request that names the SNI proxy and the nodes (asked when connecting).
struct ClusterSettings {
  client::SessionOptions session;
  std::optional<proxy::AstraMetadataRequest> astra;
};

// What the command sets on top of the proxy's settings.
struct SessionDefaults {
  std::chrono::milliseconds request_timeout{12000};
  protocol::Consistency consistency = protocol::Consistency::LocalQuorum;
  std::string driver_name = "zdm";
};

Result<ClusterSettings> session_options(const proxy::ProxyConfig& c, proxy::ClusterType which,
                                        const SessionDefaults& defaults);

// Astra: the metadata service names the SNI proxy, the nodes' host ids and the local datacenter.
boost::asio::awaitable<Result<void>> resolve_astra(ClusterSettings& cluster, const char* which);

// "cannot connect to ORIGIN (10.0.0.1:9042): ... (check ZDM_ORIGIN_USERNAME / ...)"
std::string describe_connect_failure(const char* which, const client::SessionOptions& so,
                                     const client::ClientError& error);

}  // namespace zdm::cli
