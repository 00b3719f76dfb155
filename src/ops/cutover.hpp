#pragma once
// `zdm cutover`: can the fleet be removed (phase 5)? Every proxy must have target as primary,
// no async-read errors and no read-comparison mismatches, and no client may still be connected
// (applications move to target first). Then, for the Java, Python, Node.js and Go drivers, how
// applications connect to target directly, from the proxies' own target settings.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/fleet.hpp"

namespace zdm::ops {

// Where target is, as the proxies reach it (GET /api/v1/config).
struct TargetConnection {
  std::vector<std::string> contact_points;
  int64_t port = 9042;
  std::string local_datacenter;       // empty: the proxies were not given one
  std::string secure_connect_bundle;  // Astra: used instead of contact points
  std::string username;               // empty: no authentication
  std::string tls_ca;                 // target_tls_server_ca_path, when TLS is on

  static TargetConnection from_settings(const ProxySettings& settings);
  friend bool operator==(const TargetConnection&, const TargetConnection&) = default;
};

struct ConnectedClient {
  std::string proxy;
  ClientConnection client;
};

struct CutoverVerdict {
  bool ready = false;
  std::vector<std::string> reasons;  // why not, one sentence each
  std::vector<ConnectedClient> clients;
  std::optional<TargetConnection> target;  // from the first proxy that answered
};

// Needs snapshots taken with clients.
CutoverVerdict judge_cutover(const std::vector<ProxySnapshot>& snapshots);

struct DriverSnippet {
  std::string driver;    // "Java, DataStax Java driver 4.x"
  std::string key;       // "java", "python", "nodejs", "go"
  std::string language;  // what the text is: "application.conf", "python", "javascript", "go"
  std::string text;
};

std::vector<DriverSnippet> driver_snippets(const TargetConnection& target);

std::string render_cutover_text(const CutoverVerdict& verdict);
// {"ready", "reasons", "clients": [{"proxy", ...}], "target": {...}, "snippets": {"java": ...}}
nlohmann::json cutover_json(const CutoverVerdict& verdict);

}  // namespace zdm::ops
