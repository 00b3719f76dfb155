#pragma once
// The options every fleet command (zdm ctl, status, cutover) takes to find the proxies.

#include <string>

#include <CLI/CLI.hpp>

#include "ops/fleet.hpp"

namespace zdm::cli {

// --proxies, --config, --request-timeout into `flags`; `proxies_note` ends --proxies' help.
inline void add_fleet_flags(CLI::App* cmd, ops::FleetFlags& flags,
                            const std::string& proxies_note = "") {
  cmd->add_option("--proxies", flags.proxies,
                  "the proxies' admin addresses (metrics_address:metrics_port), comma-separated" +
                      proxies_note);
  cmd->add_option("--config", flags.config_path,
                  "the proxies' YAML: each of proxy_topology_addresses (or the listen address) at "
                  "metrics_port");
  cmd->add_option("--request-timeout", flags.request_timeout, "bound of each HTTP request")
      ->capture_default_str();
}

}  // namespace zdm::cli
