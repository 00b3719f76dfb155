#include "proxy/session/client_session.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/message_codec.hpp"
#include "protocol/peek.hpp"
#include "proxy/cluster/version_policy.hpp"
#include "proxy/session/session_internal.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using namespace session_detail;

namespace {

std::vector<std::string> split_compressions(const protocol::SupportedMessage& s) {
  for (const auto& [key, values] : s.options) {
    if (key == "COMPRESSION") return values;
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SessionContext

SessionContext::SessionContext(ProxyConfig config, ProxyMetrics* metrics, PreparedCache* prepared)
    : config_(std::make_shared<const ProxyConfig>(std::move(config))),
      metrics_(metrics),
      prepared_(prepared),
      routing_(RoutingSnapshot::from_config(*config_)) {}

std::shared_ptr<const ProxyConfig> SessionContext::config() const {
  std::lock_guard lock(config_mu_);
  return config_;
}

uint64_t SessionContext::apply_config(std::shared_ptr<const ProxyConfig> next) {
  {
    std::lock_guard lock(config_mu_);
    config_ = next;
  }
  return routing_.update([&](RoutingSnapshot& s) {
    auto topology = std::move(s.topology);
    s = RoutingSnapshot::from_config(*next);
    s.topology = std::move(topology);
  });
}

void SessionContext::set_view(ClusterType cluster, std::shared_ptr<const ClusterView> view) {
  std::lock_guard lock(mu_);
  (cluster == ClusterType::Origin ? origin_view_ : target_view_) = std::move(view);
}

std::shared_ptr<const ClusterView> SessionContext::view(ClusterType cluster) const {
  std::lock_guard lock(mu_);
  return cluster == ClusterType::Origin ? origin_view_ : target_view_;
}

void SessionContext::set_topology(std::shared_ptr<const VirtualTopology> topology) {
  routing_.update([&](RoutingSnapshot& s) { s.topology = std::move(topology); });
}

std::shared_ptr<const VirtualTopology> SessionContext::topology() const {
  return routing_.current()->topology;
}

const NodeMetrics* SessionContext::node_metrics(UpstreamRole role, const std::string& node) {
  if (!metrics_) return nullptr;
  const std::string key = fmt::format("{}/{}", upstream_role_name(role), node);
  std::lock_guard lock(mu_);
  auto& slot = node_metrics_[key];
  if (!slot) {
    const auto& families = role == UpstreamRole::Origin   ? metrics_->origin
                           : role == UpstreamRole::Target ? metrics_->target
                                                          : metrics_->async;
    slot = std::make_unique<NodeMetrics>(bind_node(families, node));
  }
  return slot.get();
}

size_t SessionContext::next_node_index(ClusterType cluster) {
  auto& counter = cluster == ClusterType::Origin ? next_origin_ : next_target_;
  return counter.fetch_add(1, std::memory_order_relaxed);
}

void SessionContext::connect(asio::any_io_executor executor, ClusterType cluster,
                             const ClusterNode& node, std::chrono::milliseconds timeout,
                             StreamCallback done) const {
  if (connector_) return connector_(std::move(executor), cluster, node, std::move(done));
  connect_stream(std::move(executor), node.address, node.port, tls(cluster), node.sni, timeout,
                 std::move(done));
}

ProtocolVersion SessionContext::max_version() const {
  auto o = view(ClusterType::Origin);
  auto t = view(ClusterType::Target);
  return max_client_version(o.get(), t.get(), *config());
}

protocol::SupportedMessage SessionContext::supported() const {
  auto o = view(ClusterType::Origin);
  auto t = view(ClusterType::Target);
  protocol::SupportedMessage out;
  if (t)
    out = t->supported;
  else if (o)
    out = o->supported;
  if (o && t) {
    const auto a = split_compressions(o->supported);
    const auto b = split_compressions(t->supported);
    std::vector<std::string> both;
    for (const auto& c : a) {
      if (std::find(b.begin(), b.end(), c) != b.end()) both.push_back(c);
    }
    bool found = false;
    for (auto& [key, values] : out.options) {
      if (key == "COMPRESSION") {
        values = both;
        found = true;
      }
    }
    if (!found && !both.empty()) out.options.emplace_back("COMPRESSION", both);
  }
  if (out.options.empty()) {
    out.options.emplace_back("CQL_VERSION", std::vector<std::string>{"3.4.5"});
    out.options.emplace_back("PROTOCOL_VERSIONS", std::vector<std::string>{"3/v3", "4/v4", "5/v5"});
  }
  return out;
}

void SessionContext::mark_node_down(const std::string& label) {
  std::lock_guard lock(down_mu_);
  down_until_[label] = Clock::now() + std::chrono::seconds(10);
}

bool SessionContext::node_recently_down(const std::string& label) const {
  std::lock_guard lock(down_mu_);
  auto it = down_until_.find(label);
  return it != down_until_.end() && it->second > Clock::now();
}

void SessionContext::register_session(const std::shared_ptr<ClientSession>& session,
                                      std::shared_ptr<const ClientInfo> info) {
  std::lock_guard lock(sessions_mu_);
  open_sessions_[session.get()] = OpenSession{session, std::move(info)};
}

std::vector<ClientSnapshot> SessionContext::clients() const {
  std::vector<ClientSnapshot> out;
  {
    std::lock_guard lock(sessions_mu_);
    out.reserve(open_sessions_.size());
    for (const auto& [key, open] : open_sessions_) {
      if (open.info) out.push_back(open.info->snapshot());
    }
  }
  std::sort(out.begin(), out.end(), [](const ClientSnapshot& a, const ClientSnapshot& b) {
    return a.connected_at < b.connected_at;
  });
  return out;
}

void SessionContext::unregister_session(const ClientSession* session) {
  std::lock_guard lock(sessions_mu_);
  open_sessions_.erase(session);
}

void SessionContext::begin_drain() {
  draining_.store(true);
  std::vector<std::shared_ptr<ClientSession>> open;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [key, entry] : open_sessions_) {
      if (auto session = entry.session.lock()) open.push_back(std::move(session));
    }
  }
  // Moved into the handlers: the last reference must not be dropped on this (foreign) thread.
  for (auto& session : open) {
    auto executor = session->executor();
    asio::post(executor, [s = std::move(session)] { s->begin_drain(); });
  }
}

// ---------------------------------------------------------------------------------------------
// ClientSession: lifecycle

ClientSession::ClientSession(net::Stream stream, SessionContext& context,
                             net::FramedConnectionOptions options)
    : FramedConnection(std::move(stream), net::ConnectionRole::Server, options),
      ctx_(context),
      config_holder_(context.config()),
      config_(*config_holder_),
      deadline_timer_(executor()),
      handshake_timer_(executor()) {
  origin_.cluster = ClusterType::Origin;
  target_.cluster = ClusterType::Target;
  routing_ = context.routing().current();
  routing_generation_ = routing_->generation;
  compare_rng_ ^= reinterpret_cast<uintptr_t>(this);
  if (compare_rng_ == 0) compare_rng_ = 1;  // xorshift's one stuck state
}

ClientSession::~ClientSession() {
  ctx_.unregister_session(this);
  // Normally on_closed() already did this; not when the io_context is stopped with work pending.
  for (Leg* leg : {&origin_, &target_}) {
    if (leg->conn) leg->conn->detach();
  }
}

void ClientSession::open() {
  ctx_.sessions.fetch_add(1, std::memory_order_relaxed);
  counted_ = true;
  if (auto* m = ctx_.metrics(); m && m->client_connections) m->client_connections->inc();
  boost::system::error_code ec;
  const auto peer = stream().socket().remote_endpoint(ec);
  info_ = std::make_shared<ClientInfo>(
      ec ? std::string("?") : fmt::format("{}:{}", peer.address().to_string(), peer.port()));
  ctx_.register_session(std::static_pointer_cast<ClientSession>(shared_from_this()), info_);
  start();
  if (ctx_.draining()) begin_drain();  // accepted while the proxy began shutting down
}

void ClientSession::begin_drain() {
  if (draining_ || is_closed()) return;
  draining_ = true;
  if (phase_ != Phase::Ready) return fail_session("proxy shutting down");
  schedule_client_flush();  // closes the session at once when nothing is in flight
}

bool ClientSession::should_pause_reading() {
  if (upstream_backlog() <= kUpstreamBacklogBytes) return false;
  if (!upstream_paused_) {
    upstream_paused_ = true;
    ++stats_.upstream_pauses;
    spdlog::debug("client reads paused: {} bytes queued for a slow node", upstream_backlog());
  }
  return true;
}

size_t ClientSession::upstream_backlog() const {
  size_t most = 0;
  for (const Leg* leg : {&origin_, &target_}) {
    if (leg->conn) most = std::max(most, leg->conn->queued_bytes());
  }
  return most;
}

void ClientSession::on_upstream_written(UpstreamConnection&) {
  if (!upstream_paused_ || upstream_backlog() > kUpstreamBacklogBytes / 2) return;
  upstream_paused_ = false;
  resume_reading();
}

void ClientSession::on_closed() {
  deadline_timer_.cancel();
  handshake_timer_.cancel();
  ctx_.unregister_session(this);
  for (Leg* leg : {&origin_, &target_}) {
    if (leg->conn) leg->conn->detach();
    leg->conn.reset();
  }
  if (async_) async_->close();
  // Requests still waiting: their in-flight gauges go back down.
  for (auto& s : slots_) {
    if (!s.in_use || !s.track_metrics) continue;
    if (auto* m = ctx_.metrics()) {
      auto* g = !s.is_read                                              ? m->inflight_writes
                : (s.pending & kTargetBit) && !(s.pending & kOriginBit) ? m->inflight_reads_target
                                                                        : m->inflight_reads_origin;
      if (g) g->dec();
    }
    s.in_use = false;
  }
  if (counted_) {
    counted_ = false;
    ctx_.sessions.fetch_sub(1, std::memory_order_relaxed);
    if (auto* m = ctx_.metrics(); m && m->client_connections) m->client_connections->dec();
  }
}

void ClientSession::fail_session(std::string reason) {
  spdlog::info("closing client session: {}", reason);
  phase_ = Phase::Failed;
  close_after_flush();
}

ClientSession::Leg& ClientSession::leg_of(const UpstreamConnection& c) {
  return c.role() == UpstreamRole::Origin ? origin_ : target_;
}

UpstreamConnection* ClientSession::upstream(ClusterType cluster) {
  return cluster == ClusterType::Origin ? origin_.conn.get() : target_.conn.get();
}

bool ClientSession::on_first_bytes(ByteView prefix) {
  const uint8_t raw = protocol::peek_raw_version_byte(prefix.data());
  if (auto known = protocol::protocol_version_from_byte(raw)) {
    // Errors before the first whole frame (bad length, unknown opcode) answer in this version.
    version_ = *known;
    return true;
  }
  // A version our decoder does not know (v1, v2, v6, garbage, an HTTP request...): answer in one
  // the client can read, on stream 0 as Cassandra does (the stream bytes of an unknown version
  // mean nothing; gocql needs 0 to step down), then close.
  // Rank of the unknown byte: v1/v2 below everything, v6 above v5, unknown DSE above DSE_V2.
  const int rank = raw >= 0x40 ? 16 : static_cast<int>(raw);
  const auto max = ctx_.max_version();
  const auto v = refusal_answer_version(rank, max, config_);
  protocol::ErrorMessage e;
  e.code = ErrorCode::ProtocolError;
  e.message = fmt::format(
      "Invalid or unsupported protocol version ({}); supported versions are "
      "({})",
      raw, served_versions_text(max, config_));
  version_ = v;
  spdlog::debug("client sent protocol version byte {}: closing", raw);
  (void)send(
      protocol::make_response(v, protocol::StreamId{0}, protocol::ResponseBody(std::move(e))));
  close_after_flush();
  return false;
}

void ClientSession::on_framing_error(const Error& error) {
  // The header could not be trusted (version, opcode, length) or a v5 segment failed its CRC:
  // stream 0, as Cassandra; FramedConnection closes after this is flushed.
  spdlog::debug("client framing lost: {}", error.to_string());
  answer_error(0, ErrorCode::ProtocolError, error.message);
}

void ClientSession::reject_and_close(int16_t stream, std::string message) {
  spdlog::debug("client protocol violation: {}", message);
  answer_error(stream, ErrorCode::ProtocolError, std::move(message));
  phase_ = Phase::Failed;
  close_after_flush();
}

// ---------------------------------------------------------------------------------------------
// Client frames

void ClientSession::on_frame(const protocol::Frame& frame) {
  const auto& h = frame.header;
  if (h.direction != protocol::Direction::Request) {
    return reject_and_close(h.stream.value,
                            "Wrong protocol direction (expected a request frame, "
                            "got a response frame)");
  }
  if (phase_ != Phase::AwaitStartup && h.version != version_) {
    return reject_and_close(
        h.stream.value,
        fmt::format("Invalid message version. Got {} but previous messages on this connection "
                    "had version {}",
                    protocol::protocol_version_name(h.version),
                    protocol::protocol_version_name(version_)));
  }
  switch (phase_) {
    case Phase::Ready:
      handle_request(frame);
      return;
    case Phase::AwaitStartup:
      version_ = h.version;
      if (h.opcode == Opcode::Options) return answer_options(frame);
      if (h.opcode == Opcode::Startup) return handle_startup(frame);
      answer_error(h.stream.value, ErrorCode::ProtocolError,
                   fmt::format("Unexpected message {}, expecting STARTUP or OPTIONS",
                               protocol::opcode_name(h.opcode)));
      return;
    case Phase::Connecting:
    case Phase::Handshake:
      if (h.opcode == Opcode::Options) return answer_options(frame);
      if (h.opcode == Opcode::AuthResponse && relay_ && relay_->expects_client_auth()) {
        return handle_client_auth_response(frame);
      }
      answer_error(h.stream.value, ErrorCode::ProtocolError,
                   fmt::format("Unexpected message {} during the handshake",
                               protocol::opcode_name(h.opcode)));
      return;
    case Phase::Failed:
      // The handshake failed (refused version, bad credentials) or the client broke the
      // protocol, and the client was told; it gets an answer rather than silence until the
      // connection is closed.
      answer_error(h.stream.value, ErrorCode::ProtocolError,
                   "this connection failed (see the previous error); open a new connection");
      return;
  }
}

void ClientSession::answer_error(int16_t stream, ErrorCode code, std::string message) {
  protocol::ErrorMessage e;
  e.code = code;
  e.message = std::move(message);
  (void)send(protocol::make_response(version_, protocol::StreamId{stream},
                                     protocol::ResponseBody(std::move(e))));
  schedule_client_flush();
}

void ClientSession::answer_unprepared(int16_t stream, ByteView id) {
  protocol::ErrorMessage e;
  e.code = ErrorCode::Unprepared;
  e.message = "Prepared query with ID " + to_hex(id) +
              " not found (either the query was not "
              "prepared on this host (maybe the host has been restarted?) or you have prepared "
              "too many queries and it has been evicted from the internal cache)";
  e.detail = protocol::UnpreparedInfo{Bytes(id.begin(), id.end())};
  (void)send(protocol::make_response(version_, protocol::StreamId{stream},
                                     protocol::ResponseBody(std::move(e))));
  ++stats_.local_answers;
  schedule_client_flush();
}

void ClientSession::answer_locally(const protocol::Frame& frame,
                                   const protocol::ResponseBody& body) {
  (void)send(protocol::make_response(version_, frame.header.stream, body));
  ++stats_.local_answers;
  schedule_client_flush();
}

// Versions both clusters cannot speak, or blocked ones, get Cassandra's error (answered in the
// highest version we serve below the refused one: refusal_answer_version) so the driver steps
// down. True when the frame was answered so.
bool ClientSession::reject_unsupported_version(const protocol::Frame& frame) {
  const auto v = frame.header.version;
  const auto max = ctx_.max_version();
  if (serves_version(v, max, config_)) return false;
  // Stream 0, as Cassandra and the reference proxy answer a version they refuse (gocql reads the
  // error only there); the Python and Java drivers send their first frame on stream 0 anyway.
  version_ = refusal_answer_version(version_rank(v), max, config_);
  answer_error(
      0, ErrorCode::ProtocolError,
      fmt::format("Invalid or unsupported protocol version ({}); supported versions "
                  "are ({})",
                  static_cast<int>(protocol::version_byte(v)), served_versions_text(max, config_)));
  version_ = v;
  return true;
}

void ClientSession::answer_options(const protocol::Frame& frame) {
  if (reject_unsupported_version(frame)) return;
  answer_locally(frame, protocol::ResponseBody(ctx_.supported()));
}

}  // namespace zdm::proxy
