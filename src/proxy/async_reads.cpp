#include "proxy/async_reads.hpp"

#include <spdlog/spdlog.h>

#include "protocol/message_codec.hpp"
#include "proxy/dual_request.hpp"

namespace zdm::proxy {

using protocol::Opcode;

AsyncReads::AsyncReads(AsyncReadsOptions options) : options_(std::move(options)) {}

AsyncReads::~AsyncReads() { close(); }

void AsyncReads::start(std::shared_ptr<UpstreamConnection> connection) {
  conn_ = std::move(connection);
  const size_t ids = static_cast<size_t>(conn_->ids().capacity());
  started_.assign(ids, {});
  is_read_.assign(ids, 0);
  conn_->attach(this);
  auto id = conn_->ids().acquire(kHandshake);
  if (!id || options_.startup_frame.size() < protocol::kFrameHeaderSize) {
    state_ = State::Failed;
    return;
  }
  Bytes startup = options_.startup_frame;
  if (auto ok = conn_->forward(startup, *id); !ok) {
    state_ = State::Failed;
    return;
  }
  if (options_.version < protocol::ProtocolVersion::V5) {
    conn_->enable_compression(options_.compression);
  }
  state_ = State::StartupSent;
  conn_->schedule_flush();
}

void AsyncReads::close() {
  if (conn_) {
    if (auto* m = conn_->metrics(); m && m->inflight_requests) m->inflight_requests->dec(in_flight_);
    in_flight_ = 0;
    conn_->detach();
    conn_.reset();
  }
  state_ = State::Failed;
}

bool AsyncReads::send(ByteView wire, bool is_read) {
  if (state_ != State::Ready || !conn_ || conn_->is_closed() ||
      in_flight_ >= options_.max_in_flight) {
    ++dropped_;
    return false;
  }
  auto id = conn_->ids().acquire(0);
  if (!id) {
    ++dropped_;
    return false;
  }
  if (auto ok = conn_->forward(wire, *id); !ok) {
    conn_->ids().release(*id);
    ++dropped_;
    return false;
  }
  const auto i = static_cast<size_t>(*id);
  started_[i] = std::chrono::steady_clock::now();
  is_read_[i] = is_read ? 1 : 0;
  ++in_flight_;
  ++sent_;
  if (auto* m = conn_->metrics(); m && m->inflight_requests) m->inflight_requests->inc();
  conn_->schedule_flush();
  return true;
}

void AsyncReads::set_keyspace(std::string keyspace) {
  if (keyspace.empty() || keyspace == options_.keyspace) return;
  options_.keyspace = std::move(keyspace);
  if (state_ == State::Ready) send_internal_query("USE \"" + options_.keyspace + "\"");
}

void AsyncReads::send_internal_query(const std::string& cql) {
  if (!conn_) return;
  auto id = conn_->ids().acquire(kInternal);
  if (!id) return;
  protocol::QueryMessage q;
  q.query = cql;
  auto ok = conn_->send(protocol::make_request(options_.version, protocol::StreamId{*id},
                                               protocol::RequestBody(std::move(q))));
  if (!ok) conn_->ids().release(*id);
  conn_->schedule_flush();
}

void AsyncReads::on_upstream_frame(UpstreamConnection& connection, const protocol::Frame& frame) {
  const int16_t id = frame.header.stream.value;
  if (id < 0) return;  // events: the client hears them from its own connections
  auto owner = connection.ids().release(id);
  if (!owner) return;
  if (*owner == kHandshake) return on_handshake(frame);
  if (*owner == kInternal || *owner == StreamIdMap::kOrphan) return;
  --in_flight_;
  ++answered_;
  const auto* m = connection.metrics();
  if (!m) return;
  if (m->inflight_requests) m->inflight_requests->dec();
  const auto i = static_cast<size_t>(id);
  auto* histogram = is_read_[i] ? m->read_duration : m->write_duration;
  if (histogram) histogram->observe_duration(std::chrono::steady_clock::now() - started_[i]);
  if (frame.header.opcode == Opcode::Error) {
    auto peek = peek_response(frame.header, frame.body);
    const auto code = peek && peek->error ? *peek->error : protocol::ErrorCode::ServerError;
    if (m->requests_failed[0]) m->failed(node_error_of(code)).inc();
    spdlog::debug("async read on {} failed: {}", connection.node(),
                  protocol::error_code_name(code));
  }
}

void AsyncReads::on_handshake(const protocol::Frame& frame) {
  const auto op = frame.header.opcode;
  const bool v5 = options_.version >= protocol::ProtocolVersion::V5 &&
                  options_.version != protocol::ProtocolVersion::DseV1;
  if ((op == Opcode::Ready || op == Opcode::Authenticate) && v5 && state_ == State::StartupSent) {
    const auto c = options_.compression == protocol::Compression::Lz4 ? protocol::Compression::Lz4
                                                                       : protocol::Compression::None;
    if (auto ok = conn_->enable_segments(c); !ok) {
      state_ = State::Failed;
      return;
    }
  }
  auto send_token = [&](ByteView token) {
    auto id = conn_->ids().acquire(kHandshake);
    if (!id || ++auth_rounds_ > 5) {
      state_ = State::Failed;
      return;
    }
    Bytes f = auth_response_frame(options_.version, *id, token);
    (void)conn_->send_encoded(f);
    conn_->schedule_flush();
  };
  switch (op) {
    case Opcode::Ready:
    case Opcode::AuthSuccess:
      state_ = State::Ready;
      if (!options_.keyspace.empty()) send_internal_query("USE \"" + options_.keyspace + "\"");
      return;
    case Opcode::Authenticate:
      if (options_.credentials.empty()) {
        spdlog::debug("async connection to {} needs credentials; async reads disabled",
                      conn_->node());
        state_ = State::Failed;
        return;
      }
      state_ = State::Authenticating;
      send_token(options_.credentials);
      return;
    case Opcode::AuthChallenge: {
      // DseAuthenticator asks for the mechanism first ("PLAIN-START" after "PLAIN").
      send_token(options_.credentials);
      return;
    }
    default:
      spdlog::debug("async connection handshake to {} failed ({})", conn_->node(),
                    protocol::opcode_name(op));
      state_ = State::Failed;
      return;
  }
}

void AsyncReads::on_upstream_closed(UpstreamConnection&) {
  if (conn_) {
    if (auto* m = conn_->metrics(); m && m->inflight_requests) m->inflight_requests->dec(in_flight_);
  }
  in_flight_ = 0;
  state_ = State::Failed;
}

}  // namespace zdm::proxy
