#include "proxy/routing/routing_snapshot.hpp"

#include <algorithm>

namespace zdm::proxy {

RoutingSnapshot RoutingSnapshot::from_config(const ProxyConfig& config) {
  RoutingSnapshot s;
  s.primary_cluster = config.primary_cluster;
  s.read_mode = config.read_mode;
  s.system_queries_mode = config.system_queries_mode;
  s.replace_cql_functions = config.replace_cql_functions;
  s.secondary_write_mode = config.secondary_write_mode;
  s.read_comparison_rate = config.read_comparison_rate;
  s.timeout_behaviour = config.proxy_timeout_behaviour;
  s.request_timeout =
      std::chrono::milliseconds(std::max<int64_t>(1, config.proxy_request_timeout_ms));
  s.heartbeat_interval = std::chrono::milliseconds(config.heartbeat_interval_ms);
  return s;
}

uint64_t RoutingSnapshot::compare_threshold() const {
  if (read_comparison_rate <= 0.0 || compare_all()) return 0;
  return static_cast<uint64_t>(read_comparison_rate * 18446744073709551616.0);
}

RoutingPublisher::RoutingPublisher(RoutingSnapshot initial) {
  initial.generation = 1;
  current_ = std::make_shared<const RoutingSnapshot>(initial);
}

uint64_t RoutingPublisher::publish(RoutingSnapshot next) {
  std::lock_guard lock(mu_);
  return publish_locked(std::move(next));
}

uint64_t RoutingPublisher::publish_locked(RoutingSnapshot next) {
  next.generation = current_->generation + 1;
  current_ = std::make_shared<const RoutingSnapshot>(next);
  generation_.store(next.generation, std::memory_order_release);
  return next.generation;
}

std::shared_ptr<const RoutingSnapshot> RoutingPublisher::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace zdm::proxy
