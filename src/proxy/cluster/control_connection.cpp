#include "proxy/cluster/control_connection.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "client/connection.hpp"
#include "common/timeuuid.hpp"
#include "protocol/row_reader.hpp"
#include "proxy/cluster/node_stream.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::Message;

std::string ClusterNode::label() const {
  std::string out = address.find(':') != std::string::npos ? fmt::format("[{}]:{}", address, port)
                                                           : fmt::format("{}:{}", address, port);
  if (!sni.empty()) out += "/" + sni;
  return out;
}

ControlConnectionOptions ControlConnectionOptions::from_config(const ProxyConfig& config,
                                                               ClusterType cluster) {
  const bool origin = cluster == ClusterType::Origin;
  ControlConnectionOptions o;
  o.cluster = cluster;
  o.contact_points = config.contact_points(cluster);
  o.port = static_cast<uint16_t>(origin ? config.origin_port : config.target_port);
  o.username = origin ? config.origin_username : config.target_username;
  o.password = origin ? config.origin_password : config.target_password;
  o.local_datacenter = origin ? config.origin_local_datacenter : config.target_local_datacenter;
  o.tls.cluster_name = std::string(cluster_type_name(cluster));  // contexts: set by the caller
  o.connect_timeout = std::chrono::milliseconds(origin ? config.origin_connection_timeout_ms
                                                       : config.target_connection_timeout_ms);
  o.heartbeat_interval = std::chrono::milliseconds(config.heartbeat_interval_ms);
  o.retry_min = std::chrono::milliseconds(config.heartbeat_retry_interval_min_ms);
  o.retry_max = std::chrono::milliseconds(config.heartbeat_retry_interval_max_ms);
  o.retry_factor = config.heartbeat_retry_backoff_factor;
  o.failure_threshold = static_cast<int>(config.heartbeat_failure_threshold);
  o.topology_index = static_cast<size_t>(config.proxy_topology_index);
  o.topology_count = std::max<size_t>(1, config.topology_addresses().size());
  o.host_assignment =
      origin ? config.origin_enable_host_assignment : config.target_enable_host_assignment;
  o.max_version = config.control_conn_max_version();
  return o;
}

bool same_nodes(const std::vector<ClusterNode>& a, const std::vector<ClusterNode>& b) {
  return std::equal(
      a.begin(), a.end(), b.begin(), b.end(), [](const ClusterNode& x, const ClusterNode& y) {
        return x.address == y.address && x.port == y.port && x.datacenter == y.datacenter &&
               x.rack == y.rack && x.host_id == y.host_id;
      });
}

std::vector<ClusterNode> assign_hosts(std::vector<ClusterNode>& nodes, size_t index, size_t count) {
  std::sort(nodes.begin(), nodes.end(), [](const ClusterNode& a, const ClusterNode& b) {
    if (a.rack != b.rack) return a.rack < b.rack;
    return a.host_id < b.host_id;
  });
  std::vector<ClusterNode> out;
  if (nodes.empty() || count == 0) return out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i % count == index) out.push_back(nodes[i]);
  }
  if (out.empty()) out.push_back(nodes[index % nodes.size()]);
  return out;
}

struct ControlConnection::State {
  explicit State(asio::io_context& io) : timer(io) {}

  asio::steady_timer timer;                  // io thread only
  std::shared_ptr<client::Connection> conn;  // io thread only
  std::atomic<bool> stopped{false};
  std::atomic<int> failures{0};
  mutable std::mutex mu;
  std::shared_ptr<const ClusterView> view;  // guarded by mu
  std::string addr = "NOT_CONNECTED";       // guarded by mu
  std::string last_error;                   // guarded by mu
  // Topology refresh wanted at this time (an event arrived); io thread only.
  std::optional<std::chrono::steady_clock::time_point> refresh_at;
  std::atomic<uint64_t> refreshes{0};
  std::atomic<uint64_t> events{0};
};

namespace {

asio::awaitable<Result<protocol::RowsResult>> select_rows(client::Connection& conn,
                                                          std::string cql) {
  protocol::QueryMessage q;
  q.query = cql;
  q.parameters.consistency = protocol::Consistency::One;
  auto answer =
      co_await conn.async_request(protocol::RequestBody(std::move(q)), asio::use_awaitable);
  if (!answer) co_return fail(Errc::Io, fmt::format("{}: {}", cql, answer.error().to_string()));
  const auto* response = std::get_if<protocol::ResponseBody>(&answer->body);
  if (response) {
    if (const auto* result = std::get_if<protocol::ResultMessage>(response)) {
      if (const auto* rows = std::get_if<protocol::RowsResult>(&result->result)) co_return *rows;
    }
    if (const auto* error = std::get_if<protocol::ErrorMessage>(response)) {
      co_return fail(Errc::Io, fmt::format("{}: {}", cql, error->message));
    }
  }
  co_return fail(Errc::Malformed, fmt::format("{}: unexpected answer", cql));
}

asio::awaitable<Result<std::shared_ptr<ClusterView>>> discover(client::Connection& conn,
                                                               ControlConnectionOptions opts,
                                                               std::string contact) {
  // Named arguments: see the GCC 12 note in run_control.
  std::string local_cql = "SELECT * FROM system.local";
  std::string peers_cql = "SELECT * FROM system.peers";
  auto local = co_await select_rows(conn, local_cql);
  if (!local) co_return tl::unexpected(local.error());
  if (local->rows.empty()) co_return fail(Errc::Malformed, "system.local has no row");
  auto peers = co_await select_rows(conn, peers_cql);
  if (!peers) co_return tl::unexpected(peers.error());

  auto view = std::make_shared<ClusterView>();
  view->cluster = opts.cluster;
  view->version = conn.version();
  view->contact = fmt::format("{}:{}", contact, opts.port);
  const protocol::Row& local_row = local->rows.front();
  for (size_t i = 0; i < local->metadata.columns.size() && i < local_row.size(); ++i) {
    view->local.local_row[local->metadata.columns[i].name] = local_row[i];
  }
  ClusterNode self;
  self.address = contact;  // the address that worked; rpc_address may be a wildcard
  self.port = opts.port;
  protocol::RowReader local_reader(local->metadata, local_row);
  self.datacenter = local_reader.text("data_center").value_or("");
  self.rack = local_reader.text("rack").value_or("");
  self.host_id = local_reader.uuid("host_id").value_or(Uuid{});
  const std::string dc = opts.local_datacenter.empty() ? self.datacenter : opts.local_datacenter;
  view->local.datacenter = dc;

  std::vector<ClusterNode> nodes;
  if (self.datacenter == dc) nodes.push_back(self);
  for (const auto& peer_row : peers->rows) {
    protocol::RowReader row(peers->metadata, peer_row);
    ClusterNode n;
    n.address = row.inet("rpc_address").value_or("");
    if (n.address.empty() || n.address == "0.0.0.0" || n.address == "::") {
      n.address = row.inet("peer").value_or("");
    }
    if (n.address.empty()) continue;
    n.port = opts.port;
    n.datacenter = row.text("data_center").value_or("");
    n.rack = row.text("rack").value_or("");
    n.host_id = row.uuid("host_id").value_or(Uuid{});
    if (n.datacenter == dc) nodes.push_back(std::move(n));
  }
  if (nodes.empty()) {
    co_return fail(Errc::InvalidArgument,
                   fmt::format("no node of datacenter '{}' found through {}", dc, contact));
  }
  if (opts.host_assignment) {
    view->assigned = assign_hosts(nodes, opts.topology_index, opts.topology_count);
  } else {
    view->assigned = {self};  // every connection goes to the control connection's contact point
  }
  view->nodes = std::move(nodes);

  auto supported = co_await conn.async_request(protocol::RequestBody(protocol::OptionsMessage{}),
                                               asio::use_awaitable);
  if (supported) {
    if (const auto* response = std::get_if<protocol::ResponseBody>(&supported->body)) {
      if (const auto* s = std::get_if<protocol::SupportedMessage>(response)) view->supported = *s;
    }
  }
  view->client_version = view->version;
  const bool capped = opts.max_version && view->version == *opts.max_version &&
                      *opts.max_version != protocol::ProtocolVersion::DseV2;
  if (capped) {
    if (auto listed = highest_listed_version(view->supported)) {
      const auto order = control_versions_from(protocol::ProtocolVersion::DseV2);
      const auto rank = [&](protocol::ProtocolVersion v) {
        return std::find(order.begin(), order.end(), v) - order.begin();
      };
      if (rank(*listed) < rank(view->version)) view->client_version = *listed;
    }
  }
  co_return view;
}

asio::awaitable<void> run_control(std::shared_ptr<ControlConnection::State> st,
                                  ControlConnectionOptions opts,
                                  std::function<void(std::shared_ptr<const ClusterView>)> on_view);

// TOPOLOGY_CHANGE / STATUS_CHANGE: refresh once events stop for the debounce time (a joining node
// sends NEW_NODE and UP; a rolling restart sends many). Runs on the io thread (event callback).
void on_topology_event(const std::weak_ptr<ControlConnection::State>& weak,
                       const protocol::EventMessage& event, std::chrono::milliseconds debounce) {
  auto st = weak.lock();
  if (!st || st->stopped) return;
  if (std::holds_alternative<protocol::SchemaChangeEvent>(event.event)) return;
  ++st->events;
  st->refresh_at = std::chrono::steady_clock::now() + debounce;
  st->timer.cancel();  // wakes watch_connection to re-arm for the new time
}

// After a successful discovery: heartbeats, topology refreshes (event-driven and periodic), and a
// new view published when the node list changed. Returns when the connection must be re-opened.
asio::awaitable<void> watch_connection(
    std::shared_ptr<ControlConnection::State> st, ControlConnectionOptions opts,
    std::string contact, std::shared_ptr<const ClusterView> snapshot,
    std::function<void(std::shared_ptr<const ClusterView>)> on_view) {
  using Clock = std::chrono::steady_clock;
  const auto name = cluster_type_name(opts.cluster);
  auto next_heartbeat = Clock::now() + opts.heartbeat_interval;
  const bool periodic = opts.topology_refresh_interval.count() > 0;
  auto next_refresh = Clock::now() + opts.topology_refresh_interval;
  while (!st->stopped && st->conn) {
    auto wake = next_heartbeat;
    if (periodic) wake = std::min(wake, next_refresh);
    if (st->refresh_at) wake = std::min(wake, *st->refresh_at);
    st->timer.expires_at(wake);
    co_await st->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (st->stopped) co_return;
    if (!st->conn->is_open()) {  // the close callback cancelled the timer: fail over now
      spdlog::warn("{} control connection to {} closed; failing over", name, snapshot->contact);
      co_return;
    }
    const auto now = Clock::now();
    if ((st->refresh_at && now >= *st->refresh_at) || (periodic && now >= next_refresh)) {
      st->refresh_at.reset();
      next_refresh = now + opts.topology_refresh_interval;
      auto view = co_await discover(*st->conn, opts, contact);
      ++st->refreshes;
      if (!view) {
        spdlog::warn("{} topology refresh through {} failed: {}; reconnecting", name,
                     snapshot->contact, view.error().message);
        co_return;
      }
      if (same_nodes((*view)->nodes, snapshot->nodes)) continue;
      spdlog::info(
          "{} topology changed: {} -> {} node(s) in datacenter '{}', {} assigned to this "
          "proxy (sessions on removed nodes keep their connections until they fail)",
          name, snapshot->nodes.size(), (*view)->nodes.size(), (*view)->local.datacenter,
          (*view)->assigned.size());
      snapshot = *view;
      {
        std::lock_guard lock(st->mu);
        st->view = snapshot;
      }
      if (on_view) on_view(snapshot);
      continue;
    }
    if (now < next_heartbeat) continue;  // woken early (an event re-armed the timer)
    next_heartbeat = now + opts.heartbeat_interval;
    auto pong = co_await st->conn->async_request(protocol::RequestBody(protocol::OptionsMessage{}),
                                                 asio::use_awaitable);
    if (!pong) {
      spdlog::warn("{} control connection heartbeat to {} failed: {}; failing over", name,
                   snapshot->contact, pong.error().to_string());
      co_return;
    }
  }
}

}  // namespace

ControlConnection::ControlConnection(asio::io_context& io, ControlConnectionOptions options)
    : io_(io), options_(std::move(options)), state_(std::make_shared<State>(io)) {
  state_->failures = 0;
}

ControlConnection::~ControlConnection() { stop(); }

void ControlConnection::start(std::function<void(std::shared_ptr<const ClusterView>)> on_view) {
  asio::co_spawn(io_, run_control(state_, options_, std::move(on_view)),
                 [cluster = options_.cluster](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("{} control connection stopped: {}", cluster_type_name(cluster),
                                   ex.what());
                   }
                 });
}

void ControlConnection::stop() {
  if (state_->stopped.exchange(true)) return;
  asio::post(io_, [st = state_] {
    st->timer.cancel();
    if (st->conn) st->conn->close("proxy shutting down");
  });
}

std::shared_ptr<const ClusterView> ControlConnection::view() const {
  std::lock_guard lock(state_->mu);
  return state_->view;
}

std::string ControlConnection::last_error() const {
  std::lock_guard lock(state_->mu);
  return state_->last_error;
}
uint64_t ControlConnection::topology_refreshes() const { return state_->refreshes.load(); }
uint64_t ControlConnection::topology_events() const { return state_->events.load(); }

admin::ControlConnStatus ControlConnection::status() const {
  std::string addr;
  {
    std::lock_guard lock(state_->mu);
    addr = state_->addr;
  }
  return admin::ControlConnStatus::from_failures(std::move(addr), state_->failures.load(),
                                                 options_.failure_threshold);
}

namespace {

// Where the Astra metadata service says the cluster is: connections go to the SNI proxy, with
// SNI = host id.
struct AstraRoute {
  std::string sni_host;
  uint16_t sni_port = kDefaultSniProxyPort;
};

void route_through_sni_proxy(ClusterView& view, const AstraRoute& route) {
  for (auto* nodes : {&view.nodes, &view.assigned}) {
    for (ClusterNode& n : *nodes) {
      n.address = route.sni_host;
      n.port = route.sni_port;
      n.sni = uuid_to_string(n.host_id);
    }
  }
  view.contact = fmt::format("{}:{}", route.sni_host, route.sni_port);
}

// client::Connection reports a failed TLS handshake with OpenSSL's words only. Handshake once
// more with our own stream to say which of trust, expiry, host name or client certificate failed.
asio::awaitable<std::string> explain_tls_failure(UpstreamTls tls, std::string host, uint16_t port,
                                                 std::string sni,
                                                 std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  auto initiation = [executor, tls, host, port, sni, timeout](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    connect_stream(executor, host, port, tls, sni, timeout,
                   [shared](Result<net::Stream> r) { (*shared)(std::move(r)); });
  };
  auto token = asio::use_awaitable;
  Result<net::Stream> probe =
      co_await asio::async_initiate<decltype(token), void(Result<net::Stream>)>(initiation, token);
  if (probe) {
    probe->close();
    co_return std::string();  // it worked this time: keep the original message
  }
  co_return probe.error().message;
}

asio::awaitable<void> run_control(std::shared_ptr<ControlConnection::State> st,
                                  ControlConnectionOptions opts,
                                  std::function<void(std::shared_ptr<const ClusterView>)> on_view) {
  const auto name = cluster_type_name(opts.cluster);
  client::ConnectionOptions co;
  co.username = opts.username;
  co.password = opts.password;
  co.connect_timeout = opts.connect_timeout;
  co.request_timeout = std::chrono::milliseconds(10000);  // the reference's read timeout
  co.heartbeat_interval = std::chrono::milliseconds(0);   // our loop below counts failures
  co.driver_name = "zdm-proxy";
  co.register_events = {"TOPOLOGY_CHANGE", "STATUS_CHANGE"};
  std::shared_ptr<asio::ssl::context> tls = opts.tls.context;
  if (tls) {
    co.tls.enabled = true;
    co.tls.verify_peer = true;
    co.tls.verify_hostname = opts.tls.hostname == net::HostnameCheck::Verify;
  }
  // The client explains a TLS alert that closes the setup (a refused client certificate), or a
  // plain connection a TLS-only node drops, in terms of this cluster's settings.
  co.tls.settings_name = std::string(name);
  auto backoff = opts.retry_min;
  bool need_metadata = opts.astra.has_value();
  AstraRoute route;
  auto wait = [&](std::chrono::milliseconds d) -> asio::awaitable<void> {
    st->timer.expires_after(d);
    co_await st->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  };
  // Failover: a (re)connect tries every candidate once (a "round"): the configured contact
  // points, then the nodes discovered through system.peers, starting after the node that was
  // lost so it is tried last. Only a round in which no node answered counts as a failure (for
  // readiness), so losing one node of a cluster whose other nodes answer does not make the proxy
  // unready.
  std::vector<std::string> discovered;
  size_t start_at = 0;
  while (!st->stopped) {
    Result<std::shared_ptr<ClusterView>> view = fail(Errc::Io, "not connected");
    std::string where;
    std::string contact;  // the node (Astra: host id) the view came from
    if (need_metadata) {
      // Astra: the metadata service names the SNI proxy, the nodes' host ids and the local DC.
      AstraMetadataRequest request = *opts.astra;
      where = fmt::format("the Astra metadata service {}:{}", request.host, request.port);
      auto info = co_await fetch_astra_metadata(request);
      if (info) {
        need_metadata = false;
        route.sni_host = info->sni_proxy_host;
        route.sni_port = info->sni_proxy_port;
        opts.contact_points = info->host_ids;
        opts.port = info->sni_proxy_port;
        // Fixed at the first fetch, as the reference.
        if (opts.local_datacenter.empty()) opts.local_datacenter = info->local_dc;
        spdlog::info("{}: Astra metadata: SNI proxy {}:{}, {} host id(s), datacenter '{}'", name,
                     route.sni_host, route.sni_port, info->host_ids.size(), info->local_dc);
      } else {
        view = tl::unexpected(info.error());
      }
    }
    if (!need_metadata) {
      if (opts.contact_points.empty()) co_return;
      const bool astra = opts.astra.has_value();
      std::vector<std::string> candidates = opts.contact_points;
      // Astra's host ids all come from the metadata service; discovered addresses are the SNI
      // proxy's.
      for (const auto& d : astra ? std::vector<std::string>{} : discovered) {
        if (std::find(candidates.begin(), candidates.end(), d) == candidates.end()) {
          candidates.push_back(d);
        }
      }
      for (size_t tried = 0; tried < candidates.size() && !st->stopped; ++tried) {
        const size_t index = (start_at + tried) % candidates.size();
        contact = candidates[index];
        // Every argument named: GCC 12 mishandles temporaries and defaulted arguments of a
        // co_awaited coroutine call (double destruction).
        client::Endpoint endpoint{astra ? route.sni_host : contact, opts.port};
        co.tls.server_name = astra ? contact : std::string();  // SNI = host id
        co.tls.verify_name = astra ? route.sni_host : std::string();
        where = astra ? fmt::format("{} (host id {})", endpoint.to_string(), contact)
                      : endpoint.to_string();
        {
          std::lock_guard lock(st->mu);
          st->addr = endpoint.to_string();
        }
        client::EventCallback events =
            [weak = std::weak_ptr<ControlConnection::State>(st),
             debounce = opts.topology_event_debounce](const protocol::EventMessage& e) {
              on_topology_event(weak, e, debounce);
            };
        // Start at CONTROL_CONN_MAX_PROTOCOL_VERSION and step down on each refusal, so the
        // cluster settles on min(setting, what it speaks).
        const auto versions =
            control_versions_from(opts.max_version.value_or(protocol::ProtocolVersion::DseV2));
        client::ClientResult<std::shared_ptr<client::Connection>> conn =
            client::client_fail(client::ClientErrc::Connect, "not tried", false);
        for (size_t vi = 0; vi < versions.size(); ++vi) {
          co.protocol_version = versions[vi];
          conn = co_await client::Connection::connect(endpoint, co, tls, events);
          if (conn || !is_version_refusal(conn.error()) || vi + 1 == versions.size()) break;
          spdlog::debug("{} control connection to {}: protocol {} refused, trying {}", name, where,
                        protocol::protocol_version_name(versions[vi]),
                        protocol::protocol_version_name(versions[vi + 1]));
        }
        if (conn) {
          st->conn = *conn;
          view = co_await discover(**conn, opts, contact);
          if (view && astra) route_through_sni_proxy(**view, route);
        } else {
          std::string message = conn.error().to_string();
          // A refused handshake is explained by a second one of our own (a timed-out one is a
          // Connect error, not tried twice: the timeout applies once).
          if (tls && conn.error().kind == client::ClientErrc::TlsHandshake) {
            UpstreamTls probe_tls = opts.tls;
            std::string probe_host = endpoint.host;
            std::string probe_sni = co.tls.server_name;
            auto explained = co_await explain_tls_failure(probe_tls, probe_host, endpoint.port,
                                                          probe_sni, opts.connect_timeout);
            if (!explained.empty()) message = std::move(explained);
          }
          view = fail(Errc::Io, std::move(message));
        }
        if (!view && tls && st->conn) {
          // Discovery failed on an open connection: a TLS 1.3 refusal of our certificate.
          view =
              fail(Errc::Io, explain_tls_alert(view.error().message, st->conn->tls_alert(), name));
        }
        if (view) {
          start_at = index + 1;
          break;
        }
        spdlog::warn("{} control connection to {} failed: {}{}", name, where, view.error().message,
                     tried + 1 < candidates.size() ? "; trying the next node" : "");
        if (st->conn) st->conn->close("discovery failed");
        st->conn.reset();
      }
    }
    if (st->stopped) break;
    if (!view) {
      ++st->failures;
      start_at = 0;
      {
        std::lock_guard lock(st->mu);
        st->last_error = view.error().message;
      }
      spdlog::warn(
          "{} control connection: no node answered ({} round(s) in a row; last: {}: {}); "
          "retrying in {} ms",
          name, st->failures.load(), where, view.error().message, backoff.count());
      if (st->conn) st->conn->close("discovery failed");
      st->conn.reset();
      // As the reference: after a failed open, ask the metadata service again.
      if (opts.astra) need_metadata = true;
      co_await wait(backoff);
      backoff =
          std::min(opts.retry_max,
                   std::chrono::milliseconds(static_cast<int64_t>(
                       static_cast<double>(backoff.count()) * std::max(1.0, opts.retry_factor))));
      continue;
    }
    backoff = opts.retry_min;
    st->failures = 0;
    discovered.clear();
    for (const auto& n : (*view)->nodes) discovered.push_back(n.address);
    // A closed connection (node gone) wakes the heartbeat loop at once instead of at the next
    // heartbeat.
    st->conn->set_close_callback(
        [weak = std::weak_ptr<ControlConnection::State>(st)](const client::ClientError&) {
          if (auto s = weak.lock()) s->timer.cancel();
        });
    std::shared_ptr<const ClusterView> snapshot = *view;
    {
      std::lock_guard lock(st->mu);
      st->view = snapshot;
      st->last_error.clear();
    }
    spdlog::info(
        "{} control connection to {} (protocol {}): {} node(s) in datacenter '{}', {} "
        "assigned to this proxy",
        name, snapshot->contact, protocol::protocol_version_name(snapshot->version),
        snapshot->nodes.size(), snapshot->local.datacenter, snapshot->assigned.size());
    if (on_view) on_view(snapshot);
    // Heartbeats and topology refreshes until one fails, then reconnect.
    co_await watch_connection(st, opts, contact, snapshot, on_view);
    if (st->conn) st->conn->close("reconnecting");
    st->conn.reset();
  }
}

}  // namespace

}  // namespace zdm::proxy
