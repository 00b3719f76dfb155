#pragma once
// `zdm proxy` assembled: io threads (PROXY_THREADS, thread per core), the CQL listener, control
// connections to origin and target, the virtual topology, the prepared cache, the metrics
// registry and the admin HTTP server (/metrics, /health/liveness, /health/readiness). Each
// accepted client gets a ClientSession on the io thread of its socket.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/admin_endpoints.hpp"
#include "admin/http_server.hpp"
#include "common/metrics.hpp"
#include "common/result.hpp"
#include "net/io_threads.hpp"
#include "net/listener.hpp"
#include "proxy/cluster/cluster_tls.hpp"
#include "proxy/cluster/control_connection.hpp"
#include "proxy/control/live_config.hpp"
#include "proxy/control/operations_api.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/secondary/secondary_writer.hpp"
#include "proxy/session/client_session.hpp"

namespace zdm::proxy {

class ProxyServer {
 public:
  explicit ProxyServer(ProxyConfig config);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Starts the admin endpoints, binds the listener, connects to both clusters (retrying with
  // backoff, as the reference does at startup) and, once both answered, starts accepting.
  // `startup_timeout` bounds the wait for the clusters (0: wait forever).
  Result<void> start(std::chrono::milliseconds startup_timeout = std::chrono::milliseconds{0});
  // Stops accepting, closes control connections, the HTTP server and every io thread.
  void stop();
  // Graceful shutdown (SIGTERM): closes the listener, readiness goes 503, sessions answer new
  // requests with OVERLOADED and close once their in-flight requests are answered (or timed out:
  // every request has PROXY_REQUEST_TIMEOUT_MS); after that, or after `drain_timeout`, stop().
  // Thread-safe; returns how many client sessions were still open when it gave up waiting.
  int64_t shutdown(std::chrono::milliseconds drain_timeout);
  bool draining() const { return draining_.load(); }

  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  std::string listen_host() const { return config_.proxy_listen_address; }
  uint16_t metrics_port() const { return http_ ? http_->port() : 0; }

  admin::ReadinessReport readiness() const;
  SessionContext& context() { return *context_; }
  // Live configuration changes (the operations API and SIGHUP use it).
  LiveConfig& live() { return *live_; }
  // The version the status API reports ("zdm 0.1.0"); set before start().
  void set_version(std::string version) { version_ = std::move(version); }
  metrics::Registry& registry() { return registry_; }

 private:
  void on_accept(boost::asio::ip::tcp::socket socket, size_t thread_index);
  void open_tls_session(net::Stream stream);  // client TLS handshake, then the session
  void on_view(ClusterType cluster, std::shared_ptr<const ClusterView> view);
  Result<void> setup_tls();
  Result<void> start_admin();  // metrics, health and the operations API
  void register_state_gauges(const std::string& prefix);
  ControlConnectionOptions control_options(ClusterType cluster) const;
  // Async secondary writes: the writer and its journal, when ZDM_JOURNAL_DIR is set.
  Result<void> start_secondary_writer();
  client::SessionOptions writer_session_options(ClusterType cluster) const;
  std::string startup_failure_details() const;  // why each unconnected cluster failed

  ProxyConfig config_;
  metrics::Registry registry_;
  ProxyMetrics metrics_;
  metrics::Counter* rejected_clients_ = nullptr;
  metrics::Gauge* async_dropped_ = nullptr;
  std::vector<metrics::Gauge*> state_gauges_;  // callback gauges reading the server's state
  std::unique_ptr<PreparedCache> prepared_;
  std::unique_ptr<SessionContext> context_;
  std::unique_ptr<net::IoThreads> threads_;
  std::unique_ptr<admin::HttpServer> http_;
  std::unique_ptr<admin::AdminEndpoints> endpoints_;
  std::unique_ptr<LiveConfig> live_;
  std::unique_ptr<OperationsApi> api_;
  std::unique_ptr<SecondaryWriter> secondary_writer_;
  std::string version_ = "zdm";
  std::shared_ptr<net::Listener> listener_;
  std::unique_ptr<ControlConnection> origin_control_;
  std::unique_ptr<ControlConnection> target_control_;
  std::shared_ptr<boost::asio::ssl::context> client_tls_;
  ClusterConnectSetup cluster_setup_[2];  // origin, target (TLS, Astra)

  std::mutex mu_;
  std::condition_variable views_cv_;
  bool stopped_ = false;
  std::atomic<bool> draining_{false};
};

}  // namespace zdm::proxy
