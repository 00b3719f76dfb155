// Async secondary writes (ZDM_SECONDARY_WRITE_MODE=async): a session keeps serving its client
// when the connection to the secondary cluster closes. Plain writes do not need it (their copy
// goes through the SecondaryWriter and its journal) and reads go to the primary; requests that
// need both clusters at once (PREPARE, schema changes, LWT, counters) are refused with an error
// that says why while the connection is down. The connection is opened again in the background
// (STARTUP as the client sent it, the login, the keyspace), every second and then up to every
// ten while the cluster stays unreachable.

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"
#include "proxy/session/session_internal.hpp"

namespace zdm::proxy {

using protocol::ErrorCode;
using protocol::Opcode;
using namespace session_detail;

namespace {
constexpr auto kRestoreFirst = std::chrono::seconds(1);
constexpr auto kRestoreMax = std::chrono::seconds(10);
}  // namespace

bool ClientSession::keeps_running_without(const UpstreamConnection& connection) {
  if (phase_ != Phase::Ready || !ctx_.secondary_writer()) return false;
  const RoutingSnapshot& r = routing();
  return r.async_writes() && leg_of(connection).cluster == r.secondary_cluster();
}

void ClientSession::lose_secondary_leg(Leg& leg) {
  ++stats_.secondary_leg_losses;
  const std::string node = leg.conn ? leg.conn->node() : std::string("?");
  spdlog::warn(
      "{} connection to {} lost; the client connection stays open (async secondary writes: "
      "plain writes are journaled for {}, requests needing both clusters are refused until it "
      "is back)",
      cluster_type_name(leg.cluster), node, cluster_type_name(leg.cluster));
  // Requests waiting for this leg's answer get an error now (their ids on the other leg stay
  // taken until its late answer, as for a timeout).
  const uint8_t bit = bit_of(leg.cluster);
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].in_use && (slots_[i].pending & bit)) {
      abandon(i, fmt::format("the connection to {} ({}) closed before it answered",
                             cluster_type_name(leg.cluster), node));
    }
  }
  if (leg.conn) {
    leg.conn->detach();
    leg.conn.reset();
  }
  leg.state = LegState::Failed;
  leg.last_error = fmt::format("connection to {} closed", node);
  restore_backoff_ = kRestoreFirst;
  schedule_leg_restore(leg.cluster);
  schedule_client_flush();
}

void ClientSession::schedule_leg_restore(ClusterType cluster) {
  if (is_closed()) return;
  handshake_timer_.expires_after(restore_backoff_);
  handshake_timer_.async_wait([self = std::static_pointer_cast<ClientSession>(shared_from_this()),
                               cluster](boost::system::error_code ec) {
    if (ec || self->is_closed()) return;
    self->restore_leg(cluster == ClusterType::Origin ? self->origin_ : self->target_);
  });
}

void ClientSession::restore_leg(Leg& leg) {
  if (leg.conn || leg.state == LegState::Connecting) return;
  auto view = ctx_.view(leg.cluster);
  if (!view || view->assigned.empty()) return retry_leg_restore(leg, "no node known");
  const ClusterNode node =
      view->assigned[ctx_.next_node_index(leg.cluster) % view->assigned.size()];
  leg.state = LegState::Connecting;
  const auto timeout = std::chrono::milliseconds(leg.cluster == ClusterType::Origin
                                                     ? config_.origin_connection_timeout_ms
                                                     : config_.target_connection_timeout_ms);
  auto self = std::static_pointer_cast<ClientSession>(shared_from_this());
  const ClusterType cluster = leg.cluster;
  ctx_.connect(
      executor(), cluster, node, timeout,
      [self, cluster, node, timeout](Result<net::Stream> stream) {
        Leg& l = cluster == ClusterType::Origin ? self->origin_ : self->target_;
        if (self->is_closed()) {
          if (stream) stream->close();
          return;
        }
        if (!stream) return self->retry_leg_restore(l, stream.error().message);
        const auto role =
            cluster == ClusterType::Origin ? UpstreamRole::Origin : UpstreamRole::Target;
        const int ids = static_cast<int>(
            std::clamp<int64_t>(self->config_.proxy_max_stream_ids, 1, kMaxProtocolStreamIds));
        l.conn = std::make_shared<UpstreamConnection>(std::move(*stream), role, node.label(), ids,
                                                      self->ctx_.node_metrics(role, node.label()));
        l.conn->attach(self.get());
        auto id = l.conn->ids().acquire(kHandshakeOwner);
        if (!id) return self->retry_leg_restore(l, "no stream id for STARTUP");
        Bytes copy = self->startup_frame_;
        (void)l.conn->forward(copy, *id);
        if (!protocol::uses_segments(self->version_) &&
            self->compression_ != protocol::Compression::None) {
          l.conn->enable_compression(self->compression_);
        }
        l.state = LegState::StartupSent;
        l.conn->schedule_flush();
        self->watch_leg_restore(l, timeout);
      });
}

// A node that accepts the connection but never completes the handshake (a hung process) must
// not leave the leg half-open for ever: past the connection timeout, start over.
void ClientSession::watch_leg_restore(Leg& leg, std::chrono::milliseconds timeout) {
  handshake_timer_.expires_after(timeout);
  handshake_timer_.async_wait(
      [self = std::static_pointer_cast<ClientSession>(shared_from_this()), cluster = leg.cluster,
       conn = std::weak_ptr<UpstreamConnection>(leg.conn)](boost::system::error_code ec) {
        if (ec || self->is_closed()) return;
        Leg& l = cluster == ClusterType::Origin ? self->origin_ : self->target_;
        if (l.state != LegState::Answered && l.conn && l.conn == conn.lock()) {
          self->retry_leg_restore(l, "no answer to the handshake within the connection timeout");
        }
      });
}

void ClientSession::retry_leg_restore(Leg& leg, const std::string& why) {
  if (leg.conn) {
    leg.conn->detach();
    leg.conn->close();
    leg.conn.reset();
  }
  leg.state = LegState::Failed;
  spdlog::debug("{} connection not restored yet: {}", cluster_type_name(leg.cluster), why);
  restore_backoff_ = std::min<std::chrono::milliseconds>(restore_backoff_ * 2, kRestoreMax);
  schedule_leg_restore(leg.cluster);
}

// STARTUP's answer, the login and the keyspace of a connection opened again.
void ClientSession::on_restore_frame(Leg& leg, const protocol::Frame& frame) {
  const Opcode op = frame.header.opcode;
  auto send = [&](Bytes wire) {
    auto id = leg.conn->ids().acquire(kHandshakeOwner);
    if (!id) return retry_leg_restore(leg, "no stream id");
    (void)leg.conn->forward(wire, *id);
    leg.conn->schedule_flush();
  };
  if (leg.state == LegState::StartupSent && (op == Opcode::Ready || op == Opcode::Authenticate) &&
      protocol::uses_segments(version_)) {
    const auto c = compression_ == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                              : protocol::Compression::None;
    if (auto ok = leg.conn->enable_segments(c); !ok)
      return retry_leg_restore(leg, ok.error().message);
  }
  if (op == Opcode::Authenticate) {
    const bool origin = leg.cluster == ClusterType::Origin;
    const std::string& user = origin ? config_.origin_username : config_.target_username;
    const std::string& pass = origin ? config_.origin_password : config_.target_password;
    const Bytes token =
        user.empty() && relay_ ? relay_->client_credentials() : plain_sasl_token(user, pass);
    leg.state = LegState::Restoring;
    return send(auth_response_frame(version_, 0, token));
  }
  if (op == Opcode::Ready || op == Opcode::AuthSuccess) {
    if (keyspace_.empty()) return leg_restored(leg);
    protocol::QueryMessage use;
    use.query = fmt::format("USE \"{}\"", keyspace_);
    leg.state = LegState::Restoring;  // the USE is the last step
    restoring_use_ = true;
    auto id = leg.conn->ids().acquire(kHandshakeOwner);
    if (!id) return retry_leg_restore(leg, "no stream id");
    (void)leg.conn->send(protocol::make_request(version_, protocol::StreamId{*id},
                                                protocol::RequestBody(std::move(use))));
    leg.conn->schedule_flush();
    return;
  }
  if (op == Opcode::Result && restoring_use_) return leg_restored(leg);
  auto peek = peek_response(frame.header, frame.body);
  std::string what =
      fmt::format("{} answered {}", cluster_type_name(leg.cluster), protocol::opcode_name(op));
  if (peek && peek->failed()) {
    ByteReader r(peek->message);
    if (r.read_i32()) {
      if (auto m = r.read_string()) what += fmt::format(": {}", *m);
    }
  }
  retry_leg_restore(leg, what);
}

void ClientSession::leg_restored(Leg& leg) {
  restoring_use_ = false;
  handshake_timer_.cancel();
  leg.state = LegState::Answered;
  leg.last_sent = Clock::now();
  spdlog::info("{} connection to {} restored", cluster_type_name(leg.cluster), leg.conn->node());
}

bool ClientSession::leg_ready(const Leg& leg) const {
  return leg.conn && leg.state == LegState::Answered;
}

}  // namespace zdm::proxy
