#pragma once
// The rules of `zdm preflight` for the two clusters: what each finding means (PASS, WARN or
// FAIL) and what to do about it. Pure functions over what preflight.cpp gathered, so that every
// threshold and message is unit tested without clusters.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client/client_error.hpp"
#include "migrate/schema.hpp"
#include "ops/preflight_report.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::ops {

// One contact point tried on its own: no error means it completed the CQL handshake.
struct ContactAnswer {
  std::string endpoint;  // "10.0.0.1:9042"
  std::optional<client::ClientError> error;
};

// How one cluster answered.
struct ClusterReach {
  std::string name;         // "origin"
  std::string settings;     // "ORIGIN": the ZDM_ORIGIN_* settings
  std::string setup_error;  // the cluster could not even be looked for (Astra metadata, TLS files)
  std::vector<ContactAnswer> contacts;  // empty behind an SNI proxy (Astra)
  std::string sni_proxy;                // "host:port" of the SNI proxy, if any
  int64_t connect_timeout_ms = 0;
  bool credentials_given = false;
  // The session (control connection, then a pool per node of the local datacenter).
  bool connected = false;
  std::optional<client::ClientError> session_error;
  std::string release_version;          // system.local's, when connected
  std::string datacenter;               // the local datacenter
  std::vector<std::string> nodes_up;    // nodes of the local datacenter the session reached
  std::vector<std::string> nodes_down;  // listed in system.peers but refused the session
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;  // negotiated
};

// "<name> reachable" (FAIL: nothing answered; WARN: some contact points or nodes did not) and,
// when a node answered, "<name> credentials" (FAIL on an authentication error).
std::vector<Check> reach_checks(const ClusterReach& reach);

// The protocol versions a cluster speaks: the non-beta entries of SUPPORTED's PROTOCOL_VERSIONS
// (Cassandra 4+, DSE) or, when the cluster lists none, v3 up to the negotiated version.
std::vector<protocol::ProtocolVersion> spoken_versions(protocol::ProtocolVersion negotiated,
                                                       const protocol::SupportedMessage& supported);

struct ClusterProtocols {
  std::string name;  // "origin"
  protocol::ProtocolVersion negotiated = protocol::ProtocolVersion::V4;
  protocol::SupportedMessage supported;  // the answer to OPTIONS
};

// "protocol versions": FAIL when the clusters share no version the proxy may use (blocked ones
// left out), WARN when their highest differ (naming the version the proxy will offer clients, by
// the proxy's own rule, proxy::max_client_version), PASS otherwise.
Check protocol_check(const ClusterProtocols& origin, const ClusterProtocols& target,
                     const proxy::ProxyConfig& config);

// "partitioners": WARN when they differ (copying works; token-aware routing differs).
Check partitioner_check(const std::string& origin_class, const std::string& target_class);

// "schema ..." lines: FAIL per keyspace missing on origin, per problem migrate's
// compare_schemas finds (missing table or column, other type, other primary key); one PASS line
// when every table matches. `keyspaces` empty: every non-system keyspace of origin.
std::vector<Check> schema_checks(const migrate::Schema& origin, const migrate::Schema& target,
                                 const std::vector<std::string>& keyspaces);

// Per table of origin: WARN for counter tables, non-frozen lists and default_time_to_live > 0
// (`default_ttls` by Table::id(), seconds); one PASS line when none needs care.
std::vector<Check> feature_checks(const migrate::Schema& origin,
                                  const std::map<std::string, int32_t>& default_ttls);

// Clock skew thresholds: WARN above 50 ms, FAIL above 1 s (either direction).
inline constexpr std::chrono::milliseconds kSkewWarn{50};
inline constexpr std::chrono::milliseconds kSkewFail{1000};
CheckResult clock_skew_result(std::chrono::microseconds skew);

// One node's clock as seen from here: its time minus ours at the middle of the round trip.
struct HostClock {
  std::string host;
  std::chrono::microseconds skew{0};
  std::chrono::microseconds round_trip{0};
};

// Server time from a timeuuid (SELECT now()) against the local clock before and after the
// request (Unix microseconds): skew = server - (before + after) / 2.
std::optional<HostClock> host_clock(std::string host, const Uuid& server_now, int64_t before_us,
                                    int64_t after_us);

// "<name> clock": the node with the largest skew decides; `error` when no sample could be taken.
Check clock_check(const std::string& name, const std::vector<HostClock>& hosts,
                  const std::string& error);

}  // namespace zdm::ops
