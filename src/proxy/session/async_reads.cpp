#include "proxy/session/async_reads.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "protocol/message_codec.hpp"
#include "proxy/routing/answer_join.hpp"

namespace zdm::proxy {

using protocol::Opcode;

AsyncReads::AsyncReads(AsyncReadsOptions options)
    : options_(std::move(options)),
      alive_(std::make_shared<AsyncReads*>(this)),
      comparisons_(static_cast<size_t>(std::max(1, options_.max_in_flight)), options_.version) {}

AsyncReads::~AsyncReads() {
  *alive_ = nullptr;
  close();
}

void AsyncReads::start(std::shared_ptr<UpstreamConnection> connection) {
  conn_ = std::move(connection);
  const size_t ids = static_cast<size_t>(conn_->ids().capacity());
  started_.assign(ids, {});
  is_read_.assign(ids, 0);
  ticket_.assign(ids, {});
  deadlines_.clear();
  deadlines_.reserve(ids);
  timer_ = std::make_unique<boost::asio::steady_timer>(conn_->executor());
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
  // Frame compression in v3/v4 and the DSE versions (0x41/0x42 sort above v5 numerically).
  if (!protocol::uses_segments(options_.version)) {
    conn_->enable_compression(options_.compression);
  }
  state_ = State::StartupSent;
  conn_->schedule_flush();
}

void AsyncReads::close() {
  if (conn_) {
    if (auto* m = conn_->metrics(); m && m->inflight_requests)
      m->inflight_requests->dec(in_flight_);
    in_flight_ = 0;
    conn_->detach();
    conn_.reset();
  }
  if (timer_) timer_->cancel();
  deadlines_.clear();
  comparisons_.clear();
  state_ = State::Failed;
}

bool AsyncReads::send(ByteView wire, bool is_read, ReadComparisons::Ticket comparison) {
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
  started_[i] = Clock::now();
  is_read_[i] = is_read ? 1 : 0;
  ticket_[i] = comparison;
  deadlines_.insert(static_cast<uint32_t>(*id), started_[i] + options_.timeout);
  arm_timer();
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
  if (*owner == kReprepare) {
    // The statement is prepared again (or could not be): later copies may use the id.
    std::erase_if(repreparing_, [id](const auto& r) { return r.first == id; });
    if (frame.header.opcode == Opcode::Error) {
      spdlog::debug("async re-prepare on {} failed", connection.node());
    }
    return;
  }
  if (*owner == kInternal || *owner == StreamIdMap::kOrphan) return;
  deadlines_.remove(static_cast<uint32_t>(id));
  --in_flight_;
  ++answered_;
  const auto i = static_cast<size_t>(id);
  const auto ticket = ticket_[i];
  ticket_[i] = {};
  const bool error = frame.header.opcode == Opcode::Error;
  Result<ResponsePeek> peek = ResponsePeek{};
  if (error || ticket.valid()) {
    peek = peek_response(frame.header, frame.body);
    if (!peek) {
      ResponsePeek fallback;
      fallback.opcode = frame.header.opcode;
      fallback.error = protocol::ErrorCode::ServerError;
      peek = fallback;
    }
  }
  if (ticket.valid()) comparisons_.secondary(ticket, *peek);
  if (error && peek->error == protocol::ErrorCode::Unprepared) {
    // ERROR body: [int code][string message][short bytes id].
    ByteReader r(peek->message);
    if (r.read_i32() && r.read_string()) {
      if (auto sent_id = r.read_short_bytes()) reprepare(*sent_id);
    }
  }
  const auto* m = connection.metrics();
  if (!m) return;
  if (m->inflight_requests) m->inflight_requests->dec();
  auto* histogram = is_read_[i] ? m->read_duration : m->write_duration;
  if (histogram) histogram->observe_duration(Clock::now() - started_[i]);
  if (error) {
    const auto code = peek->error ? *peek->error : protocol::ErrorCode::ServerError;
    if (m->requests_failed[0]) m->failed(node_error_of(code)).inc();
    spdlog::debug("async read on {} failed: {}", connection.node(),
                  protocol::error_code_name(code));
  }
}

void AsyncReads::reprepare(ByteView sent_id) {
  if (!options_.prepared || !conn_ || state_ != State::Ready) return;
  for (const auto& [stream, pending] : repreparing_) {
    if (pending.size() == sent_id.size() &&
        std::equal(sent_id.begin(), sent_id.end(), pending.begin())) {
      return;  // one re-PREPARE per id at a time: a burst of UNPREPARED sends one
    }
  }
  if (repreparing_.size() >= 16) return;
  std::shared_ptr<const PreparedEntry> entry;
  if (options_.secondary_is_target) {
    if (auto origin_id = options_.prepared->origin_id_for_target(sent_id)) {
      entry = options_.prepared->find(*origin_id);
    }
  } else {
    entry = options_.prepared->find(sent_id);
  }
  if (!entry) return;  // evicted: the client's next PREPARE refreshes both clusters
  auto id = conn_->ids().acquire(kReprepare);
  if (!id) return;
  protocol::PrepareMessage p;
  p.query = entry->query;
  if (!entry->keyspace.empty() && protocol::uses_keyspace_flag(options_.version)) {
    p.keyspace = entry->keyspace;
  }
  auto ok = conn_->send(protocol::make_request(options_.version, protocol::StreamId{*id},
                                               protocol::RequestBody(std::move(p))));
  if (!ok) {
    conn_->ids().release(*id);
    return;
  }
  repreparing_.emplace_back(*id, Bytes(sent_id.begin(), sent_id.end()));
  ++reprepares_;
  if (options_.reprepares) options_.reprepares->inc();
  spdlog::debug("async connection to {}: statement {} unprepared, re-preparing", conn_->node(),
                to_hex(sent_id));
  conn_->schedule_flush();
}

void AsyncReads::arm_timer() {
  const auto first = deadlines_.first();
  if (timer_armed_ || !first || !timer_) return;
  timer_armed_ = true;
  timer_->expires_at(deadlines_.deadline(*first));
  timer_->async_wait([alive = alive_](boost::system::error_code ec) {
    AsyncReads* self = *alive;
    if (!self) return;
    self->timer_armed_ = false;
    if (ec || !self->conn_) return;
    self->on_timer();
  });
}

void AsyncReads::on_timer() {
  const auto now = Clock::now();
  for (auto first = deadlines_.first(); first && deadlines_.deadline(*first) <= now;
       first = deadlines_.first()) {
    expire(static_cast<int16_t>(*first));
  }
  arm_timer();
}

void AsyncReads::expire(int16_t id) {
  deadlines_.remove(static_cast<uint32_t>(id));
  const auto i = static_cast<size_t>(id);
  // The id stays taken until the late answer (dropped then), so it is never reused while the
  // node may still answer on it.
  conn_->ids().orphan(id);
  --in_flight_;
  ++timeouts_;
  if (ticket_[i].valid()) comparisons_.abandon(ticket_[i], ComparisonResult::Timeout);
  ticket_[i] = {};
  if (const auto* m = conn_->metrics()) {
    if (m->inflight_requests) m->inflight_requests->dec();
    if (m->requests_failed[0]) m->failed(NodeError::ClientTimeout).inc();
  }
}

void AsyncReads::on_handshake(const protocol::Frame& frame) {
  const auto op = frame.header.opcode;
  const bool v5 = protocol::uses_segments(options_.version);  // DSE_V2 has no segments
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
    if (auto* m = conn_->metrics(); m && m->inflight_requests)
      m->inflight_requests->dec(in_flight_);
  }
  in_flight_ = 0;
  deadlines_.clear();
  if (timer_) timer_->cancel();
  comparisons_.clear();
  state_ = State::Failed;
}

}  // namespace zdm::proxy
