#pragma once
// `zdm preflight`: the checks an operator runs before phase 1 (deploying the dual-write proxy),
// with the proxy's cluster settings. Connects to both clusters (each contact point on its own,
// then a session), asks each for its protocol versions, partitioner, schema and time, compares
// them with the rules of preflight_checks.hpp, and, with --proxies, asks running proxies what
// they saw in the traffic (preflight_proxies.hpp). docs/preflight.md is the user's view.
//
// Control plane: runs once on the caller's executor (one thread); never writes to a cluster.

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "client/session.hpp"
#include "ops/admin_client.hpp"
#include "ops/preflight_report.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::ops {

// How to reach one cluster, as the proxy's settings describe it (apps/zdm/cluster_settings).
struct PreflightCluster {
  std::string name;                // "origin"
  std::string settings;            // "ORIGIN": the ZDM_ORIGIN_* settings
  client::SessionOptions session;  // Astra already resolved into session.sni_proxy
  std::string setup_error;  // non-empty: the cluster could not even be looked for (Astra metadata)
};

struct PreflightOptions {
  std::vector<std::string> keyspaces;  // empty: every non-system keyspace of origin
  std::vector<AdminAddress> proxies;   // admin addresses of running proxies (--proxies)
  std::chrono::milliseconds http_timeout{5000};
  size_t clock_samples_per_node = 3;  // the sample with the shortest round trip counts
};

boost::asio::awaitable<PreflightReport> run_preflight(PreflightCluster origin,
                                                      PreflightCluster target,
                                                      proxy::ProxyConfig config,
                                                      PreflightOptions options);

}  // namespace zdm::ops
