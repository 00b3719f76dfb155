#pragma once
// The settings that decide how requests are routed, as one immutable object: primary cluster,
// read mode, system-query cluster, read comparison rate, function replacement, timeouts,
// heartbeats, and the virtual topology that answers system.local/peers. Everything here may change
// while the proxy runs (a phase change); the rest of ProxyConfig (addresses, credentials, TLS,
// limits) is fixed for the process's life.
//
// Publishing: RoutingPublisher holds the current snapshot and a generation number. A session
// keeps a pointer to the snapshot it uses and, once per request, compares one atomic generation
// with its own: no lock and no reference-count traffic on the request path; only when the
// generation moved does it take the lock and copy the new pointer. A request is routed wholly
// by the snapshot it started with (its answers are joined by the same primary).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/routing/forward_decision.hpp"

namespace zdm::proxy {

struct RoutingSnapshot {
  uint64_t generation = 0;  // set by RoutingPublisher::publish
  ClusterType primary_cluster = ClusterType::Origin;
  ReadMode read_mode = ReadMode::PrimaryOnly;
  SystemQueriesMode system_queries_mode = SystemQueriesMode::Origin;
  bool replace_cql_functions = false;
  SecondaryWriteMode secondary_write_mode = SecondaryWriteMode::Sync;
  double read_comparison_rate = 0;  // 0..1 (ProxyConfig validates the range)
  TimeoutBehaviour timeout_behaviour = TimeoutBehaviour::Error;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds heartbeat_interval{30000};
  std::shared_ptr<const VirtualTopology> topology;  // null until both clusters answered

  static RoutingSnapshot from_config(const ProxyConfig& config);

  // The secondary cluster (reads copied there with DUAL_ASYNC_ON_SECONDARY).
  ClusterType secondary_cluster() const {
    return primary_cluster == ClusterType::Origin ? ClusterType::Target : ClusterType::Origin;
  }
  bool async_reads() const { return read_mode == ReadMode::DualAsyncOnSecondary; }
  // Writes answered after the primary, the secondary's copy in the background (and journaled).
  bool async_writes() const { return secondary_write_mode == SecondaryWriteMode::Async; }
  // The migration phase this routing implements: 4 when target is primary, 3 when reads are
  // copied to the secondary, else 1 (phase 2 routes as phase 1).
  int phase() const {
    if (primary_cluster == ClusterType::Target) return 4;
    return async_reads() ? 3 : 1;
  }
  // The part forward decisions read; `auth_to_target` is the connection's own.
  RoutingSettings settings(bool auth_to_target) const {
    return RoutingSettings{primary_cluster, system_queries_mode, auth_to_target};
  }
  // Read comparison sampling: compare when a uniform 64-bit draw is below the threshold.
  bool compare_all() const { return read_comparison_rate >= 1.0; }
  uint64_t compare_threshold() const;
};

class RoutingPublisher {
 public:
  explicit RoutingPublisher(RoutingSnapshot initial);

  // Makes `next` current (its generation is set here). Thread-safe; returns the generation.
  uint64_t publish(RoutingSnapshot next);
  // Publishes a copy of the current snapshot changed by `change(RoutingSnapshot&)`, atomically
  // with respect to other publishers.
  template <class Change>
  uint64_t update(Change&& change) {
    std::lock_guard lock(mu_);
    RoutingSnapshot next = *current_;
    change(next);
    return publish_locked(std::move(next));
  }
  // The current snapshot. Thread-safe; takes the lock (call when generation() moved).
  std::shared_ptr<const RoutingSnapshot> current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  uint64_t publish_locked(RoutingSnapshot next);

  mutable std::mutex mu_;
  std::shared_ptr<const RoutingSnapshot> current_;
  std::atomic<uint64_t> generation_{1};
};

}  // namespace zdm::proxy
