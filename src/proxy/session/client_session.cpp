#include "proxy/session/client_session.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/message_codec.hpp"
#include "protocol/peek.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using Clock = std::chrono::steady_clock;

namespace {

// Owner values of upstream stream ids that are not client requests.
constexpr uint32_t kHandshakeOwner = 0xFFFF0000u;
constexpr uint32_t kHeartbeatOwner = 0xFFFF0001u;

constexpr uint8_t kOriginBit = 1;
constexpr uint8_t kTargetBit = 2;

// A session stops reading its client while an upstream connection has more than this queued
// (a slow or stalled node), and resumes below half of it.
constexpr size_t kUpstreamBacklogBytes = 4 * 1024 * 1024;

uint8_t bit_of(ClusterType c) { return c == ClusterType::Origin ? kOriginBit : kTargetBit; }

// Protocol versions ordered by capability within their family.
int version_rank(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::V3:
      return 3;
    case ProtocolVersion::V4:
      return 4;
    case ProtocolVersion::V5:
      return 5;
    case ProtocolVersion::DseV1:
      return 14;
    case ProtocolVersion::DseV2:
      return 15;
  }
  return 0;
}
bool is_dse(ProtocolVersion v) {
  return v == ProtocolVersion::DseV1 || v == ProtocolVersion::DseV2;
}

// The highest non-DSE version a cluster speaks: for a cluster on a DSE version, what its
// SUPPORTED lists, else v4 (every DSE with DSE_V1 speaks v4; its v5, if any, is a beta).
ProtocolVersion highest_oss_version(const ClusterView& view) {
  if (!is_dse(view.client_version)) return view.client_version;
  return highest_listed_version(view.supported, false).value_or(ProtocolVersion::V4);
}

// "3/v3, 4/v4, 5/v5" (up to `max`, blocked ones left out), for version refusals.
std::string served_versions_text(ProtocolVersion max, const ProxyConfig& config) {
  std::string served;
  for (auto candidate : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5,
                         ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    const bool fits = is_dse(max)
                          ? version_rank(candidate) <= version_rank(max)
                          : !is_dse(candidate) && version_rank(candidate) <= version_rank(max);
    if (!fits || config.is_blocked(candidate)) continue;
    if (!served.empty()) served += ", ";
    served += is_dse(candidate) ? fmt::format("{}/dse-v{}", protocol::version_byte(candidate),
                                              candidate == ProtocolVersion::DseV1 ? 1 : 2)
                                : fmt::format("{}/v{}", protocol::version_byte(candidate),
                                              protocol::version_byte(candidate));
  }
  return served;
}

// The version a refusal of `requested_rank` is answered in. Drivers read the answer's frame
// version as the server's suggestion (the Node.js driver and gocql retry with it; a version they
// do not know makes the Node.js driver step down one from it), so answer in the highest version
// we serve below the refused one, as Cassandra's "highest supported" is for a too-high version.
// A blocked version in the middle (e.g. v4 blocked, v3 and v5 served) then leads to v3 instead
// of a retry loop on v4. None below: the highest served; none served at all: `max`.
ProtocolVersion refusal_answer_version(int requested_rank, ProtocolVersion max,
                                       const ProxyConfig& config) {
  std::optional<ProtocolVersion> below;
  std::optional<ProtocolVersion> highest;
  for (auto candidate : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5,
                         ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    const bool fits =
        version_rank(candidate) <= version_rank(max) && (is_dse(max) || !is_dse(candidate));
    if (!fits || config.is_blocked(candidate)) continue;
    highest = candidate;
    if (version_rank(candidate) < requested_rank) below = candidate;
  }
  return below.value_or(highest.value_or(max));
}

std::vector<std::string> split_compressions(const protocol::SupportedMessage& s) {
  for (const auto& [key, values] : s.options) {
    if (key == "COMPRESSION") return values;
  }
  return {};
}

protocol::Compression compression_from_name(std::string_view name) {
  if (protocol::iequals(name, "lz4")) return protocol::Compression::Lz4;
  if (protocol::iequals(name, "snappy")) return protocol::Compression::Snappy;
  return protocol::Compression::None;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SessionContext

SessionContext::SessionContext(ProxyConfig config, ProxyMetrics* metrics, PreparedCache* prepared)
    : config_(std::move(config)),
      metrics_(metrics),
      prepared_(prepared),
      routing_(RoutingSnapshot::from_config(config_)) {}

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
  ProtocolVersion v = ProtocolVersion::V5;
  if (o && t) {
    // DSE versions only when both clusters speak one; otherwise the best v3..v5 of both.
    const bool both_dse = is_dse(o->client_version) && is_dse(t->client_version);
    const ProtocolVersion a = both_dse ? o->client_version : highest_oss_version(*o);
    const ProtocolVersion b = both_dse ? t->client_version : highest_oss_version(*t);
    v = version_rank(a) <= version_rank(b) ? a : b;
  } else if (o) {
    v = o->client_version;
  } else if (t) {
    v = t->client_version;
  }
  // Blocked versions make drivers step down (ZDM_BLOCKED_PROTOCOL_VERSIONS).
  while (config_.is_blocked(v) && v != ProtocolVersion::V3) {
    v = v == ProtocolVersion::DseV2   ? ProtocolVersion::DseV1
        : v == ProtocolVersion::DseV1 ? ProtocolVersion::V5
        : v == ProtocolVersion::V5    ? ProtocolVersion::V4
                                      : ProtocolVersion::V3;
  }
  return v;
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

void SessionContext::register_session(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(sessions_mu_);
  open_sessions_[session.get()] = session;
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
    for (auto& [key, weak] : open_sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
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
      config_(context.config()),
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
  ctx_.register_session(std::static_pointer_cast<ClientSession>(shared_from_this()));
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
      if (h.opcode == Opcode::AuthResponse && auth_primary_) {
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
  const bool ok =
      !config_.is_blocked(v) && (is_dse(max) ? version_rank(v) <= version_rank(max)
                                             : !is_dse(v) && version_rank(v) <= version_rank(max));
  if (ok) return false;
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

// ---------------------------------------------------------------------------------------------
// Handshake

void ClientSession::handle_startup(const protocol::Frame& frame) {
  if (reject_unsupported_version(frame)) return;
  auto message = protocol::decode_message(frame.header, frame.body);
  if (!message) {
    answer_error(frame.header.stream.value, ErrorCode::ProtocolError, message.error().message);
    return;
  }
  const auto& startup =
      std::get<protocol::StartupMessage>(std::get<protocol::RequestBody>(message->body));
  for (const auto& [key, value] : startup.options) {
    if (key == "COMPRESSION") compression_ = compression_from_name(value);
  }
  if (!ctx_.view(ClusterType::Origin) || !ctx_.view(ClusterType::Target)) {
    answer_error(frame.header.stream.value, ErrorCode::ServerError,
                 "the proxy is not connected to both clusters yet; retry shortly");
    return;
  }
  version_ = frame.header.version;
  handshake_stream_ = frame.header.stream.value;
  startup_frame_.assign(frame.wire.begin(), frame.wire.end());
  if (!protocol::uses_segments(version_) && compression_ != protocol::Compression::None) {
    enable_compression(compression_);
  }
  phase_ = Phase::Connecting;
  origin_.first_node = ctx_.next_node_index(ClusterType::Origin);
  target_.first_node = ctx_.next_node_index(ClusterType::Target);
  connect_leg(origin_);
  connect_leg(target_);
}

void ClientSession::connect_leg(Leg& leg) {
  auto view = ctx_.view(leg.cluster);
  if (!view || view->assigned.empty()) {
    leg.state = LegState::Failed;
    answer_error(handshake_stream_, ErrorCode::ServerError,
                 fmt::format("no {} node available", cluster_type_name(leg.cluster)));
    fail_session("no node available");
    return;
  }
  const auto& nodes = view->assigned;
  const auto index = next_candidate(leg, nodes);
  if (!index) {
    leg.state = LegState::Failed;
    answer_error(handshake_stream_, ErrorCode::ServerError,
                 fmt::format("cannot connect to any {} node: {}", cluster_type_name(leg.cluster),
                             leg.last_error));
    fail_session("upstream unreachable");
    return;
  }
  const ClusterNode node = nodes[*index];
  ++leg.attempts;
  leg.state = LegState::Connecting;
  const bool origin = leg.cluster == ClusterType::Origin;
  const auto timeout = std::chrono::milliseconds(origin ? config_.origin_connection_timeout_ms
                                                        : config_.target_connection_timeout_ms);
  auto self = std::static_pointer_cast<ClientSession>(shared_from_this());
  const ClusterType cluster = leg.cluster;
  ctx_.connect(
      executor(), cluster, node, timeout, [self, cluster, node](Result<net::Stream> stream) {
        Leg& l = cluster == ClusterType::Origin ? self->origin_ : self->target_;
        if (self->is_closed() || self->phase_ == Phase::Failed) {
          if (stream) stream->close();
          return;
        }
        const auto role =
            cluster == ClusterType::Origin ? UpstreamRole::Origin : UpstreamRole::Target;
        const auto* nm = self->ctx_.node_metrics(role, node.label());
        if (!stream) {
          if (nm && nm->failed_connections) nm->failed_connections->inc();
          if (auto* m = self->ctx_.metrics()) {
            auto* c = cluster == ClusterType::Origin ? m->failed_connections_origin
                                                     : m->failed_connections_target;
            if (c) c->inc();
          }
          spdlog::warn("{} node {} unreachable: {}", cluster_type_name(cluster), node.label(),
                       stream.error().message);
          self->ctx_.mark_node_down(node.label());
          l.last_error = stream.error().message;
          // The reference fails the client here; we try the next node (or fail when none is left).
          self->connect_leg(l);
          return;
        }
        const int ids = static_cast<int>(
            std::clamp<int64_t>(self->config_.proxy_max_stream_ids, 1, kMaxProtocolStreamIds));
        l.conn =
            std::make_shared<UpstreamConnection>(std::move(*stream), role, node.label(), ids, nm);
        l.conn->attach(self.get());
        self->on_leg_connected(l);
      });
}

void ClientSession::on_leg_connected(Leg& leg) { send_startup(leg); }

std::optional<size_t> ClientSession::next_candidate(Leg& leg,
                                                    const std::vector<ClusterNode>& nodes) {
  const size_t n = std::min<size_t>(nodes.size(), 64);
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t p = 0; p < n; ++p) {
      if (leg.tried & (uint64_t{1} << p)) continue;
      const size_t i = (leg.first_node + p) % nodes.size();
      if (pass == 0 && ctx_.node_recently_down(nodes[i].label())) continue;
      leg.tried |= uint64_t{1} << p;
      return i;
    }
  }
  return std::nullopt;
}

void ClientSession::arm_handshake_timer() {
  auto earliest = Clock::time_point::max();
  for (const Leg* leg : {&origin_, &target_}) {
    if (leg->state == LegState::StartupSent) earliest = std::min(earliest, leg->startup_deadline);
  }
  if (earliest == Clock::time_point::max() || is_closed()) return;
  handshake_timer_.expires_at(earliest);
  handshake_timer_.async_wait([self = std::static_pointer_cast<ClientSession>(shared_from_this())](
                                  boost::system::error_code ec) {
    if (ec || self->is_closed()) return;
    self->on_handshake_timeout();
  });
}

// A node that accepts connections but never answers (a hung process: the kernel still completes
// TCP handshakes) is treated like an unreachable one: the leg moves on to the next assigned node.
void ClientSession::on_handshake_timeout() {
  if (phase_ == Phase::Ready || phase_ == Phase::Failed) return;
  const auto now = Clock::now();
  for (Leg* leg : {&origin_, &target_}) {
    if (leg->state != LegState::StartupSent || leg->startup_deadline > now) continue;
    const std::string node = leg->conn ? leg->conn->node() : std::string("?");
    if (auto* m = ctx_.metrics()) {
      auto* c = leg->cluster == ClusterType::Origin ? m->failed_connections_origin
                                                    : m->failed_connections_target;
      if (c) c->inc();
    }
    if (const auto* nm = leg->conn ? leg->conn->metrics() : nullptr; nm && nm->failed_connections) {
      nm->failed_connections->inc();
    }
    if (leg->conn) {
      ctx_.mark_node_down(leg->conn->node());
      leg->conn->detach();
      leg->conn.reset();
    }
    spdlog::warn(
        "{} node {} did not answer STARTUP in time (connection timeout); trying the "
        "next node if any",
        cluster_type_name(leg->cluster), node);
    leg->last_error = fmt::format("node {} did not answer STARTUP in time", node);
    connect_leg(*leg);
    if (phase_ == Phase::Failed || is_closed()) return;
  }
  arm_handshake_timer();
}

void ClientSession::send_startup(Leg& leg) {
  auto id = leg.conn->ids().acquire(kHandshakeOwner);
  if (!id) return fail_session("no stream id for STARTUP");
  Bytes copy = startup_frame_;
  (void)leg.conn->forward(copy, *id);
  if (!protocol::uses_segments(version_) && compression_ != protocol::Compression::None) {
    leg.conn->enable_compression(compression_);
  }
  leg.state = LegState::StartupSent;
  leg.startup_deadline =
      Clock::now() + std::chrono::milliseconds(leg.cluster == ClusterType::Origin
                                                   ? config_.origin_connection_timeout_ms
                                                   : config_.target_connection_timeout_ms);
  arm_handshake_timer();
  leg.conn->schedule_flush();
  if (origin_.state == LegState::StartupSent && target_.state == LegState::StartupSent) {
    phase_ = Phase::Handshake;
  }
}

void ClientSession::on_handshake_frame(Leg& leg, const protocol::Frame& frame) {
  const Opcode op = frame.header.opcode;
  if (leg.state == LegState::StartupSent) {
    leg.held.assign(frame.wire.begin(), frame.wire.end());
    leg.held_opcode = op;
    leg.state = op == Opcode::Ready          ? LegState::Ready
                : op == Opcode::Authenticate ? LegState::AuthPrimary
                                             : LegState::Failed;
    if (op == Opcode::Authenticate) {
      // DseAuthenticator wants the SASL mechanism name before the PLAIN token.
      auto msg = protocol::decode_message(frame.header, frame.body);
      if (msg) {
        const auto* body = std::get_if<protocol::ResponseBody>(&msg->body);
        const auto* a = body ? std::get_if<protocol::AuthenticateMessage>(body) : nullptr;
        leg.dse_authenticator = a && a->authenticator.find("DseAuthenticator") != std::string::npos;
      }
    }
    if ((op == Opcode::Ready || op == Opcode::Authenticate) && protocol::uses_segments(version_)) {
      const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                                : protocol::Compression::None;
      if (auto ok = leg.conn->enable_segments(c); !ok) return fail_session(ok.error().message);
    }
    const bool origin_answered =
        origin_.state != LegState::StartupSent && origin_.state != LegState::Connecting;
    const bool target_answered =
        target_.state != LegState::StartupSent && target_.state != LegState::Connecting;
    if (origin_answered && target_answered) on_startup_answers();
    return;
  }
  if (&leg == auth_primary_) {
    switch (op) {
      case Opcode::AuthChallenge:
        send_to_client(frame.wire, handshake_stream_);
        return;
      case Opcode::AuthSuccess:
        leg.state = LegState::Ready;
        leg.held.assign(frame.wire.begin(), frame.wire.end());
        leg.held_opcode = op;
        finish_auth_if_done();
        return;
      default:
        leg.state = LegState::Failed;
        send_to_client(frame.wire, handshake_stream_);
        phase_ = Phase::Failed;
        return;
    }
  }
  if (&leg == auth_secondary_) {
    switch (op) {
      case Opcode::AuthSuccess:
      case Opcode::Ready:
        leg.state = LegState::Ready;
        finish_auth_if_done();
        return;
      case Opcode::AuthChallenge: {
        auto msg = protocol::decode_message(frame.header, frame.body);
        std::optional<ByteView> token;
        if (msg) {
          const auto& c =
              std::get<protocol::AuthChallengeMessage>(std::get<protocol::ResponseBody>(msg->body));
          if (c.token) token = ByteView(*c.token);
        }
        send_plain_credentials(leg, token);
        return;
      }
      default:
        spdlog::warn("{} rejected the proxy's credentials", cluster_type_name(leg.cluster));
        leg.state = LegState::Failed;
        leg.held.assign(frame.wire.begin(), frame.wire.end());
        leg.held_opcode = op;
        finish_auth_if_done();
        return;
    }
  }
}

void ClientSession::on_startup_answers() {
  // A refusal (typically a protocol version one cluster does not speak) goes to the client
  // unchanged so the driver steps down; origin's first.
  for (Leg* leg : {&origin_, &target_}) {
    if (leg->held_opcode == Opcode::Error || leg->state == LegState::Failed) {
      send_to_client(leg->held, handshake_stream_);
      phase_ = Phase::Failed;
      return;
    }
  }
  const bool origin_auth = origin_.held_opcode == Opcode::Authenticate;
  const bool target_auth = target_.held_opcode == Opcode::Authenticate;
  if (!origin_auth && !target_auth) {
    Leg& primary = routing().primary_cluster == ClusterType::Origin ? origin_ : target_;
    send_to_client(primary.held, handshake_stream_);
    become_ready();
    return;
  }
  if (origin_auth && target_auth) {
    // Both authenticate: client credentials go to one cluster (target by default, as the
    // reference), the proxy logs in to the other with the configured credentials.
    const bool to_origin = config_.forward_client_credentials_to_origin;
    auth_primary_ = to_origin ? &origin_ : &target_;
    auth_secondary_ = to_origin ? &target_ : &origin_;
    auth_secondary_->state = LegState::AuthSecondary;
    start_secondary_auth(*auth_secondary_);
  } else {
    auth_primary_ = origin_auth ? &origin_ : &target_;
  }
  auth_to_target_ = auth_primary_ == &target_;
  auth_primary_->state = LegState::AuthPrimary;
  phase_ = Phase::Handshake;
  send_to_client(auth_primary_->held, handshake_stream_);
  if (protocol::uses_segments(version_) && !segments_enabled()) {
    const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                              : protocol::Compression::None;
    if (auto ok = enable_segments(c); !ok) fail_session(ok.error().message);
  }
}

void ClientSession::start_secondary_auth(Leg& leg) {
  const bool origin = leg.cluster == ClusterType::Origin;
  const std::string& user = origin ? config_.origin_username : config_.target_username;
  if (user.empty()) return;  // no configured credentials: reuse the client's once it sends them
  send_plain_credentials(leg, std::nullopt);
}

void ClientSession::fail_proxy_login(Leg& leg, std::string message) {
  leg.state = LegState::Failed;
  protocol::ErrorMessage e;
  e.code = ErrorCode::BadCredentials;
  e.message = std::move(message);
  leg.held = protocol::encode_frame(protocol::make_response(
      version_, protocol::StreamId{handshake_stream_}, protocol::ResponseBody(e)));
  finish_auth_if_done();
}

void ClientSession::send_plain_credentials(Leg& leg, std::optional<ByteView> challenge) {
  if (++leg.auth_rounds > 5) {
    return fail_proxy_login(leg, fmt::format("authentication with {} did not finish after 5 "
                                             "rounds",
                                             cluster_type_name(leg.cluster)));
  }
  const bool origin = leg.cluster == ClusterType::Origin;
  const std::string& user = origin ? config_.origin_username : config_.target_username;
  const std::string& pass = origin ? config_.origin_password : config_.target_password;
  Bytes token;
  if (leg.dse_authenticator && !challenge) {
    // DseAuthenticator: name the mechanism; it answers "PLAIN-START", then the token follows.
    const auto mechanism = as_bytes(std::string_view("PLAIN"));
    token.assign(mechanism.begin(), mechanism.end());
  } else if (challenge && leg.dse_authenticator && as_chars(*challenge) != "PLAIN-START") {
    return fail_proxy_login(leg, fmt::format("{} sent an unexpected SASL challenge (only PLAIN "
                                             "is supported)",
                                             cluster_type_name(leg.cluster)));
  } else {
    token = user.empty() ? client_credentials_ : plain_sasl_token(user, pass);
  }
  auto id = leg.conn->ids().acquire(kHandshakeOwner);
  if (!id) return fail_session("no stream id for AUTH_RESPONSE");
  Bytes frame = auth_response_frame(version_, *id, token);
  (void)leg.conn->send_encoded(frame);
  leg.conn->schedule_flush();
}

void ClientSession::handle_client_auth_response(const protocol::Frame& frame) {
  handshake_stream_ = frame.header.stream.value;
  auto msg = protocol::decode_message(frame.header, frame.body);
  if (msg) {
    const auto& r =
        std::get<protocol::AuthResponseMessage>(std::get<protocol::RequestBody>(msg->body));
    // Only a PLAIN initial response ("\0user\0pass") is worth keeping for the other connections.
    if (r.token && !r.token->empty() && (*r.token)[0] == 0 && client_credentials_.empty()) {
      client_credentials_ = *r.token;
      if (auth_secondary_ && auth_secondary_->state == LegState::AuthSecondary &&
          auth_secondary_->auth_rounds == 0) {
        send_plain_credentials(*auth_secondary_, std::nullopt);
      }
    }
  }
  auto id = auth_primary_->conn->ids().acquire(kHandshakeOwner);
  if (!id) return fail_session("no stream id for AUTH_RESPONSE");
  (void)auth_primary_->conn->forward(frame.wire, *id);
  auth_primary_->conn->schedule_flush();
}

void ClientSession::finish_auth_if_done() {
  if (!auth_primary_ || auth_primary_->state != LegState::Ready) return;
  if (auth_secondary_) {
    if (auth_secondary_->state == LegState::Failed) {
      send_to_client(auth_secondary_->held, handshake_stream_);
      phase_ = Phase::Failed;
      return;
    }
    if (auth_secondary_->state != LegState::Ready) return;
  }
  send_to_client(auth_primary_->held, handshake_stream_);
  become_ready();
}

void ClientSession::become_ready() {
  phase_ = Phase::Ready;
  handshake_timer_.cancel();
  origin_.last_sent = target_.last_sent = Clock::now();
  origin_.held = Bytes();
  target_.held = Bytes();
  if (protocol::uses_segments(version_) && !segments_enabled()) {
    const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                              : protocol::Compression::None;
    if (auto ok = enable_segments(c); !ok) return fail_session(ok.error().message);
  }
  if (routing().async_reads()) start_async_leg();
}

const RoutingSnapshot& ClientSession::routing() {
  if (ctx_.routing().generation() != routing_generation_) {
    routing_ = ctx_.routing().current();
    routing_generation_ = routing_->generation;
    on_routing_changed();
  }
  return *routing_;
}

void ClientSession::on_routing_changed() {
  if (phase_ != Phase::Ready) return;  // become_ready() starts the async leg as it is then
  const RoutingSnapshot& r = *routing_;
  if (async_ && (!r.async_reads() || async_cluster_ != r.secondary_cluster())) close_async_leg();
  if (r.async_reads() && !async_) start_async_leg();
}

void ClientSession::close_async_leg() {
  // Requests waiting for a comparison with the old leg's answers are no longer compared.
  for (auto& slot : slots_) slot.compare = {};
  async_->close();
  async_.reset();
}

void ClientSession::start_async_leg() {
  const ClusterType secondary = routing_->secondary_cluster();
  auto view = ctx_.view(secondary);
  if (!view || view->assigned.empty()) return;
  const ClusterNode node = view->assigned[ctx_.next_node_index(secondary) % view->assigned.size()];
  AsyncReadsOptions o;
  o.max_in_flight = static_cast<int>(std::clamp<int64_t>(
      config_.async_connector_write_queue_size_frames, 1, kMaxProtocolStreamIds));
  o.max_stream_ids =
      static_cast<int>(std::clamp<int64_t>(config_.proxy_max_stream_ids, 1, kMaxProtocolStreamIds));
  o.version = version_;
  o.compression = compression_;
  o.startup_frame = startup_frame_;
  const bool origin = secondary == ClusterType::Origin;
  const std::string& user = origin ? config_.origin_username : config_.target_username;
  const std::string& pass = origin ? config_.origin_password : config_.target_password;
  o.credentials = user.empty() ? client_credentials_ : plain_sasl_token(user, pass);
  o.keyspace = keyspace_;
  o.timeout = routing_->request_timeout;
  o.prepared = &ctx_.prepared();
  o.secondary_is_target = secondary == ClusterType::Target;
  if (auto* m = ctx_.metrics()) o.reprepares = m->async_reprepares;
  async_ = std::make_unique<AsyncReads>(std::move(o));
  async_cluster_ = secondary;
  const auto timeout = std::chrono::milliseconds(config_.async_handshake_timeout_ms);
  auto self = std::static_pointer_cast<ClientSession>(shared_from_this());
  const int ids =
      static_cast<int>(std::clamp<int64_t>(config_.proxy_max_stream_ids, 1, kMaxProtocolStreamIds));
  ctx_.connect(executor(), secondary, node, timeout,
               [self, node, ids, leg = async_.get()](Result<net::Stream> stream) {
                 const auto* nm = self->ctx_.node_metrics(UpstreamRole::Async, node.label());
                 // The leg may have been replaced meanwhile (a routing change).
                 if (self->is_closed() || self->async_.get() != leg) {
                   if (stream) stream->close();
                   return;
                 }
                 if (!stream) {
                   if (nm && nm->failed_connections) nm->failed_connections->inc();
                   spdlog::debug("async connection to {} failed: {}", node.label(),
                                 stream.error().message);
                   return;
                 }
                 self->async_->start(std::make_shared<UpstreamConnection>(
                     std::move(*stream), UpstreamRole::Async, node.label(), ids, nm));
               });
}

// ---------------------------------------------------------------------------------------------
// Requests

const Bytes* ClientSession::target_execute_frame(const protocol::Frame& frame, ByteView origin_id,
                                                 ByteView target_id) {
  if (target_id.size() > 0xFFFF) return nullptr;
  if (compression_for_frames() != protocol::Compression::None) {
    // v3/v4 with compression: re-encode (and compress) through the codec.
    auto body = protocol::replace_prepared_id(frame.header, frame.body, target_id);
    if (!body) return nullptr;
    target_frame_.clear();
    if (!protocol::encode_frame_into(frame.header, *body, compression_for_frames(),
                                     target_frame_)) {
      return nullptr;
    }
    return &target_frame_;
  }
  // Hot path, no allocation once the session's buffer has grown: header, the body up to the id
  // (custom payload), the target id, the rest of the body. `origin_id` views the frame's body
  // (peek_execute validated it).
  const size_t id_at = static_cast<size_t>(origin_id.data() - frame.body.data());
  if (id_at < 2 || id_at + origin_id.size() > frame.body.size()) return nullptr;
  const size_t body_size = frame.body.size() - origin_id.size() + target_id.size();
  if (body_size > protocol::kMaxFrameBodyLength) return nullptr;
  target_frame_.clear();
  target_frame_.reserve(protocol::kFrameHeaderSize + body_size);
  protocol::FrameHeader h = frame.header;
  h.flags = static_cast<uint8_t>(h.flags & ~protocol::frame_flags::kCompression);
  h.body_length = static_cast<uint32_t>(body_size);
  target_frame_.resize(protocol::kFrameHeaderSize);
  protocol::encode_frame_header(h, target_frame_.data());
  target_frame_.insert(target_frame_.end(), frame.body.begin(),
                       frame.body.begin() + static_cast<std::ptrdiff_t>(id_at - 2));
  target_frame_.push_back(static_cast<uint8_t>(target_id.size() >> 8));
  target_frame_.push_back(static_cast<uint8_t>(target_id.size() & 0xFF));
  target_frame_.insert(target_frame_.end(), target_id.begin(), target_id.end());
  target_frame_.insert(target_frame_.end(),
                       frame.body.begin() + static_cast<std::ptrdiff_t>(id_at + origin_id.size()),
                       frame.body.end());
  return &target_frame_;
}

void ClientSession::handle_request(const protocol::Frame& frame) {
  ++stats_.requests;
  const auto& h = frame.header;
  const int16_t cs = h.stream.value;
  if (cs < 0) {
    answer_error(0, ErrorCode::ProtocolError, "negative stream id in a request");
    return;
  }
  if (ctx_.draining()) {
    // Graceful shutdown: in-flight requests finish, new ones go elsewhere (the reference's text).
    if (!draining_) begin_drain();
    return answer_error(cs, ErrorCode::Overloaded, "Shutting down, please retry on next host");
  }
  switch (h.opcode) {
    case Opcode::Options:
      return answer_options(frame);
    case Opcode::Startup:
    case Opcode::AuthResponse:
      return answer_error(cs, ErrorCode::ProtocolError,
                          fmt::format("Unexpected message {}: the connection is already ready",
                                      protocol::opcode_name(h.opcode)));
    default:
      break;
  }
  const RoutingSnapshot& snapshot = routing();
  SessionRouting session;
  session.keyspace = keyspace_;
  session.version = version_;
  session.settings = snapshot.settings(auth_to_target_);
  session.async_reads = snapshot.async_reads();
  session.replace_functions = snapshot.replace_cql_functions;
  RoutingTables tables;
  tables.prepared = &ctx_.prepared();
  tables.topology = snapshot.topology.get();

  RequestPlan plan;
  switch (h.opcode) {
    case Opcode::Register: {
      auto r = protocol::peek_register(h, frame.body);
      if (!r) return answer_error(cs, ErrorCode::ProtocolError, r.error().message);
      registered_schema_events_ = (r->events & protocol::event_types::kSchemaChange) != 0;
      plan = route_other(h.opcode, session);
      break;
    }
    case Opcode::Query: {
      auto q = protocol::peek_query(h, frame.body);
      if (!q) return answer_error(cs, ErrorCode::ProtocolError, q.error().message);
      plan = route_query(*q, session, tables);
      break;
    }
    case Opcode::Prepare: {
      auto p = protocol::peek_prepare(h, frame.body);
      if (!p) return answer_error(cs, ErrorCode::ProtocolError, p.error().message);
      plan = route_prepare(*p, session);
      break;
    }
    case Opcode::Execute: {
      auto e = protocol::peek_execute(h, frame.body);
      if (!e) return answer_error(cs, ErrorCode::ProtocolError, e.error().message);
      plan = route_execute(*e, h, frame.body, session, tables);
      break;
    }
    case Opcode::Batch: {
      auto b = protocol::peek_batch(h, frame.body);
      if (!b) return answer_error(cs, ErrorCode::ProtocolError, b.error().message);
      plan = route_batch(*b, session, tables);
      break;
    }
    default:
      plan = route_other(h.opcode, session);
      break;
  }
  carry_out(frame, plan);
}

void ClientSession::carry_out(const protocol::Frame& frame, RequestPlan& plan) {
  const int16_t cs = frame.header.stream.value;
  switch (plan.kind) {
    case PlanKind::Forward:
      break;
    case PlanKind::AnswerLocally:
      if (plan.intercepted) ctx_.prepared().put_intercepted(std::move(*plan.intercepted));
      return answer_locally(frame, *plan.local_answer);
    case PlanKind::AnswerError:
      return answer_error(cs, plan.error_code, std::move(plan.error_message));
    case PlanKind::AnswerUnprepared:
      if (auto* m = ctx_.metrics(); m && m->pscache_misses && plan.prepared_cache_miss) {
        m->pscache_misses->inc();
      }
      return answer_unprepared(cs, plan.unprepared_id);
    case PlanKind::Drop:
      return;  // e.g. DSE Insights reports
  }
  if (plan.decision.target == ForwardTarget::Proxy) {
    return answer_error(cs, ErrorCode::Invalid, "statement not supported by the proxy");
  }
  forward(frame, plan);
}

// Carries out a Forward plan: the bodies each cluster gets (functions replaced, target's prepared
// ids), a slot with the plan's facts for the answers, the send, the async copy.
void ClientSession::forward(const protocol::Frame& frame, RequestPlan& plan) {
  const auto& h = frame.header;
  const int16_t cs = h.stream.value;
  // ZDM_REPLACE_CQL_FUNCTIONS: the body both clusters get instead of the client's.
  std::optional<Bytes> rewritten_body;
  std::shared_ptr<const PrepareRewrite> prepare_functions;
  switch (plan.rewrite) {
    case FunctionRewrite::None:
      break;
    case FunctionRewrite::Query: {
      auto r = rewrite_query_functions(frame, plan.decision.statement);
      if (!r) return answer_rewrite_error(cs, r.error());
      rewritten_body = std::move(*r);
      break;
    }
    case FunctionRewrite::Prepare: {
      auto r = rewrite_prepare_functions(frame);
      if (!r) return answer_rewrite_error(cs, r.error());
      if (*r) {
        rewritten_body = std::move((*r)->body);
        prepare_functions = std::make_shared<const PrepareRewrite>(std::move((*r)->plan));
      }
      break;
    }
    case FunctionRewrite::Execute: {
      auto r = rewrite_execute_functions(frame, *plan.entry);
      if (!r) return answer_rewrite_error(cs, r.error());
      rewritten_body = std::move(*r);
      break;
    }
    case FunctionRewrite::Batch: {
      auto r = rewrite_batch_functions(frame);
      if (!r) return answer_rewrite_error(cs, r.error());
      rewritten_body = std::move(*r);
      break;
    }
  }
  const ByteView body = rewritten_body ? ByteView(*rewritten_body) : frame.body;
  // Target's bytes when its prepared ids differ: EXECUTE in a per-session buffer (no allocation
  // per request), BATCH in its own frame.
  const Bytes* target_wire = nullptr;
  std::optional<Bytes> target_frame;
  if (plan.target_body == TargetBody::ExecuteWithTargetId) {
    protocol::Frame source = frame;
    source.body = body;
    // The rewritten body keeps the client's bytes up to the values, so the id sits at the same
    // offset (target_execute_frame finds it by its position in the body).
    const ByteView origin_id(body.data() + (plan.prepared_id.data() - frame.body.data()),
                             plan.prepared_id.size());
    target_wire = target_execute_frame(source, origin_id, plan.entry->target_id);
    if (!target_wire) return answer_error(cs, ErrorCode::ProtocolError, "malformed EXECUTE");
  } else if (plan.target_body == TargetBody::BatchWithTargetIds) {
    std::vector<std::shared_ptr<const PreparedEntry>> keep;
    auto replaced = protocol::replace_prepared_ids(h, body, [&](ByteView id) {
      std::optional<ByteView> out;
      if (auto entry = ctx_.prepared().find(id)) {
        keep.push_back(entry);
        out = ByteView(keep.back()->target_id);
      }
      return out;
    });
    if (!replaced) return answer_error(cs, ErrorCode::ProtocolError, replaced.error().message);
    auto encoded = protocol::encode_frame(h, *replaced, compression_for_frames());
    if (!encoded) return answer_error(cs, ErrorCode::ProtocolError, encoded.error().message);
    target_frame = std::move(*encoded);
    target_wire = &*target_frame;
  }
  // With function replacement, both clusters get the rewritten frame (target's prepared ids are
  // already patched in target_wire).
  Bytes rewritten_wire;
  protocol::Frame rewritten_frame;
  const protocol::Frame* sent = &frame;
  if (rewritten_body) {
    auto encoded = protocol::encode_frame(h, *rewritten_body, compression_for_frames());
    if (!encoded) return answer_rewrite_error(cs, encoded.error());
    rewritten_wire = std::move(*encoded);
    rewritten_frame.header = h;
    rewritten_frame.header.body_length = static_cast<uint32_t>(rewritten_body->size());
    rewritten_frame.body = *rewritten_body;
    rewritten_frame.wire = rewritten_wire;
    sent = &rewritten_frame;
    ++stats_.function_rewrites;
  }

  auto index = take_slot();
  if (!index) {
    return answer_error(cs, ErrorCode::Overloaded,
                        "too many requests in flight on this connection");
  }
  const ForwardDecision& decision = plan.decision;
  Slot& s = slots_[*index];
  s.client_stream = cs;
  s.opcode = h.opcode;
  s.consistency = plan.consistency;
  s.is_read = decision.is_read;
  s.track_metrics = decision.track_metrics;
  s.primary = routing_->primary_cluster;
  s.join = plan.join;
  s.timeout_kind = plan.timeout_kind;
  if (!plan.prepared_id.empty())
    s.prepared_id.assign(plan.prepared_id.begin(), plan.prepared_id.end());
  s.table = nullptr;
  if (decision.track_metrics && !decision.table.empty() && h.opcode != Opcode::Prepare) {
    s.table = table_counters(decision.keyspace.text, decision.keyspace.quoted, decision.table.text,
                             decision.table.quoted);
    if (s.table) (s.is_read ? s.table->reads : s.table->writes)->inc();
  }
  if (h.opcode == Opcode::Prepare) {
    s.query = std::string(plan.prepare_query);
    s.keyspace = std::string(plan.prepare_keyspace);
    s.decision = std::move(plan.prepare_decision);
    s.functions = std::move(prepare_functions);
  }
  if (h.opcode == Opcode::Execute && rewritten_body) {
    s.function_values.assign(function_values_.begin(), function_values_.end());
    s.function_body_hash = function_body_hash_;
  }
  if (h.opcode == Opcode::Batch && rewritten_body && rewritten_body->size() <= kRetryBatchBodyMax) {
    s.function_batch_body.assign(rewritten_body->begin(), rewritten_body->end());
    s.function_body_hash = function_body_hash_;
  }
  if (!dispatch(*sent, decision.target, *index, target_wire)) return;

  if (s.track_metrics) {
    if (auto* m = ctx_.metrics()) {
      auto* g = !s.is_read                                 ? m->inflight_writes
                : decision.target == ForwardTarget::Target ? m->inflight_reads_target
                                                           : m->inflight_reads_origin;
      if (g) g->inc();
    }
  }
  if (decision.send_async && async_) {
    send_async_copy(*sent, target_wire, s, plan.statement_text, plan.continuation_page);
  }
  // A large EXECUTE does not stay charged to the session.
  if (target_frame_.capacity() > 16 * 1024) Bytes().swap(target_frame_);
}

bool ClientSession::dispatch(const protocol::Frame& frame, ForwardTarget target,
                             uint32_t slot_index, const Bytes* target_frame) {
  Slot& s = slots_[slot_index];
  const bool to_origin = target == ForwardTarget::Origin || target == ForwardTarget::Both;
  const bool to_target = target == ForwardTarget::Target || target == ForwardTarget::Both;
  if (to_origin) {
    auto id = origin_.conn->ids().acquire(slot_index);
    if (!id) {
      free_slot(slot_index);
      answer_error(frame.header.stream.value, ErrorCode::Overloaded,
                   "no stream id available on the origin connection");
      return false;
    }
    s.origin_id = *id;
    s.pending |= kOriginBit;
  }
  if (to_target) {
    auto id = target_.conn->ids().acquire(slot_index);
    if (!id) {
      if (s.origin_id >= 0) origin_.conn->ids().release(s.origin_id);
      s.origin_id = -1;
      s.pending = 0;
      free_slot(slot_index);
      answer_error(frame.header.stream.value, ErrorCode::Overloaded,
                   "no stream id available on the target connection");
      return false;
    }
    s.target_id = *id;
    s.pending |= kTargetBit;
  }
  if (to_origin) {
    (void)origin_.conn->forward(frame.wire, s.origin_id);
    origin_.conn->schedule_flush();
  }
  if (to_target) {
    if (target_frame) {
      (void)target_.conn->forward(*target_frame, s.target_id);
    } else {
      (void)target_.conn->forward(frame.wire, s.target_id);
    }
    target_.conn->schedule_flush();
  }
  if (to_origin && to_target) ++stats_.dual_requests;
  if (to_origin) origin_.last_sent = s.start;
  if (to_target) target_.last_sent = s.start;
  if (!to_origin) heartbeat_if_idle(origin_, s.start);
  if (!to_target) heartbeat_if_idle(target_, s.start);
  return true;
}

void ClientSession::heartbeat_if_idle(Leg& leg, Clock::time_point now) {
  if (!leg.conn || leg.conn->is_closed()) return;
  if (now - leg.last_sent < routing_->heartbeat_interval) return;
  auto id = leg.conn->ids().acquire(kHeartbeatOwner);
  if (!id) return;
  leg.last_sent = now;
  (void)leg.conn->send(protocol::make_request(version_, protocol::StreamId{*id},
                                              protocol::RequestBody(protocol::OptionsMessage{})));
  leg.conn->schedule_flush();
}

void ClientSession::send_async_copy(const protocol::Frame& frame, const Bytes* target_frame,
                                    Slot& slot, std::string_view statement,
                                    bool continuation_page) {
  const bool secondary_is_target = async_cluster_ == ClusterType::Target;
  ReadComparisons::Ticket ticket;
  if (sample_comparison(*routing_)) {
    ComparisonCounters* counters = slot.table ? &slot.table->compare : nullptr;
    if (continuation_page) {
      // It carries the primary's paging state; the first page was compared (or not) already.
      if (counters) counters->count(ComparisonResult::Skipped);
    } else {
      ticket = async_->comparisons().open(counters, statement);
      if (!ticket.valid() && counters) counters->count(ComparisonResult::Skipped);
    }
  }
  const bool ok = secondary_is_target && target_frame ? async_->send(*target_frame, true, ticket)
                                                      : async_->send(frame.wire, true, ticket);
  if (!ok) {
    ctx_.async_dropped.fetch_add(1, std::memory_order_relaxed);
    if (ticket.valid()) async_->comparisons().abandon(ticket, ComparisonResult::Skipped);
  } else {
    slot.compare = ticket;
  }
}

bool ClientSession::sample_comparison(const RoutingSnapshot& r) {
  if (r.compare_all()) return true;
  const uint64_t threshold = r.compare_threshold();  // sample when rng < rate * 2^64
  if (threshold == 0) return false;
  compare_rng_ ^= compare_rng_ << 13;
  compare_rng_ ^= compare_rng_ >> 7;
  compare_rng_ ^= compare_rng_ << 17;
  return compare_rng_ < threshold;
}

void ClientSession::compare_primary_answer(Slot& slot, ClusterType from, const ResponsePeek& peek) {
  if (!slot.compare.valid()) return;
  if (async_ && from == slot.primary) async_->comparisons().primary(slot.compare, peek);
  slot.compare = {};
}

// ---------------------------------------------------------------------------------------------
// Upstream answers

void ClientSession::on_upstream_frame(UpstreamConnection& connection,
                                      const protocol::Frame& frame) {
  const int16_t id = frame.header.stream.value;
  if (id < 0) return on_event(connection, frame);
  Leg& leg = leg_of(connection);
  auto owner = connection.ids().owner(id);
  if (!owner) return;  // never asked: ignore
  if (*owner == kHandshakeOwner) {
    connection.ids().release(id);
    if (phase_ != Phase::Ready) on_handshake_frame(leg, frame);
    return;
  }
  if (*owner == kHeartbeatOwner) {
    connection.ids().release(id);
    return;
  }
  connection.ids().release(id);
  if (*owner == StreamIdMap::kOrphan) {
    ++stats_.late_responses;
    return;
  }
  if (*owner >= slots_.size() || !slots_[*owner].in_use) return;
  auto peek = peek_response(frame.header, frame.body);
  if (!peek) {
    spdlog::debug("undecodable answer from {}: {}", connection.node(), peek.error().message);
    ResponsePeek fallback;
    fallback.opcode = frame.header.opcode;
    fallback.error = ErrorCode::ServerError;
    return complete(*owner, leg.cluster, frame, fallback);
  }
  complete(*owner, leg.cluster, frame, *peek);
}

void ClientSession::on_event(UpstreamConnection& connection, const protocol::Frame& frame) {
  // Only origin's schema changes reach the client (the reference's rule); topology and status
  // events describe real nodes, which clients of the virtual ring must not see.
  if (connection.role() != UpstreamRole::Origin || frame.header.opcode != Opcode::Event ||
      !registered_schema_events_ || phase_ != Phase::Ready) {
    return;
  }
  auto peek = peek_response(frame.header, frame.body);
  if (!peek) return;
  ByteReader r(peek->message);
  auto type = r.read_string();
  if (!type || *type != "SCHEMA_CHANGE") return;
  send_to_client(frame.wire, -1);
}

void ClientSession::complete(uint32_t index, ClusterType from, const protocol::Frame& frame,
                             const ResponsePeek& peek) {
  Slot& s = slots_[index];
  const uint8_t bit = bit_of(from);
  if (!(s.pending & bit)) return;
  s.pending = static_cast<uint8_t>(s.pending & ~bit);
  (from == ClusterType::Origin ? s.origin_id : s.target_id) = -1;
  const bool failed = peek.failed();
  (from == ClusterType::Origin ? s.origin_failed : s.target_failed) = failed;
  compare_primary_answer(s, from, peek);
  if (failed && from == ClusterType::Origin) s.origin_error = *peek.error;
  if (failed && from == ClusterType::Target) {
    s.target_error = *peek.error;
    if (*peek.error == ErrorCode::Unprepared) {
      // ERROR body: [int code][string message][short bytes id].
      ByteReader r(peek.message);
      if (r.read_i32() && r.read_string()) {
        if (auto id = r.read_short_bytes()) s.target_unprepared_id.assign(id->begin(), id->end());
      }
    }
  }

  UpstreamConnection* conn = upstream(from);
  if (const auto* nm = conn ? conn->metrics() : nullptr) {
    auto* histogram = s.is_read ? nm->read_duration : nm->write_duration;
    if (histogram) histogram->observe_duration(Clock::now() - s.start);
    if (failed && nm->requests_failed[0]) nm->failed(node_error_of(*peek.error)).inc();
  }

  if (s.pending) {
    // First of two answers: keep it until the other arrives.
    s.stored.assign(frame.wire.begin(), frame.wire.end());
    if (s.join == JoinKind::Prepare && !failed) {
      s.stored_body.assign(peek.message.begin(), peek.message.end());
    }
    s.stored_from = from;
    s.has_stored = true;
    return;
  }

  // Both answers are in (or the only one): join them.
  JoinInput in;
  in.kind = s.join;
  in.primary = s.primary;
  in.last = from;
  in.functions_replaced = s.functions != nullptr;
  const AnswerFacts mine = AnswerFacts::of(peek);
  std::optional<AnswerFacts> stored;
  if (s.has_stored) {
    stored = AnswerFacts{from == ClusterType::Origin ? s.target_failed : s.origin_failed,
                         from == ClusterType::Origin ? s.target_error : s.origin_error};
  }
  (from == ClusterType::Origin ? in.origin : in.target) = mine;
  if (stored) (from == ClusterType::Origin ? in.target : in.origin) = stored;
  const JoinResult joined = join_answers(in);

  const bool chose_stored = s.has_stored && joined.pick != from;
  const ByteView chosen = chose_stored ? ByteView(s.stored) : frame.wire;
  const ClusterType chosen_from = chose_stored ? s.stored_from : from;
  count_failures(s, joined.failed_on, chosen_from);
  std::optional<ByteView> prepared_for_client;  // origin's PREPARED of a rewritten statement
  if (joined.record_prepared) {
    const ByteView message = peek.message;
    const ByteView first = s.stored_body;
    record_prepared(s, from == ClusterType::Origin ? message : first,
                    from == ClusterType::Target ? message : first);
    if (joined.hide_function_markers)
      prepared_for_client = from == ClusterType::Origin ? message : first;
  }

  // Keyspace changes (USE) are followed so unqualified names classify right.
  if (auto ks = keyspace_set_by(peek)) {
    keyspace_.assign(ks->begin(), ks->end());
    if (async_) async_->set_keyspace(keyspace_);
  }

  if (auto* m = s.track_metrics ? ctx_.metrics() : nullptr) {
    auto* histogram = !s.is_read ? m->writes_duration
                      : chosen_from == ClusterType::Target && !s.has_stored
                          ? m->reads_target_duration
                          : m->reads_origin_duration;
    if (histogram) histogram->observe_duration(Clock::now() - s.start);
    auto* g = !s.is_read                                       ? m->inflight_writes
              : (!s.has_stored && from == ClusterType::Target) ? m->inflight_reads_target
                                                               : m->inflight_reads_origin;
    if (g) g->dec();
  }

  std::optional<Bytes> origin_id;
  if (joined.unprepared_with_origin_id) {
    // Target lost the statement: make the driver re-prepare the id it knows (origin's); the
    // PREPARE goes to both clusters and refreshes the mapping.
    if (!s.target_unprepared_id.empty()) {
      origin_id = ctx_.prepared().origin_id_for_target(s.target_unprepared_id);
    }
    if (!origin_id && !s.prepared_id.empty()) origin_id = s.prepared_id;
  }
  if (joined.keep_function_values &&
      (!s.function_values.empty() || !s.function_batch_body.empty())) {
    remember_function_values(s);
  }
  if (origin_id) {
    answer_unprepared(s.client_stream, *origin_id);
  } else if (prepared_for_client) {
    answer_prepared_for_client(s, *prepared_for_client);
  } else {
    send_to_client(chosen, s.client_stream);
  }
  free_slot(index);
}

// zdm_proxy_failed_{reads,writes}_total and the per-table failure counters.
void ClientSession::count_failures(Slot& s, FailedOn failed_on, ClusterType chosen_from) {
  if (failed_on == FailedOn::None) return;
  count_table_failure(s.table, failed_on);
  auto* m = s.track_metrics ? ctx_.metrics() : nullptr;
  if (!m) return;
  metrics::Counter* c = nullptr;
  if (s.is_read) {
    c = chosen_from == ClusterType::Origin ? m->failed_reads_origin : m->failed_reads_target;
  } else {
    c = failed_on == FailedOn::Both     ? m->failed_writes_both
        : failed_on == FailedOn::Origin ? m->failed_writes_origin
                                        : m->failed_writes_target;
  }
  if (c) c->inc();
}

void ClientSession::record_prepared(Slot& s, ByteView origin_message, ByteView target_message) {
  protocol::FrameHeader bare;
  bare.version = version_;
  bare.direction = protocol::Direction::Response;
  bare.opcode = Opcode::Result;
  auto decode_prepared = [&](ByteView message) -> std::optional<protocol::PreparedResult> {
    auto msg = protocol::decode_message(bare, message);
    if (!msg) return std::nullopt;
    const auto* resp = std::get_if<protocol::ResponseBody>(&msg->body);
    const auto* result = resp ? std::get_if<protocol::ResultMessage>(resp) : nullptr;
    const auto* prepared =
        result ? std::get_if<protocol::PreparedResult>(&result->result) : nullptr;
    if (!prepared) return std::nullopt;
    return *prepared;
  };
  auto o = decode_prepared(origin_message);
  auto t = decode_prepared(target_message);
  if (!o || !t) {
    spdlog::warn(
        "PREPARE answers could not be decoded; EXECUTEs of this statement will get "
        "UNPREPARED");
    return;
  }
  PreparedEntry entry;
  entry.origin_id = o->id;
  entry.target_id = t->id;
  entry.decision = std::move(s.decision);
  entry.origin_variables = std::move(o->metadata);
  entry.target_variables = std::move(t->metadata);
  entry.query = std::move(s.query);
  entry.keyspace = std::move(s.keyspace);
  entry.functions = s.functions;
  ctx_.prepared().put(std::move(entry));
}

void ClientSession::send_to_client(ByteView wire, int16_t stream) {
  if (wire.size() < protocol::kFrameHeaderSize) return;
  protocol::patch_stream_id(const_cast<uint8_t*>(wire.data()), protocol::StreamId{stream});
  (void)send_encoded(wire);
  schedule_client_flush();
}

void ClientSession::schedule_client_flush() {
  if (flush_scheduled_ || is_closed()) return;
  flush_scheduled_ = true;
  asio::post(executor(), [self = std::static_pointer_cast<ClientSession>(shared_from_this())] {
    self->flush_scheduled_ = false;
    self->flush();
    if (self->draining_ && self->head_ < 0) return self->close_after_flush();
    if (self->origin_.conn) self->origin_.conn->publish_stream_ids();
    if (self->target_.conn) self->target_.conn->publish_stream_ids();
  });
}

void ClientSession::on_upstream_closed(UpstreamConnection& connection) {
  if (is_closed()) return;
  // Without both clusters the session cannot keep its promises; the driver reconnects.
  fail_session(fmt::format("{} connection to {} closed", upstream_role_name(connection.role()),
                           connection.node()));
}

ClientSession::TableCounters* ClientSession::table_counters(std::string_view keyspace,
                                                            bool keyspace_quoted,
                                                            std::string_view table,
                                                            bool table_quoted) {
  auto* m = ctx_.metrics();
  if (!m || !m->table_requests) return nullptr;
  auto append = [this](std::string_view name, bool quoted) {
    for (char c : name) {
      table_key_.push_back(quoted ? c
                                  : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  };
  table_key_.clear();
  append(keyspace, keyspace_quoted);
  const size_t dot = table_key_.size();
  table_key_.push_back('.');
  append(table, table_quoted);
  if (auto it = tables_.find(table_key_); it != tables_.end()) return it->second.get();
  // Bounded: a client generating table names must not grow the session (or the registry).
  if (tables_.size() >= 256) return nullptr;
  const std::string ks = table_key_.substr(0, dot);
  const std::string tb = table_key_.substr(dot + 1);
  auto counters = std::make_unique<TableCounters>();
  counters->reads = &m->table_requests->labels({ks, tb, label::kReads});
  counters->writes = &m->table_requests->labels({ks, tb, label::kWrites});
  counters->failed_origin = &m->table_failed_requests->labels({ks, tb, label::kOrigin});
  counters->failed_target = &m->table_failed_requests->labels({ks, tb, label::kTarget});
  counters->failed_both = &m->table_failed_requests->labels({ks, tb, label::kBoth});
  counters->compare = ComparisonCounters(m->read_comparisons, ks, tb);
  auto* raw = counters.get();
  tables_.emplace(table_key_, std::move(counters));
  return raw;
}

void ClientSession::count_table_failure(TableCounters* table, FailedOn failed_on) {
  if (!table) return;
  switch (failed_on) {
    case FailedOn::Origin:
      table->failed_origin->inc();
      return;
    case FailedOn::Target:
      table->failed_target->inc();
      return;
    case FailedOn::Both:
      table->failed_both->inc();
      return;
    case FailedOn::None:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Slots and deadlines

std::optional<uint32_t> ClientSession::take_slot() {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= static_cast<size_t>(kMaxProtocolStreamIds)) return std::nullopt;
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  s.in_use = true;
  s.pending = 0;
  s.origin_failed = s.target_failed = s.has_stored = false;
  s.origin_id = s.target_id = -1;
  s.stored.clear();
  s.stored_body.clear();
  s.target_unprepared_id.clear();
  s.prepared_id.clear();
  s.compare = {};
  s.functions.reset();
  s.function_values.clear();
  s.function_batch_body.clear();
  s.origin_error = ErrorCode::ServerError;
  s.target_error = ErrorCode::ServerError;
  s.start = Clock::now();
  s.deadline = s.start + routing_->request_timeout;
  // Into the in-flight list, kept in deadline order so that one timer serves the whole session.
  // Requests share the timeout, so this is an append, unless a routing change shortened it.
  int32_t after = tail_;
  while (after >= 0 && slots_[static_cast<size_t>(after)].deadline > s.deadline) {
    after = slots_[static_cast<size_t>(after)].prev;
  }
  s.prev = after;
  s.next = after >= 0 ? slots_[static_cast<size_t>(after)].next : head_;
  if (s.prev >= 0)
    slots_[static_cast<size_t>(s.prev)].next = static_cast<int32_t>(index);
  else
    head_ = static_cast<int32_t>(index);
  if (s.next >= 0)
    slots_[static_cast<size_t>(s.next)].prev = static_cast<int32_t>(index);
  else
    tail_ = static_cast<int32_t>(index);
  if (head_ == static_cast<int32_t>(index) && timer_armed_) deadline_timer_.cancel();
  arm_deadline_timer();
  return index;
}

void ClientSession::free_slot(uint32_t index) {
  Slot& s = slots_[index];
  if (!s.in_use) return;
  s.in_use = false;
  if (s.prev >= 0)
    slots_[static_cast<size_t>(s.prev)].next = s.next;
  else
    head_ = s.next;
  if (s.next >= 0)
    slots_[static_cast<size_t>(s.next)].prev = s.prev;
  else
    tail_ = s.prev;
  s.prev = s.next = -1;
  // Large answers kept for joining are not retained by idle slots.
  if (s.stored.capacity() > 64 * 1024) Bytes().swap(s.stored);
  free_slots_.push_back(index);
}

void ClientSession::arm_deadline_timer() {
  if (timer_armed_ || head_ < 0 || is_closed()) return;
  timer_armed_ = true;
  deadline_timer_.expires_at(slots_[static_cast<size_t>(head_)].deadline);
  deadline_timer_.async_wait([self = std::static_pointer_cast<ClientSession>(shared_from_this())](
                                 boost::system::error_code ec) {
    self->timer_armed_ = false;
    if (self->is_closed()) return;
    // Cancelled because an earlier deadline became the head (take_slot): wait for that one.
    if (ec) return self->arm_deadline_timer();
    self->on_deadline_timer();
  });
}

void ClientSession::on_deadline_timer() {
  const auto now = Clock::now();
  while (head_ >= 0 && slots_[static_cast<size_t>(head_)].deadline <= now) {
    expire(static_cast<uint32_t>(head_));
  }
  // Ids of timed-out requests stay taken until a late answer that a hung node may never send.
  // Once most of a connection's ids are held so, the session closes (after the timeout errors
  // leave) and the driver reconnects on fresh connections, instead of answering OVERLOADED for
  // ever.
  for (Leg* leg : {&origin_, &target_}) {
    if (!leg->conn) continue;
    const auto& ids = leg->conn->ids();
    if (ids.orphans() >= std::max(1, ids.capacity() * 3 / 4)) {
      spdlog::warn(
          "{} of {} stream ids of the {} connection to {} are held by timed-out "
          "requests; closing the client connection so that the driver reconnects",
          ids.orphans(), ids.capacity(), cluster_type_name(leg->cluster), leg->conn->node());
      return fail_session("too many timed-out requests");
    }
  }
  arm_deadline_timer();
  schedule_client_flush();
}

void ClientSession::expire(uint32_t index) {
  Slot& s = slots_[index];
  ++stats_.timeouts;
  // The upstream ids stay taken until the late answers arrive (then they are dropped), so an id
  // is never reused while a node may still answer on it.
  for (ClusterType c : {ClusterType::Origin, ClusterType::Target}) {
    const int16_t id = c == ClusterType::Origin ? s.origin_id : s.target_id;
    if (id < 0) continue;
    if (auto* conn = upstream(c)) {
      conn->ids().orphan(id);
      if (const auto* nm = conn->metrics(); nm && nm->requests_failed[0]) {
        nm->failed(NodeError::ClientTimeout).inc();
      }
    }
  }
  if (auto* m = s.track_metrics ? ctx_.metrics() : nullptr) {
    auto* g = !s.is_read                                              ? m->inflight_writes
              : (s.pending & kTargetBit) && !(s.pending & kOriginBit) ? m->inflight_reads_target
                                                                      : m->inflight_reads_origin;
    if (g) g->dec();
  }
  s.pending = 0;
  if (s.compare.valid() && async_) {
    async_->comparisons().abandon(s.compare, ComparisonResult::Timeout);
  }
  s.compare = {};
  if (routing_->timeout_behaviour == TimeoutBehaviour::Error) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(s.deadline - s.start);
    auto error = make_timeout_error(s.timeout_kind, s.consistency, waited.count());
    (void)send(protocol::make_response(version_, protocol::StreamId{s.client_stream},
                                       protocol::ResponseBody(std::move(error))));
  }
  free_slot(index);
}

// ---------------------------------------------------------------------------------------------
// Function replacement (ZDM_REPLACE_CQL_FUNCTIONS). Only requests that have a call to replace
// (or EXECUTE/BATCH a statement prepared with one) come here; the rewrite happens once and the
// same values reach both clusters.

Result<std::optional<Bytes>> ClientSession::rewrite_query_functions(const protocol::Frame& frame,
                                                                    protocol::StatementKind kind) {
  return rewrite_query_body(frame.header, frame.body, ctx_.timeuuids(), kind);
}

Result<std::optional<PrepareBodyRewrite>> ClientSession::rewrite_prepare_functions(
    const protocol::Frame& frame) {
  return rewrite_prepare_body(frame.header, frame.body);
}

Result<Bytes> ClientSession::rewrite_execute_functions(const protocol::Frame& frame,
                                                       const PreparedEntry& entry) {
  const PrepareRewrite& plan = *entry.functions;
  function_values_.clear();
  // A retry of an EXECUTE that one cluster already applied gets that EXECUTE's values.
  if (auto retry = take_retry(frame.body, plan.inserted.size())) {
    function_values_.swap(retry->values);
  }
  if (function_values_.empty()) {
    for (const InsertedMarker& m : plan.inserted) {
      function_values_.push_back(generate_value(m.function, ctx_.timeuuids()));
    }
  }
  // Named values need the markers' names; origin's metadata has them (the same on target).
  return rewrite_execute_body(frame.header, frame.body, plan, function_values_,
                              &entry.origin_variables);
}

Result<std::optional<Bytes>> ClientSession::rewrite_batch_functions(const protocol::Frame& frame) {
  // A retry of a BATCH that one cluster already applied (the other answered UNPREPARED) gets the
  // body the first attempt was sent with: the same now()/uuid() values on both clusters.
  if (auto retry = take_retry(frame.body, 0)) {
    return std::optional<Bytes>(std::move(retry->batch_body));
  }
  PreparedCache& cache = ctx_.prepared();
  std::vector<std::shared_ptr<const PreparedEntry>> keep;  // plans stay alive during the rewrite
  return rewrite_batch_body(frame.header, frame.body, ctx_.timeuuids(),
                            [&](ByteView id) -> const PrepareRewrite* {
                              auto entry = cache.find(id);
                              if (!entry || !entry->functions) return nullptr;
                              keep.push_back(std::move(entry));
                              return keep.back()->functions.get();
                            });
}

void ClientSession::answer_prepared_for_client(const Slot& s, ByteView origin_message) {
  protocol::FrameHeader bare;
  bare.version = version_;
  bare.direction = protocol::Direction::Response;
  bare.opcode = Opcode::Result;
  auto message = protocol::decode_message(bare, origin_message);
  protocol::PreparedResult* prepared = nullptr;
  if (message) {
    auto* response = std::get_if<protocol::ResponseBody>(&message->body);
    auto* result = response ? std::get_if<protocol::ResultMessage>(response) : nullptr;
    prepared = result ? std::get_if<protocol::PreparedResult>(&result->result) : nullptr;
  }
  Result<void> hidden;
  if (prepared) {
    hidden = rewrite_prepared_result(*prepared, *s.functions);
  } else {
    hidden = fail(Errc::Malformed, "origin's PREPARED answer could not be decoded");
  }
  if (!hidden) {
    // The client would have to bind the proxy's markers: better no statement than a wrong one.
    if (prepared) ctx_.prepared().erase(prepared->id);
    spdlog::warn("PREPARE with now()/uuid() replaced: {}", hidden.error().message);
    answer_error(s.client_stream, ErrorCode::ServerError,
                 fmt::format("the proxy replaced now()/uuid() in this statement "
                             "(ZDM_REPLACE_CQL_FUNCTIONS) but cannot hide its bind markers from "
                             "the prepared metadata: {}",
                             hidden.error().message));
    return;
  }
  message->stream = protocol::StreamId{s.client_stream};
  (void)send(*message);
  schedule_client_flush();
}

std::optional<ClientSession::RetryValues> ClientSession::take_retry(ByteView client_body,
                                                                    size_t values) {
  function_body_hash_ = std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(client_body.data()), client_body.size()));
  for (auto it = retry_values_.begin(); it != retry_values_.end(); ++it) {
    const bool fits = values > 0 ? it->values.size() == values : !it->batch_body.empty();
    if (it->body_hash == function_body_hash_ && fits) {
      RetryValues retry = std::move(*it);
      retry_values_.erase(it);
      return retry;
    }
  }
  return std::nullopt;
}

void ClientSession::remember_function_values(const Slot& s) {
  // complete() calls this when one cluster applied the request and the other answered UNPREPARED
  // (join_answers: keep_function_values).
  if (retry_values_.size() >= kRetryValues) retry_values_.erase(retry_values_.begin());
  retry_values_.push_back(
      RetryValues{s.function_body_hash, s.function_values, s.function_batch_body});
}

void ClientSession::answer_rewrite_error(int16_t stream, const Error& error) {
  // A value count that does not fit the statement is the client's mistake (Invalid, as Cassandra
  // answers it); anything else is a malformed body.
  const auto code =
      error.code == Errc::InvalidArgument ? ErrorCode::Invalid : ErrorCode::ProtocolError;
  answer_error(stream, code, error.message);
}

}  // namespace zdm::proxy
