#pragma once
// A fleet of proxies seen through their operations API (docs/operations-api.md): which proxies
// (from --proxies or the proxy's YAML), how to authenticate, and a snapshot of each one's status,
// configuration and clients. Shared by `zdm ctl`, `zdm status` and `zdm cutover`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "ops/admin_client.hpp"

namespace zdm::ops {

// The flags every fleet command takes.
struct FleetFlags {
  std::string proxies;      // --proxies host:port,...
  std::string config_path;  // --config proxy.yaml
  std::string token_file;   // --token-file (wins over ZDM_ADMIN_TOKEN)
  std::string request_timeout = "5s";
};

// The proxies' admin addresses, in the order given. With a YAML file: each of
// proxy_topology_addresses (or the listen address) at metrics_port. InvalidArgument when neither
// or both sources are given, an address is malformed, or the list is empty.
Result<std::vector<AdminAddress>> fleet_addresses(const FleetFlags& flags);

// The bearer token: the first line of --token-file when given, else `env_token`
// (ZDM_ADMIN_TOKEN); trailing blanks dropped, as the proxy reads its token file. Empty when
// neither is set (reading needs no token).
Result<std::string> resolve_token(const std::string& token_file, const char* env_token);

// "zdm ctl (alice@ops-1)": who changes the fleet, for the proxies' logs.
std::string default_actor(std::string_view command);

// "30s", "500ms", "2m", or a bare number of seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Clients for the fleet: flags resolved, token read (ZDM_ADMIN_TOKEN from the process; with
// --config and neither, the YAML's admin_token or admin_token_file).
struct Fleet {
  std::vector<AdminClient> proxies;
};
Result<Fleet> open_fleet(const FleetFlags& flags, std::string actor);

// GET /api/v1/status, typed (fields missing from the answer keep their defaults).
struct ProxyStatus {
  std::string version;
  std::string instance;
  int64_t generation = 0;
  int phase = 0;
  std::string primary_cluster;
  std::string read_mode;
  bool ready = false;
  std::string status;
  bool draining = false;
  double uptime_seconds = 0;
  int64_t clients = 0;
  int64_t requests_total = 0;
  int64_t failed_writes_origin = 0;
  int64_t failed_writes_target = 0;
  int64_t failed_writes_both = 0;
  int64_t failed_reads_origin = 0;
  int64_t failed_reads_target = 0;
  int64_t async_read_errors = 0;
  int64_t compared = 0;
  int64_t mismatches = 0;
  double p99_reads_ms = 0;
  double p99_writes_ms = 0;
  // Async secondary writes (docs/async-writes.md): copies the secondary does not have yet.
  std::string secondary_write_mode;
  int64_t secondary_in_flight = 0;
  int64_t journal_pending_records = 0;
  int64_t journal_aside_records = 0;
  int64_t secondary_lost = 0;
  nlohmann::json raw;  // the answer as served
};

// GET /api/v1/config.
struct ProxySettings {
  int64_t generation = 0;
  nlohmann::json config = nlohmann::json::object();  // effective configuration, YAML names
  std::vector<std::string> live;                     // settings PATCH accepts

  // `config` restricted to the live settings.
  nlohmann::json live_values() const;
  // The value of `key` as text ("ORIGIN", "0.1"); "" when absent.
  std::string text(const std::string& key) const;
};

// One entry of GET /api/v1/clients.
struct ClientConnection {
  std::string address;
  std::string driver_name;
  std::string driver_version;
  int64_t protocol_version = 0;
  std::string keyspace;
  std::string connected_at;
  std::string last_request_at;
  int64_t requests = 0;
  nlohmann::json raw;
};

AdminResult<ProxyStatus> fetch_status(const AdminClient& proxy);
AdminResult<ProxySettings> fetch_settings(const AdminClient& proxy);
AdminResult<std::vector<ClientConnection>> fetch_clients(const AdminClient& proxy);

// A JSON value as an operator reads it: strings bare, everything else as JSON.
std::string value_text(const nlohmann::json& value);

// What one proxy looked like: `error` set when it could not be read (the rest may be partial).
struct ProxySnapshot {
  AdminAddress address;
  std::optional<std::string> error;
  std::optional<ProxyStatus> status;
  std::optional<ProxySettings> settings;
  std::optional<std::vector<ClientConnection>> clients;
  std::optional<double> requests_per_second;
};

struct SnapshotOptions {
  bool clients = false;
  // > 0: status is read twice this far apart and requests_per_second computed from the two.
  std::chrono::milliseconds rate_interval{0};
};

std::vector<ProxySnapshot> take_snapshot(const Fleet& fleet, const SnapshotOptions& options);

// A live setting whose value is not the same on every reachable proxy.
struct SettingDifference {
  std::string setting;
  std::vector<std::pair<std::string, std::string>> values;  // (proxy, value text)

  // "read_mode differs: 127.0.0.1:14001 PRIMARY_ONLY, 127.0.0.1:14003 DUAL_ASYNC_ON_SECONDARY"
  std::string describe() const;
};

struct FleetSummary {
  size_t proxies = 0;
  size_t reachable = 0;
  size_t ready = 0;
  bool all_ready = false;            // every proxy reachable and ready
  bool agree = false;                // every reachable proxy has the same live settings
  std::vector<int64_t> generations;  // distinct, ascending
  std::vector<SettingDifference> differences;
  std::vector<std::string> problems;  // one sentence each: unreachable, not ready, differs
};

FleetSummary summarize(const std::vector<ProxySnapshot>& snapshots);

}  // namespace zdm::ops
