#include "proxy/proxy_server.hpp"

#include <thread>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "client/connection_options.hpp"
#include "common/process_metrics.hpp"
#include "net/tls.hpp"
#include "proxy/cluster/cluster_tls.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;

namespace {

// "zdm_" for ZDM_METRICS_PREFIX=zdm: what every metric name of the proxy starts with.
std::string metric_name_prefix(const ProxyConfig& config) {
  return config.metrics_prefix.empty() ? "" : config.metrics_prefix + "_";
}
constexpr std::chrono::seconds kClientTlsHandshakeTimeout{10};
}  // namespace

ProxyServer::ProxyServer(ProxyConfig config) : config_(std::move(config)) {
  ProxyMetricsOptions mo;
  mo.prefix = config_.metrics_prefix;
  if (auto b = parse_latency_buckets_ms(config_.metrics_origin_latency_buckets_ms)) {
    mo.origin_buckets_ms = *b;
  }
  if (auto b = parse_latency_buckets_ms(config_.metrics_target_latency_buckets_ms)) {
    mo.target_buckets_ms = *b;
  }
  if (auto b = parse_latency_buckets_ms(config_.metrics_async_read_latency_buckets_ms)) {
    mo.async_buckets_ms = *b;
  }
  metrics_ = register_proxy_metrics(registry_, mo);
  const std::string prefix = metric_name_prefix(config_);
  rejected_clients_ = &registry_.counter(
      prefix + "proxy_rejected_client_connections_total",
      "Client connections closed at accept because PROXY_MAX_CLIENT_CONNECTIONS was reached");
  metrics::register_process_metrics(registry_);
  prepared_ = std::make_unique<PreparedCache>(
      static_cast<size_t>(std::max<int64_t>(1, config_.prepared_cache_size)));
  metrics_.pscache_entries->set_function(
      [cache = prepared_.get()] { return static_cast<double>(cache->entries().load()); });
  context_ = std::make_unique<SessionContext>(config_, &metrics_, prepared_.get());
  metrics_.client_connections->set_function(
      [ctx = context_.get()] { return static_cast<double>(ctx->sessions.load()); });
  live_ = std::make_unique<LiveConfig>(*context_, registry_, config_.metrics_prefix);
  register_state_gauges(prefix);
  async_dropped_ = &registry_.gauge_function(
      prefix + "async_requests_dropped_total",
      "Async dual-read copies not sent (connection not ready or in-flight bound reached)",
      [ctx = context_.get()] { return static_cast<double>(ctx->async_dropped.load()); });
}

ProxyServer::~ProxyServer() { stop(); }

// What alerts and dashboards need besides traffic: readiness per cluster, the phase, and the
// limits that "near the limit" rules compare with (all read at scrape time).
void ProxyServer::register_state_gauges(const std::string& prefix) {
  auto& ready = registry_.gauge_family(
      prefix + "proxy_ready",
      "1 when the proxy is ready for this cluster (its control connection is UP), else 0; "
      "cluster=\"all\" is /health/readiness",
      {"cluster"});
  for (const auto* name : {"all", "origin", "target"}) {
    const std::string_view labels[] = {name};
    auto& gauge = ready.labels(labels);
    gauge.set_function([this, which = std::string(name)] {
      const auto r = readiness();
      if (which == "all") return r.status == admin::HealthStatus::Up ? 1.0 : 0.0;
      // During STARTUP both statuses are null: not ready.
      const auto& c = which == "origin" ? r.origin : r.target;
      return c && c->status == admin::HealthStatus::Up ? 1.0 : 0.0;
    });
    state_gauges_.push_back(&gauge);
  }
  state_gauges_.push_back(&registry_.gauge_function(
      prefix + "proxy_phase",
      "Migration phase the routing implements: 1 (origin primary), 3 (origin primary, reads "
      "copied to target), 4 (target primary)",
      [ctx = context_.get()] { return static_cast<double>(ctx->routing().current()->phase()); }));
  state_gauges_.push_back(&registry_.gauge_function(
      prefix + "proxy_max_client_connections",
      "PROXY_MAX_CLIENT_CONNECTIONS now (client connections beyond it are refused)",
      [ctx = context_.get()] {
        return static_cast<double>(ctx->config()->proxy_max_client_connections);
      }));
  state_gauges_.push_back(&registry_.gauge_function(
      prefix + "proxy_max_stream_ids",
      "PROXY_MAX_STREAM_IDS now: stream ids per connection to a node (connections opened after a "
      "change use the new value)",
      [ctx = context_.get()] { return static_cast<double>(ctx->config()->proxy_max_stream_ids); }));
}

Result<void> ProxyServer::setup_tls() {
  // Towards the clusters: TLS contexts, hostname checks and Astra bundles, read once; any
  // unusable file or bundle stops startup here with a message naming the setting.
  for (ClusterType c : {ClusterType::Origin, ClusterType::Target}) {
    auto setup = make_cluster_connect_setup(config_, c);
    if (!setup) return tl::unexpected(setup.error());
    if (setup->tls) {
      spdlog::info("{}: {}, hostname verification {}", cluster_type_name(c),
                   setup->astra ? "Astra secure connect bundle (mutual TLS through the SNI proxy)"
                                : std::string(tls_mode_name(cluster_tls_mode(config_, c))) + " TLS",
                   setup->tls.hostname == net::HostnameCheck::Verify ? "on" : "OFF");
    }
    context_->set_tls(c, setup->tls);
    cluster_setup_[c == ClusterType::Origin ? 0 : 1] = std::move(*setup);
  }
  // Towards clients (ZDM_PROXY_TLS_*).
  auto client = make_proxy_tls_context(config_);
  if (!client) return tl::unexpected(client.error());
  client_tls_ = std::move(*client);
  if (client_tls_) {
    spdlog::info("client connections: TLS{}",
                 config_.proxy_tls_require_client_auth ? ", client certificates required" : "");
  }
  return {};
}

Result<void> ProxyServer::start_admin() {
  if (!config_.metrics_enabled) return {};
  std::string token = config_.admin_token;
  if (token.empty() && !config_.admin_token_file.empty()) {
    auto read = read_token_file(config_.admin_token_file);
    if (!read) {
      return fail(read.error().code,
                  "admin_token_file (ZDM_ADMIN_TOKEN_FILE): " + read.error().message);
    }
    token = std::move(*read);
  }
  admin::HttpServerOptions ho;
  ho.host = numeric_host(config_.metrics_address);
  ho.port = static_cast<uint16_t>(config_.metrics_port);
  http_ = std::make_unique<admin::HttpServer>(threads_->context(0), ho);
  endpoints_ = std::make_unique<admin::AdminEndpoints>(*http_, registry_);
  StatusSource source;
  source.version = version_;
  source.instance = [this] {
    return fmt::format("{}:{}", numeric_host(config_.proxy_listen_address), port());
  };
  source.readiness = [this] { return readiness(); };
  source.draining = [this] { return draining(); };
  if (token.empty()) {
    spdlog::info("operations API read-only: no admin token (ZDM_ADMIN_TOKEN) configured");
  }
  api_ = std::make_unique<OperationsApi>(*http_, *live_, *context_, metrics_, *prepared_,
                                         std::move(token), std::move(source));
  return http_->start();
}

ControlConnectionOptions ProxyServer::control_options(ClusterType cluster) const {
  auto o = ControlConnectionOptions::from_config(config_, cluster);
  const auto& setup = cluster_setup_[cluster == ClusterType::Origin ? 0 : 1];
  o.tls = setup.tls;
  o.astra = setup.astra;
  return o;
}

client::SessionOptions ProxyServer::writer_session_options(ClusterType cluster) const {
  const ControlConnectionOptions o = control_options(cluster);
  client::SessionOptions s;
  for (const auto& contact : o.contact_points) {
    s.contact_points.push_back(client::Endpoint{numeric_host(contact), o.port});
  }
  s.connection.username = o.username;
  s.connection.password = o.password;
  s.connection.connect_timeout = o.connect_timeout;
  s.connection.request_timeout = std::chrono::milliseconds(config_.proxy_request_timeout_ms);
  s.connection.driver_name = "zdm-proxy-secondary-writes";
  s.connection.tls.settings_name = std::string(cluster_type_name(cluster));
  if (o.tls.context) {
    s.tls_context = o.tls.context;
    s.connection.tls.enabled = true;
    s.connection.tls.verify_hostname = o.tls.hostname == net::HostnameCheck::Verify;
  }
  s.local_dc = o.local_datacenter;
  s.connections_per_host = 1;
  s.listen_events = false;
  s.reconnect_min = std::chrono::milliseconds(250);
  s.reconnect_max = std::chrono::milliseconds(2000);
  s.consistency = protocol::Consistency::LocalQuorum;
  return s;
}

Result<void> ProxyServer::start_secondary_writer() {
  if (config_.journal_dir.empty()) return {};
  for (ClusterType c : {ClusterType::Origin, ClusterType::Target}) {
    if (cluster_setup_[c == ClusterType::Origin ? 0 : 1].astra) {
      // The writer's client does not speak Astra's metadata service yet.
      spdlog::warn(
          "ZDM_JOURNAL_DIR is set but {} is reached through a secure connect bundle, which "
          "async secondary writes do not support yet: they stay off",
          cluster_type_name(c));
      return {};
    }
  }
  SecondaryWriterOptions o;
  o.journal.dir = config_.journal_dir;
  o.journal.sync_interval = std::chrono::milliseconds(config_.journal_sync_ms);
  o.journal.max_bytes = static_cast<uint64_t>(config_.journal_max_bytes);
  o.journal.segment_bytes = static_cast<uint64_t>(config_.journal_segment_bytes);
  o.origin = writer_session_options(ClusterType::Origin);
  o.target = writer_session_options(ClusterType::Target);
  o.max_in_flight = config_.secondary_write_max_in_flight;
  o.replay_rate = config_.journal_replay_rate;
  o.replay_rate_source = [ctx = context_.get()] { return ctx->config()->journal_replay_rate; };
  o.on_fallback = [this](const std::string& reason) {
    if (context_->config()->secondary_write_mode != SecondaryWriteMode::Async) return;
    auto changed =
        live_->patch({{"secondary_write_mode", "sync"}}, std::nullopt, "journal (" + reason + ")");
    if (!changed) spdlog::error("could not switch to sync mode: {}", changed.error().message);
  };
  const std::string prefix = metric_name_prefix(config_);
  auto writer = SecondaryWriter::start(std::move(o), &registry_, prefix);
  if (!writer) return tl::unexpected(writer.error());
  secondary_writer_ = std::move(*writer);
  context_->set_secondary_writer(secondary_writer_.get());
  spdlog::info("async secondary writes available: journal {} (ZDM_SECONDARY_WRITE_MODE={} now)",
               config_.journal_dir, secondary_write_mode_name(config_.secondary_write_mode));
  return {};
}

Result<void> ProxyServer::start(std::chrono::milliseconds startup_timeout) {
  if (auto ok = setup_tls(); !ok) return ok;
  if (auto ok = start_secondary_writer(); !ok) return ok;
  threads_ = std::make_unique<net::IoThreads>(
      static_cast<size_t>(std::max<int64_t>(1, config_.proxy_threads)));
  threads_->start();

  if (auto ok = start_admin(); !ok) return ok;

  net::HostPort listen;
  listen.host = numeric_host(config_.proxy_listen_address);
  listen.port = static_cast<uint16_t>(config_.proxy_listen_port);
  auto listener = net::Listener::bind(
      *threads_, listen,
      [this](asio::ip::tcp::socket socket, size_t index) { on_accept(std::move(socket), index); });
  if (!listener) return tl::unexpected(listener.error());
  listener_ = *listener;

  origin_control_ = std::make_unique<ControlConnection>(threads_->context(0),
                                                        control_options(ClusterType::Origin));
  target_control_ = std::make_unique<ControlConnection>(threads_->context(0),
                                                        control_options(ClusterType::Target));
  origin_control_->start([this](auto view) { on_view(ClusterType::Origin, std::move(view)); });
  target_control_->start([this](auto view) { on_view(ClusterType::Target, std::move(view)); });
  if (endpoints_) {
    endpoints_->set_readiness_provider([this] { return readiness(); });
  }

  {
    std::unique_lock lock(mu_);
    auto ready = [this] {
      return stopped_ || (context_->view(ClusterType::Origin) &&
                          context_->view(ClusterType::Target) && context_->topology());
    };
    if (startup_timeout.count() > 0) {
      if (!views_cv_.wait_for(lock, startup_timeout, ready)) {
        return fail(Errc::Io,
                    fmt::format("could not connect to both clusters within {} ms "
                                "(origin: {}, target: {}){}",
                                startup_timeout.count(), origin_control_->status().addr,
                                target_control_->status().addr, startup_failure_details()));
      }
    } else {
      views_cv_.wait(lock, ready);
    }
    if (stopped_) return fail(Errc::Io, "stopped during startup");
  }
  listener_->start();
  return {};
}

void ProxyServer::on_view(ClusterType cluster, std::shared_ptr<const ClusterView> view) {
  context_->set_view(cluster, view);
  if (cluster == ClusterType::Origin) {
    VirtualTopologyConfig tc;
    tc.addresses = config_.topology_addresses();
    tc.index = static_cast<size_t>(config_.proxy_topology_index);
    tc.num_tokens = static_cast<size_t>(config_.proxy_topology_num_tokens);
    tc.native_port =
        listener_ ? listener_->port() : static_cast<uint16_t>(config_.proxy_listen_port);
    // The listen address "localhost" is not an IP; the topology needs one.
    for (auto& a : tc.addresses) {
      if (a == "localhost") a = "127.0.0.1";
    }
    auto topology = VirtualTopology::create(tc, view->local);
    if (!topology) {
      spdlog::error("cannot build the virtual topology: {}", topology.error().message);
    } else {
      context_->set_topology(std::make_shared<const VirtualTopology>(std::move(*topology)));
    }
  }
  std::lock_guard lock(mu_);
  views_cv_.notify_all();
}

void ProxyServer::on_accept(asio::ip::tcp::socket socket, size_t) {
  const auto open = context_->sessions.load(std::memory_order_relaxed);
  const int64_t max_clients = context_->config()->proxy_max_client_connections;
  if (open >= max_clients) {
    // The reference's behaviour: accept, log, close (no CQL error).
    rejected_clients_->inc();
    context_->rejected_clients.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ec;
    spdlog::warn(
        "client connection from {} refused: {} connections open "
        "(PROXY_MAX_CLIENT_CONNECTIONS={})",
        socket.remote_endpoint(ec).address().to_string(), open, max_clients);
    socket.close(ec);
    return;
  }
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  if (client_tls_) return open_tls_session(net::Stream(std::move(socket), client_tls_));
  auto session = std::make_shared<ClientSession>(net::Stream(std::move(socket)), *context_);
  session->open();
}

// TLS clients: the handshake runs before the session exists, so a refused client is logged with
// the reason, and a client that never finishes it is dropped. The session's own handshake call
// (FramedConnection::start) then finds it done.
void ProxyServer::open_tls_session(net::Stream stream) {
  struct Pending {
    explicit Pending(net::Stream s) : stream(std::move(s)), timer(stream.get_executor()) {}
    net::Stream stream;
    asio::steady_timer timer;
    std::string peer;
    bool done = false;
  };
  auto pending = std::make_shared<Pending>(std::move(stream));
  boost::system::error_code ec;
  const auto remote = pending->stream.socket().remote_endpoint(ec);
  pending->peer =
      ec ? std::string("?") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
  pending->timer.expires_after(kClientTlsHandshakeTimeout);
  pending->timer.async_wait([pending](boost::system::error_code tec) {
    if (tec || pending->done) return;
    pending->done = true;
    spdlog::warn("client {}: TLS handshake not completed within {} s; connection closed",
                 pending->peer, kClientTlsHandshakeTimeout.count());
    pending->stream.close();
  });
  pending->stream.async_handshake(
      asio::ssl::stream_base::server,
      [pending, ctx = context_.get()](boost::system::error_code hec) {
        pending->timer.cancel();
        if (pending->done) return;
        pending->done = true;
        if (hec) {
          spdlog::warn("client {}: TLS handshake failed: {}", pending->peer,
                       explain_client_tls_failure(*pending->stream.tls(), hec));
          pending->stream.close();
          return;
        }
        auto session = std::make_shared<ClientSession>(std::move(pending->stream), *ctx);
        session->open();
      });
}

std::string ProxyServer::startup_failure_details() const {
  std::string out;
  for (const auto* control : {origin_control_.get(), target_control_.get()}) {
    if (control == nullptr || control->view()) continue;
    const std::string why = control->last_error();
    if (why.empty()) continue;
    out += fmt::format("\n  {}: {}", cluster_type_name(control->options().cluster), why);
  }
  return out;
}

admin::ReadinessReport ProxyServer::readiness() const {
  if (!origin_control_ || !target_control_) return admin::ReadinessReport::startup();
  // Not ready until each cluster answered once: before that a control connection has no failure
  // counted yet, which the reference's rule would call UP.
  if (!context_->view(ClusterType::Origin) || !context_->view(ClusterType::Target)) {
    return admin::ReadinessReport::startup();
  }
  auto report = admin::ReadinessReport::from(origin_control_->status(), target_control_->status());
  // Async secondary writes: the secondary being down degrades nothing clients see.
  const auto routing = context_->routing().current();
  if (secondary_writer_ && routing->async_writes() && report.status != admin::HealthStatus::Up) {
    const auto& primary =
        routing->primary_cluster == ClusterType::Origin ? report.origin : report.target;
    if (primary && primary->status == admin::HealthStatus::Up) {
      report.status = admin::HealthStatus::Up;
    }
  }
  if (draining_.load()) report.status = admin::HealthStatus::Down;  // shutting down: not ready
  return report;
}

int64_t ProxyServer::shutdown(std::chrono::milliseconds drain_timeout) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || draining_.exchange(true)) return 0;
  }
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  spdlog::info(
      "shutting down: listener closed, readiness 503, {} client session(s) open; new "
      "requests get OVERLOADED while in-flight ones finish (at most {} ms)",
      context_->sessions.load(), drain_timeout.count());
  if (listener_) listener_->stop();
  context_->begin_drain();
  // Each session closes itself once nothing is in flight; requests are bounded by their deadline.
  const auto deadline = started + drain_timeout;
  while (context_->sessions.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t left = context_->sessions.load();
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (left > 0) {
    spdlog::warn("shutting down: {} client session(s) still busy after {} ms; closing them", left,
                 waited);
  } else {
    spdlog::info("shutting down: every client session finished in {} ms", waited);
  }
  stop();
  spdlog::info("shutting down: control connections, admin server and io threads stopped");
  return left;
}

void ProxyServer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    views_cv_.notify_all();
  }
  if (endpoints_) endpoints_->clear_readiness_provider();
  if (listener_) listener_->stop();
  if (origin_control_) origin_control_->stop();
  if (target_control_) target_control_->stop();
  if (http_) http_->stop();
  metrics_.pscache_entries->clear_function();
  metrics_.client_connections->clear_function();
  async_dropped_->clear_function();
  for (auto* gauge : state_gauges_) gauge->clear_function();
  if (threads_) threads_->stop();
  // After the sessions: what they handed over is journaled if the secondary has not answered.
  if (secondary_writer_) secondary_writer_->stop();
}

}  // namespace zdm::proxy
