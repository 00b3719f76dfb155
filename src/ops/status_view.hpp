#pragma once
// `zdm status`: the fleet on one screen (a row per proxy, aligned columns) or as JSON for scripts,
// and optionally every client connection across the fleet.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/fleet.hpp"

namespace zdm::ops {

// Left-aligned columns separated by two spaces; a row shorter than the header is padded.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// The proxies' table, then one line for the fleet (ready, agreeing, generation) and one line per
// problem.
std::string render_status_text(const std::vector<ProxySnapshot>& snapshots,
                               const FleetSummary& summary);
// Every client connection of every proxy (snapshots taken with clients).
std::string render_clients_text(const std::vector<ProxySnapshot>& snapshots);

// {"proxies": [{"address", "reachable", "error", "status", "requests_per_second", "generation",
//  "settings", "clients"?}], "fleet": {"proxies", "reachable", "ready", "agree", "generation",
//  "generations", "differences", "problems"}}
nlohmann::json status_json(const std::vector<ProxySnapshot>& snapshots, const FleetSummary& summary,
                           bool with_clients);

// 0 when every proxy is ready and they agree, else 1.
int status_exit_code(const FleetSummary& summary);

}  // namespace zdm::ops
