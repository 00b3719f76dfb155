#pragma once
// The proxy's configuration: every setting of the reference ZDM proxy (same names, same defaults)
// plus a few of ours. Loaded from a YAML file (keys are the lower-case names without the ZDM_
// prefix, e.g. `primary_cluster`) or from ZDM_* environment variables; the two sources are
// mutually exclusive, as in the reference: with a file, the environment is ignored.
//
// Control plane: loading and validation return Result with a message naming the setting and what
// is wrong; nothing here runs on the data path.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "protocol/version.hpp"

namespace zdm::proxy {

enum class ClusterType : uint8_t { Origin, Target };
std::string_view cluster_type_name(ClusterType c);  // "ORIGIN"

enum class ReadMode : uint8_t { PrimaryOnly, DualAsyncOnSecondary };
std::string_view read_mode_name(ReadMode m);  // "DUAL_ASYNC_ON_SECONDARY"

enum class SystemQueriesMode : uint8_t { Origin, Target };
std::string_view system_queries_mode_name(SystemQueriesMode m);

// What the client sees when a request times out inside the proxy. The reference stays silent
// (the driver's own timeout fires); we default to a real CQL timeout error.
enum class TimeoutBehaviour : uint8_t { Error, Silent };
std::string_view timeout_behaviour_name(TimeoutBehaviour b);  // "error"

// ZDM_SECONDARY_WRITE_MODE: whether a write's answer waits for the secondary cluster (sync, the
// reference's behaviour) or only for the primary, the secondary's copy being sent in the
// background and journaled when it fails (async; docs/async-writes.md).
enum class SecondaryWriteMode : uint8_t { Sync, Async };
std::string_view secondary_write_mode_name(SecondaryWriteMode m);  // "sync"

enum class LogLevel : uint8_t { Panic, Fatal, Error, Warn, Info, Debug, Trace };
std::string_view log_level_name(LogLevel l);  // "INFO"

// Which source a configuration came from (logged at startup).
enum class ConfigSource : uint8_t { Defaults, Environment, YamlFile, YamlText };

// Flat, like the reference's struct, so that each field maps to exactly one setting name.
struct ProxyConfig {
  // Global
  ClusterType primary_cluster = ClusterType::Origin;
  ReadMode read_mode = ReadMode::PrimaryOnly;
  bool replace_cql_functions = false;
  int64_t async_handshake_timeout_ms = 4000;
  LogLevel log_level = LogLevel::Info;
  std::string control_conn_max_protocol_version = "DseV2";  // 3, 4, 5, DseV1, DseV2
  std::string blocked_protocol_versions;                    // e.g. "v5,DseV1"
  bool tracing_enabled = false;
  int64_t tracing_rate_limit = 0;
  std::string tracing_request_id_key = "request-id";

  // Virtual topology (system.local / system.peers)
  int64_t proxy_topology_index = 0;
  std::string proxy_topology_addresses;  // comma-separated IPs; empty: the listen address
  int64_t proxy_topology_num_tokens = 8;

  // Origin
  std::string origin_contact_points;
  int64_t origin_port = 9042;
  std::string origin_secure_connect_bundle_path;
  std::string origin_local_datacenter;
  std::string origin_username;  // optional here (clusters without auth), required by the reference
  std::string origin_password;  // secret
  int64_t origin_connection_timeout_ms = 30000;
  std::string origin_tls_server_ca_path;
  std::string origin_tls_client_cert_path;
  std::string origin_tls_client_key_path;
  // Ours: the reference never checks node names; we do unless this is true.
  bool origin_tls_skip_hostname_verification = false;

  // Target
  std::string target_contact_points;
  int64_t target_port = 9042;
  std::string target_secure_connect_bundle_path;
  std::string target_local_datacenter;
  std::string target_username;
  std::string target_password;  // secret
  int64_t target_connection_timeout_ms = 30000;
  std::string target_tls_server_ca_path;
  std::string target_tls_client_cert_path;
  std::string target_tls_client_key_path;
  bool target_tls_skip_hostname_verification = false;  // ours

  // Proxy listener
  std::string proxy_listen_address = "localhost";
  int64_t proxy_listen_port = 14002;
  int64_t proxy_request_timeout_ms = 10000;
  int64_t proxy_max_client_connections = 1000;
  int64_t proxy_max_stream_ids = 2048;  // ours: up to 32768 (the reference caps at 2048)
  std::string proxy_tls_ca_path;
  std::string proxy_tls_cert_path;
  std::string proxy_tls_key_path;
  bool proxy_tls_require_client_auth = false;

  // Metrics
  bool metrics_enabled = true;
  std::string metrics_address = "localhost";
  int64_t metrics_port = 14001;
  std::string metrics_prefix = "zdm";
  std::string metrics_origin_latency_buckets_ms =
      "1, 4, 7, 10, 25, 40, 60, 80, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 15000";
  std::string metrics_target_latency_buckets_ms =
      "1, 4, 7, 10, 25, 40, 60, 80, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 15000";
  std::string metrics_async_read_latency_buckets_ms =
      "1, 4, 7, 10, 25, 40, 60, 80, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 15000";

  // Heartbeats
  int64_t heartbeat_interval_ms = 30000;
  int64_t heartbeat_retry_interval_min_ms = 250;
  int64_t heartbeat_retry_interval_max_ms = 30000;
  double heartbeat_retry_backoff_factor = 2;
  int64_t heartbeat_failure_threshold = 1;

  // Unsupported in the reference (kept for compatibility)
  SystemQueriesMode system_queries_mode = SystemQueriesMode::Origin;
  bool forward_client_credentials_to_origin = false;
  bool origin_enable_host_assignment = true;
  bool target_enable_host_assignment = true;

  // Tuning (reference names; our io model uses only some of them)
  int64_t request_write_queue_size_frames = 128;
  int64_t request_write_buffer_size_bytes = 4096;
  int64_t request_read_buffer_size_bytes = 32768;
  int64_t response_write_queue_size_frames = 128;
  int64_t response_write_buffer_size_bytes = 8192;
  int64_t response_read_buffer_size_bytes = 32768;
  int64_t request_response_max_workers = -1;  // -1: automatic
  int64_t write_max_workers = -1;
  int64_t read_max_workers = -1;
  int64_t listener_max_workers = -1;
  int64_t event_queue_size_frames = 12;
  int64_t async_connector_write_queue_size_frames = 2048;
  int64_t async_connector_write_buffer_size_bytes = 4096;

  // Ours
  int64_t prepared_cache_size = 10000;  // entries, LRU
  TimeoutBehaviour proxy_timeout_behaviour = TimeoutBehaviour::Error;
  double read_comparison_rate = 0;  // fraction of async dual reads whose results are compared
  int64_t proxy_threads = default_proxy_threads();  // io threads
  // The operations API's bearer token (docs/operations-api.md): this value, or the first line of
  // admin_token_file. Without either the API is read-only.
  std::string admin_token;  // secret
  std::string admin_token_file;
  // Async secondary writes and their journal (docs/async-writes.md). The journal directory is
  // required for async mode; without it the mode cannot be switched on.
  SecondaryWriteMode secondary_write_mode = SecondaryWriteMode::Sync;
  std::string journal_dir;
  int64_t journal_sync_ms = 100;                 // fsync batching
  int64_t journal_max_bytes = int64_t{1} << 30;  // pending bytes on disk; beyond: back to sync
  int64_t journal_segment_bytes = int64_t{64} << 20;
  int64_t journal_replay_rate = 5000;            // records per second replayed at most
  int64_t secondary_write_max_in_flight = 4096;  // background writes waiting for the secondary

  static int64_t default_proxy_threads();

  // Parsed views of the list-valued settings. Valid after validate_proxy_config() succeeded.
  std::vector<std::string> contact_points(ClusterType cluster) const;
  std::vector<std::string> topology_addresses() const;  // the listen address when unset
  std::vector<double> latency_buckets_seconds(ClusterType cluster) const;
  std::vector<double> async_latency_buckets_seconds() const;
  std::vector<protocol::ProtocolVersion> blocked_versions() const;
  protocol::ProtocolVersion control_conn_max_version() const;
  bool is_blocked(protocol::ProtocolVersion v) const;
};

// Environment variables by name (e.g. "ZDM_PRIMARY_CLUSTER"); tests pass their own map.
using Environment = std::map<std::string, std::string>;
// The ZDM_* variables of this process.
Environment process_environment();

struct LoadedConfig {
  ProxyConfig config;
  ConfigSource source = ConfigSource::Defaults;
  std::string source_description;  // "YAML file /etc/zdm.yaml", "environment (12 ZDM_* variables)"
};

// Settings from ZDM_* variables; unknown ZDM_* names are logged and ignored. Validates.
Result<LoadedConfig> load_config_from_env(const Environment& env);
// Settings from YAML text; unknown keys are an error (they are usually typos). Validates.
Result<LoadedConfig> load_config_from_yaml(std::string_view yaml_text);
// The `-config` semantics of the reference: with a path, the file is read and `env` ignored (a
// warning lists the ZDM_* variables that were set); without one, `env` is used. Logs the source.
Result<LoadedConfig> load_proxy_config(const std::optional<std::string>& yaml_path,
                                       const Environment& env);

// Checks every setting; the message names the setting (YAML key and ZDM_ variable) and the fix.
Result<void> validate_proxy_config(const ProxyConfig& config);

// The effective configuration as a JSON object keyed by YAML names, passwords as "<redacted>".
std::string describe_effective(const ProxyConfig& config);

// The first line of an admin token file (admin_token_file, zdm ctl --token-file) without its
// trailing blanks and line end. Fails naming the path when it cannot be read or that line is
// empty.
Result<std::string> read_token_file(const std::string& path);

// An address setting as a socket needs it: "localhost" is 127.0.0.1, anything else as given.
std::string numeric_host(const std::string& host);

// Settings that may change while the proxy runs (PATCH /api/v1/config, SIGHUP), in table order.
const std::vector<std::string>& live_setting_names();
bool is_live_setting(std::string_view name);
bool is_known_setting(std::string_view name);
// Sets one setting from its text form, as the YAML file or the environment gives it. Fails on an
// unknown name or a value of the wrong kind, naming the setting; the configuration as a whole is
// checked by validate_proxy_config.
Result<void> set_setting(ProxyConfig& config, std::string_view name, std::string_view text);

// One setting whose value differs between two configurations, in the text form of
// describe_effective (secrets "<redacted>").
struct SettingChange {
  std::string name;
  std::string old_value;
  std::string new_value;
};
std::vector<SettingChange> diff_settings(const ProxyConfig& before, const ProxyConfig& after);

// Parsing helpers shared with other layers (and tested on their own).
std::vector<std::string> split_list(std::string_view text);  // comma-separated, trimmed, no empties
Result<std::vector<double>> parse_latency_buckets_ms(std::string_view text);  // strictly increasing
// "3", "4", "5", "DseV1", "DseV2" (case-insensitive; "v4" and "DSE_V1" also accepted).
Result<protocol::ProtocolVersion> parse_protocol_version_name(std::string_view name);

}  // namespace zdm::proxy
