#include <cmath>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "proxy/proxy_config.hpp"
#include "proxy/proxy_config_internal.hpp"

// validate_proxy_config: every setting's range and the settings that must go together.

namespace zdm::proxy {

using namespace config_detail;

namespace {

// ---------------------------------------------------------------------------------------------
// Validation helpers

Result<void> check_range(std::string_view setting, int64_t value, int64_t min, int64_t max,
                         std::string_view what) {
  if (value < min || value > max) {
    return invalid(setting,
                   fmt::format("{} is out of range; {} must be {}..{}", value, what, min, max));
  }
  return {};
}

Result<void> check_port(std::string_view setting, int64_t value) {
  return check_range(setting, value, 1, 65535, "a port");
}

Result<void> check_positive(std::string_view setting, int64_t value) {
  if (value <= 0) return invalid(setting, fmt::format("{} must be greater than 0", value));
  return {};
}

Result<void> check_workers(std::string_view setting, int64_t value) {
  if (value != -1 && value <= 0) {
    return invalid(setting, fmt::format("{} must be -1 (automatic) or greater than 0", value));
  }
  return {};
}

struct ClusterFields {
  std::string_view prefix;  // "origin" or "target"
  const std::string& contact_points;
  int64_t port;
  const std::string& bundle;
  const std::string& local_dc;
  int64_t timeout_ms;
  const std::string& ca;
  const std::string& cert;
  const std::string& key;
  bool host_assignment;
  bool skip_hostname_verification;
};

Result<void> validate_cluster(const ClusterFields& c) {
  auto name = [&](std::string_view suffix) { return fmt::format("{}_{}", c.prefix, suffix); };
  const bool has_cp = !split_list(c.contact_points).empty();
  const bool has_scb = !trim(c.bundle).empty();
  if (has_cp && has_scb) {
    return invalid(name("contact_points"),
                   fmt::format("set either {} or {}, not both", name("contact_points"),
                               name("secure_connect_bundle_path")));
  }
  if (!has_cp && !has_scb) {
    return invalid(name("contact_points"),
                   fmt::format("the {} cluster needs {} or {}", c.prefix, name("contact_points"),
                               name("secure_connect_bundle_path")));
  }
  if (has_scb && !c.local_dc.empty()) {
    return invalid(name("local_datacenter"),
                   fmt::format("cannot be combined with {}: the bundle names the datacenter",
                               name("secure_connect_bundle_path")));
  }
  if (has_scb && (!c.ca.empty() || !c.cert.empty() || !c.key.empty())) {
    return invalid(name("tls_server_ca_path"),
                   fmt::format("custom TLS cannot be combined with {}: the bundle carries the TLS "
                               "material",
                               name("secure_connect_bundle_path")));
  }
  if (!c.host_assignment && !c.local_dc.empty()) {
    return invalid(name("local_datacenter"),
                   fmt::format("is set but {} is false; enable host assignment or unset the "
                               "datacenter",
                               name("enable_host_assignment")));
  }
  if (auto r = check_port(name("port"), c.port); !r) return r;
  if (auto r = check_positive(name("connection_timeout_ms"), c.timeout_ms); !r) return r;
  if (c.cert.empty() != c.key.empty()) {
    return invalid(c.cert.empty() ? name("tls_client_cert_path") : name("tls_client_key_path"),
                   fmt::format("{} and {} must be set together (mutual TLS)",
                               name("tls_client_cert_path"), name("tls_client_key_path")));
  }
  if (!c.cert.empty() && c.ca.empty()) {
    return invalid(name("tls_server_ca_path"),
                   fmt::format("mutual TLS ({} and {}) also needs the server CA",
                               name("tls_client_cert_path"), name("tls_client_key_path")));
  }
  if (c.skip_hostname_verification && c.ca.empty() && !has_scb) {
    return invalid(name("tls_skip_hostname_verification"),
                   fmt::format("is true but {} TLS is not configured (set {} or {})", c.prefix,
                               name("tls_server_ca_path"), name("secure_connect_bundle_path")));
  }
  return {};
}

Result<void> validate_buckets(std::string_view setting, const std::string& text) {
  auto buckets = parse_latency_buckets_ms(text);
  if (!buckets) return invalid(setting, buckets.error().message);
  return {};
}

// Async secondary writes are only as safe as their journal: async mode without one is refused.
Result<void> validate_journal_settings(const ProxyConfig& c) {
  if (c.secondary_write_mode == SecondaryWriteMode::Async && c.journal_dir.empty()) {
    return invalid("secondary_write_mode",
                   "async needs a journal for the writes the secondary misses: set journal_dir "
                   "(ZDM_JOURNAL_DIR) to a directory on a persistent disk");
  }
  for (auto [name, value, low] :
       std::initializer_list<std::tuple<std::string_view, int64_t, int64_t>>{
           {"journal_sync_ms", c.journal_sync_ms, 0},
           {"journal_max_bytes", c.journal_max_bytes, 4096},
           {"journal_segment_bytes", c.journal_segment_bytes, 4096},
           {"journal_replay_rate", c.journal_replay_rate, 1},
           {"secondary_write_max_in_flight", c.secondary_write_max_in_flight, 1}}) {
    if (value < low) {
      return invalid(name, fmt::format("{} must be at least {}", value, low));
    }
  }
  if (c.journal_segment_bytes > c.journal_max_bytes) {
    return invalid("journal_segment_bytes",
                   fmt::format("{} is more than journal_max_bytes ({})", c.journal_segment_bytes,
                               c.journal_max_bytes));
  }
  return {};
}

}  // namespace

Result<void> validate_proxy_config(const ProxyConfig& c) {
  // Global
  if (auto r = check_positive("async_handshake_timeout_ms", c.async_handshake_timeout_ms); !r) {
    return r;
  }
  if (auto v = parse_protocol_version_name(c.control_conn_max_protocol_version); !v) {
    return invalid("control_conn_max_protocol_version", v.error().message);
  }
  {
    size_t usable = 0;
    for (const std::string& item : split_list(c.blocked_protocol_versions)) {
      bool v2 = false;
      if (!version_from_name(item, &v2) && !v2) {
        return invalid("blocked_protocol_versions",
                       fmt::format("'{}' is not a protocol version; use names like v3, v4, v5, "
                                   "DseV1, DseV2 separated by commas",
                                   item));
      }
    }
    for (auto v : {protocol::ProtocolVersion::V3, protocol::ProtocolVersion::V4,
                   protocol::ProtocolVersion::V5, protocol::ProtocolVersion::DseV1,
                   protocol::ProtocolVersion::DseV2}) {
      if (!c.is_blocked(v)) ++usable;
    }
    if (usable == 0) {
      return invalid("blocked_protocol_versions",
                     "every protocol version is blocked, so no client could connect");
    }
  }
  if (auto r =
          check_range("tracing_rate_limit", c.tracing_rate_limit, 0, INT64_MAX, "a rate limit");
      !r) {
    return r;
  }
  if (c.tracing_enabled && trim(c.tracing_request_id_key).empty()) {
    return invalid("tracing_request_id_key", "must not be empty when tracing is enabled");
  }

  // Topology
  const std::vector<std::string> addresses = split_list(c.proxy_topology_addresses);
  for (const std::string& address : addresses) {
    if (!is_ip_literal(address)) {
      return invalid("proxy_topology_addresses",
                     fmt::format("'{}' is not an IP address; list the IPs of every proxy "
                                 "instance, separated by commas",
                                 address));
    }
  }
  const int64_t proxy_count = addresses.empty() ? 1 : static_cast<int64_t>(addresses.size());
  if (c.proxy_topology_index < 0 || c.proxy_topology_index >= proxy_count) {
    return invalid("proxy_topology_index",
                   fmt::format("{} is not a position in proxy_topology_addresses, which lists {} "
                               "address(es); use 0..{}",
                               c.proxy_topology_index, proxy_count, proxy_count - 1));
  }
  if (auto r = check_range("proxy_topology_num_tokens", c.proxy_topology_num_tokens, 1, 256,
                           "the number of tokens");
      !r) {
    return r;
  }

  // Clusters
  if (auto r = validate_cluster(
          {"origin", c.origin_contact_points, c.origin_port, c.origin_secure_connect_bundle_path,
           c.origin_local_datacenter, c.origin_connection_timeout_ms, c.origin_tls_server_ca_path,
           c.origin_tls_client_cert_path, c.origin_tls_client_key_path,
           c.origin_enable_host_assignment, c.origin_tls_skip_hostname_verification});
      !r) {
    return r;
  }
  if (auto r = validate_cluster(
          {"target", c.target_contact_points, c.target_port, c.target_secure_connect_bundle_path,
           c.target_local_datacenter, c.target_connection_timeout_ms, c.target_tls_server_ca_path,
           c.target_tls_client_cert_path, c.target_tls_client_key_path,
           c.target_enable_host_assignment, c.target_tls_skip_hostname_verification});
      !r) {
    return r;
  }
  if (c.origin_username.empty() != c.origin_password.empty()) {
    return invalid(c.origin_username.empty() ? "origin_username" : "origin_password",
                   "origin_username and origin_password must be set together (or both left "
                   "empty for a cluster without authentication)");
  }
  if (c.target_username.empty() != c.target_password.empty()) {
    return invalid(c.target_username.empty() ? "target_username" : "target_password",
                   "target_username and target_password must be set together (or both left "
                   "empty for a cluster without authentication)");
  }

  // Proxy listener
  if (trim(c.proxy_listen_address).empty()) {
    return invalid("proxy_listen_address", "must not be empty");
  }
  // 0 asks the OS for a free port (tests, several proxies on one host); the ready line says which.
  if (auto r = check_range("proxy_listen_port", c.proxy_listen_port, 0, 65535, "a port"); !r)
    return r;
  if (auto r = check_positive("proxy_request_timeout_ms", c.proxy_request_timeout_ms); !r) return r;
  if (auto r = check_positive("proxy_max_client_connections", c.proxy_max_client_connections); !r) {
    return r;
  }
  if (auto r = check_range("proxy_max_stream_ids", c.proxy_max_stream_ids, 1, 32768,
                           "the stream ids per connection");
      !r) {
    return r;
  }
  {
    const int set = (c.proxy_tls_ca_path.empty() ? 0 : 1) +
                    (c.proxy_tls_cert_path.empty() ? 0 : 1) +
                    (c.proxy_tls_key_path.empty() ? 0 : 1);
    if (set != 0 && set != 3) {
      const char* missing = c.proxy_tls_ca_path.empty()     ? "proxy_tls_ca_path"
                            : c.proxy_tls_cert_path.empty() ? "proxy_tls_cert_path"
                                                            : "proxy_tls_key_path";
      return invalid(missing,
                     "proxy TLS needs all three of proxy_tls_ca_path, proxy_tls_cert_path and "
                     "proxy_tls_key_path");
    }
    if (set == 0 && c.proxy_tls_require_client_auth) {
      return invalid("proxy_tls_require_client_auth",
                     "client authentication needs proxy TLS (proxy_tls_ca_path, "
                     "proxy_tls_cert_path, proxy_tls_key_path)");
    }
  }

  // Metrics
  if (auto r = check_range("metrics_port", c.metrics_port, 0, 65535, "a port"); !r) return r;
  {
    const std::string_view p = c.metrics_prefix;
    bool ok = !p.empty();
    for (size_t i = 0; ok && i < p.size(); ++i) {
      const auto ch = static_cast<unsigned char>(p[i]);
      ok = std::isalpha(ch) || ch == '_' || ch == ':' || (i > 0 && std::isdigit(ch));
    }
    if (!ok) {
      return invalid("metrics_prefix",
                     fmt::format("'{}' is not a Prometheus metric name prefix (letters, digits, "
                                 "'_' and ':', not starting with a digit)",
                                 p));
    }
  }
  if (auto r = validate_buckets("metrics_origin_latency_buckets_ms",
                                c.metrics_origin_latency_buckets_ms);
      !r) {
    return r;
  }
  if (auto r = validate_buckets("metrics_target_latency_buckets_ms",
                                c.metrics_target_latency_buckets_ms);
      !r) {
    return r;
  }
  if (auto r = validate_buckets("metrics_async_read_latency_buckets_ms",
                                c.metrics_async_read_latency_buckets_ms);
      !r) {
    return r;
  }

  // Heartbeats
  if (auto r = check_positive("heartbeat_interval_ms", c.heartbeat_interval_ms); !r) return r;
  if (auto r = check_positive("heartbeat_retry_interval_min_ms", c.heartbeat_retry_interval_min_ms);
      !r) {
    return r;
  }
  if (auto r = check_positive("heartbeat_retry_interval_max_ms", c.heartbeat_retry_interval_max_ms);
      !r) {
    return r;
  }
  if (c.heartbeat_retry_interval_max_ms < c.heartbeat_retry_interval_min_ms) {
    return invalid(
        "heartbeat_retry_interval_max_ms",
        fmt::format("{} is below heartbeat_retry_interval_min_ms ({})",
                    c.heartbeat_retry_interval_max_ms, c.heartbeat_retry_interval_min_ms));
  }
  if (!(c.heartbeat_retry_backoff_factor >= 1.0)) {
    return invalid("heartbeat_retry_backoff_factor",
                   fmt::format("{} must be at least 1", c.heartbeat_retry_backoff_factor));
  }
  if (auto r = check_positive("heartbeat_failure_threshold", c.heartbeat_failure_threshold); !r) {
    return r;
  }

  // Tuning
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, int64_t>>{
           {"request_write_queue_size_frames", c.request_write_queue_size_frames},
           {"request_write_buffer_size_bytes", c.request_write_buffer_size_bytes},
           {"request_read_buffer_size_bytes", c.request_read_buffer_size_bytes},
           {"response_write_queue_size_frames", c.response_write_queue_size_frames},
           {"response_write_buffer_size_bytes", c.response_write_buffer_size_bytes},
           {"response_read_buffer_size_bytes", c.response_read_buffer_size_bytes},
           {"event_queue_size_frames", c.event_queue_size_frames},
           {"async_connector_write_queue_size_frames", c.async_connector_write_queue_size_frames},
           {"async_connector_write_buffer_size_bytes", c.async_connector_write_buffer_size_bytes},
           {"prepared_cache_size", c.prepared_cache_size}}) {
    if (auto r = check_positive(name, value); !r) return r;
  }
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, int64_t>>{
           {"request_response_max_workers", c.request_response_max_workers},
           {"write_max_workers", c.write_max_workers},
           {"read_max_workers", c.read_max_workers},
           {"listener_max_workers", c.listener_max_workers}}) {
    if (auto r = check_workers(name, value); !r) return r;
  }

  // Ours
  if (!(c.read_comparison_rate >= 0.0 && c.read_comparison_rate <= 1.0)) {
    return invalid("read_comparison_rate",
                   fmt::format("{} must be between 0 and 1 (a fraction of async reads)",
                               c.read_comparison_rate));
  }
  if (auto r = check_range("proxy_threads", c.proxy_threads, 1, 1024, "the io thread count"); !r) {
    return r;
  }
  return validate_journal_settings(c);
}

}  // namespace zdm::proxy
