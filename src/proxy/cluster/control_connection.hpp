#pragma once
// The proxy's control connection to one cluster (origin or target): finds the cluster's nodes
// (system.local + system.peers, filtered to the local datacenter), assigns this proxy's share of
// them (reference host assignment: hosts sorted by rack then host_id, host i belongs to proxy
// i % proxy_count), remembers what the cluster supports (protocol version, SUPPORTED options),
// sends OPTIONS every heartbeat interval, and reconnects with exponential backoff. Its failure
// count feeds /health/readiness. It follows topology changes (events, debounced, plus a periodic
// refresh) and publishes a new view when the node list changed: new client sessions then use the
// new assignment, existing ones keep their connections until those fail ("drain").
//
// Threading: runs on one io_context; view() and status() are thread-safe (client sessions on
// other io threads read the published snapshot when they open their upstream connections).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "admin/admin_endpoints.hpp"
#include "client/client_error.hpp"
#include "common/bytes.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"
#include "proxy/cluster/astra_metadata.hpp"
#include "proxy/cluster/cluster_tls.hpp"
#include "proxy/cluster/version_policy.hpp"
#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

struct ClusterNode {
  std::string address;  // textual IP the proxy connects to
  uint16_t port = 9042;
  std::string datacenter;
  std::string rack;
  Uuid host_id{};
  // Astra: the TLS server name (the node's host id) that makes the SNI proxy at address:port
  // route to this node; empty for other clusters.
  std::string sni;

  std::string label() const;  // "ip:port" ("ip:port/host-id" through an SNI proxy): metrics label
};

// An immutable snapshot of what a control connection learned.
struct ClusterView {
  ClusterType cluster = ClusterType::Origin;
  std::vector<ClusterNode> nodes;     // local datacenter, sorted (rack, host_id)
  std::vector<ClusterNode> assigned;  // this proxy's share (never empty when nodes is not)
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;  // negotiated
  // The highest version client sessions may use with this cluster: `version`, or, when
  // CONTROL_CONN_MAX_PROTOCOL_VERSION capped the control connection, the highest non-beta
  // version the cluster lists in SUPPORTED's PROTOCOL_VERSIONS (Cassandra 4+, zdm node).
  protocol::ProtocolVersion client_version = protocol::ProtocolVersion::V4;
  protocol::SupportedMessage supported;  // the cluster's answer to OPTIONS
  ClusterLocalInfo local;                // system.local row and datacenter (virtual topology)
  std::string contact;                   // "ip:port" of the control connection
};

struct ControlConnectionOptions {
  ClusterType cluster = ClusterType::Origin;
  std::vector<std::string> contact_points;
  uint16_t port = 9042;
  std::string username;
  std::string password;
  std::string local_datacenter;  // empty: the datacenter of the first node reached
  // TLS and Astra routing (make_cluster_connect_setup): no context means plain TCP; with `astra`,
  // contact points, port and datacenter come from the metadata service, fetched again after a
  // failed connection (as the reference).
  UpstreamTls tls;
  std::optional<AstraMetadataRequest> astra;
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds heartbeat_interval{30000};
  std::chrono::milliseconds retry_min{250};
  std::chrono::milliseconds retry_max{30000};
  double retry_factor = 2;
  int failure_threshold = 1;
  size_t topology_index = 0;
  size_t topology_count = 1;
  bool host_assignment = true;
  // The first version tried (CONTROL_CONN_MAX_PROTOCOL_VERSION); each refusal steps down
  // DSE_V2 -> DSE_V1 -> v5 -> v4 -> v3 on a new connection, as the reference. nullopt: DSE_V2.
  std::optional<protocol::ProtocolVersion> max_version;
  // Topology: the connection REGISTERs for TOPOLOGY_CHANGE and STATUS_CHANGE and re-reads
  // system.local/peers once events stop arriving for `topology_event_debounce` (a node joining
  // sends several), and every `topology_refresh_interval` in any case (0: never).
  std::chrono::milliseconds topology_event_debounce{1000};
  std::chrono::milliseconds topology_refresh_interval{60000};

  static ControlConnectionOptions from_config(const ProxyConfig& config, ClusterType cluster);
};

class ControlConnection {
 public:
  ControlConnection(boost::asio::io_context& io, ControlConnectionOptions options);
  ~ControlConnection();
  ControlConnection(const ControlConnection&) = delete;
  ControlConnection& operator=(const ControlConnection&) = delete;

  // Starts connecting (and keeps reconnecting) on the io_context. `on_view` runs on the io
  // thread after each successful (re)connect with the new snapshot.
  void start(std::function<void(std::shared_ptr<const ClusterView>)> on_view = nullptr);
  // Stops the loop and closes the connection (thread-safe, idempotent).
  void stop();

  // The latest snapshot; null before the first successful connect.
  std::shared_ptr<const ClusterView> view() const;
  admin::ControlConnStatus status() const;
  // Why the last attempt failed ("" after a success): shown in startup errors.
  std::string last_error() const;
  // Topology refreshes done (event or periodic) and events received since start (tests, logs).
  uint64_t topology_refreshes() const;
  uint64_t topology_events() const;
  const ControlConnectionOptions& options() const { return options_; }

  struct State;  // shared with the connection's coroutine

 private:
  boost::asio::io_context& io_;
  ControlConnectionOptions options_;
  std::shared_ptr<State> state_;
};

// True when both lists name the same nodes (address, port, datacenter, rack, host id) in order.
bool same_nodes(const std::vector<ClusterNode>& a, const std::vector<ClusterNode>& b);

// Sorts `nodes` (rack, host_id) and picks host i when i % count == index; when there are fewer
// hosts than proxies, proxy `index` takes host index % hosts so that every proxy has one.
std::vector<ClusterNode> assign_hosts(std::vector<ClusterNode>& nodes, size_t index, size_t count);

}  // namespace zdm::proxy
