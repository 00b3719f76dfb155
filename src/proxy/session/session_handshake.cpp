#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"
#include "proxy/session/session_internal.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using namespace session_detail;

namespace {

protocol::Compression compression_from_name(std::string_view name) {
  if (protocol::iequals(name, "lz4")) return protocol::Compression::Lz4;
  if (protocol::iequals(name, "snappy")) return protocol::Compression::Snappy;
  return protocol::Compression::None;
}

}  // namespace

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
  std::string driver_name, driver_version;
  for (const auto& [key, value] : startup.options) {
    if (key == "COMPRESSION") compression_ = compression_from_name(value);
    if (key == "DRIVER_NAME") driver_name = value;
    if (key == "DRIVER_VERSION") driver_version = value;
  }
  if (info_) {
    info_->set_startup(static_cast<int>(protocol::version_byte(frame.header.version)),
                       std::move(driver_name), std::move(driver_version));
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
  HandshakeSettings hs;
  hs.primary = routing().primary_cluster;
  hs.forward_client_credentials_to_origin = config_.forward_client_credentials_to_origin;
  hs.origin_username = config_.origin_username;
  hs.origin_password = config_.origin_password;
  hs.target_username = config_.target_username;
  hs.target_password = config_.target_password;
  hs.version = version_;
  relay_.emplace(std::move(hs));
  origin_.rotation = NodeRotation(ctx_.next_node_index(ClusterType::Origin));
  target_.rotation = NodeRotation(ctx_.next_node_index(ClusterType::Target));
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
  const auto index = leg.rotation.next(
      nodes.size(), [&](size_t i) { return ctx_.node_recently_down(nodes[i].label()); });
  if (!index) {
    leg.state = LegState::Failed;
    answer_error(handshake_stream_, ErrorCode::ServerError,
                 fmt::format("cannot connect to any {} node: {}", cluster_type_name(leg.cluster),
                             leg.last_error));
    fail_session("upstream unreachable");
    return;
  }
  const ClusterNode node = nodes[*index];
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

// Each cluster's answer during the handshake goes to the relay (handshake_relay.hpp), which says
// what to send where; the session only carries it out.
void ClientSession::on_handshake_frame(Leg& leg, const protocol::Frame& frame) {
  const Opcode op = frame.header.opcode;
  if (leg.state == LegState::StartupSent) {
    leg.state = LegState::Answered;
    std::string authenticator;
    if (op == Opcode::Authenticate) {
      auto msg = protocol::decode_message(frame.header, frame.body);
      const auto* body = msg ? std::get_if<protocol::ResponseBody>(&msg->body) : nullptr;
      const auto* a = body ? std::get_if<protocol::AuthenticateMessage>(body) : nullptr;
      if (a) authenticator = a->authenticator;
    }
    if ((op == Opcode::Ready || op == Opcode::Authenticate) && protocol::uses_segments(version_)) {
      const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                                : protocol::Compression::None;
      if (auto ok = leg.conn->enable_segments(c); !ok) return fail_session(ok.error().message);
    }
    return carry_out_handshake(
        relay_->on_startup_answer(leg.cluster, op, frame.wire, authenticator));
  }
  if (leg.state != LegState::Answered) return;
  std::optional<ByteView> challenge;  // a view into `msg`, which outlives the relay's step
  Result<protocol::Message> msg = protocol::Message{};
  if (op == Opcode::AuthChallenge) msg = protocol::decode_message(frame.header, frame.body);
  const auto* body = msg ? std::get_if<protocol::ResponseBody>(&msg->body) : nullptr;
  const auto* c = body ? std::get_if<protocol::AuthChallengeMessage>(body) : nullptr;
  if (c && c->token) challenge = ByteView(*c->token);
  carry_out_handshake(relay_->on_auth_answer(leg.cluster, op, frame.wire, challenge));
}

void ClientSession::carry_out_handshake(HandshakeStep step) {
  for (auto& credentials : step.send) {
    Leg& leg = credentials.cluster == ClusterType::Origin ? origin_ : target_;
    if (!leg.conn) return fail_session("connection lost during authentication");
    auto id = leg.conn->ids().acquire(kHandshakeOwner);
    if (!id) return fail_session("no stream id for AUTH_RESPONSE");
    Bytes frame = auth_response_frame(version_, *id, credentials.token);
    (void)leg.conn->send_encoded(frame);
    leg.conn->schedule_flush();
  }
  if (!step.to_client.empty()) send_to_client(step.to_client, handshake_stream_);
  if (step.failed) {
    phase_ = Phase::Failed;
    return;
  }
  if (step.ready) return become_ready();
  if (step.client_authenticates) {
    auth_to_target_ = relay_->client_auth_cluster() == ClusterType::Target;
    phase_ = Phase::Handshake;
    if (protocol::uses_segments(version_) && !segments_enabled()) {
      const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                                : protocol::Compression::None;
      if (auto ok = enable_segments(c); !ok) fail_session(ok.error().message);
    }
  }
}

void ClientSession::handle_client_auth_response(const protocol::Frame& frame) {
  handshake_stream_ = frame.header.stream.value;
  std::optional<ByteView> token;
  auto msg = protocol::decode_message(frame.header, frame.body);
  if (msg) {
    const auto& r =
        std::get<protocol::AuthResponseMessage>(std::get<protocol::RequestBody>(msg->body));
    if (r.token) token = ByteView(*r.token);
  }
  auto step = relay_->on_client_auth_response(token);
  Leg& to = relay_->client_auth_cluster() == ClusterType::Origin ? origin_ : target_;
  if (!to.conn) return fail_session("connection lost during authentication");
  auto id = to.conn->ids().acquire(kHandshakeOwner);
  if (!id) return fail_session("no stream id for AUTH_RESPONSE");
  (void)to.conn->forward(frame.wire, *id);
  to.conn->schedule_flush();
  carry_out_handshake(std::move(step));
}

void ClientSession::become_ready() {
  phase_ = Phase::Ready;
  handshake_timer_.cancel();
  origin_.last_sent = target_.last_sent = Clock::now();
  if (protocol::uses_segments(version_) && !segments_enabled()) {
    const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                              : protocol::Compression::None;
    if (auto ok = enable_segments(c); !ok) return fail_session(ok.error().message);
  }
  // routing() may have started it already (a snapshot published since the session opened).
  if (routing().async_reads() && !async_) start_async_leg();
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
  o.credentials = user.empty() ? relay_->client_credentials() : plain_sasl_token(user, pass);
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

}  // namespace zdm::proxy
