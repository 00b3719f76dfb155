#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/message_codec.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/session_internal.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using namespace session_detail;

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
    if (phase_ != Phase::Ready) {
      on_handshake_frame(leg, frame);
    } else if (leg.state != LegState::Answered) {
      on_restore_frame(leg, frame);  // a secondary connection opened again (async writes)
    }
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
    if (info_) info_->set_keyspace(keyspace_);
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
  if (s.background) {
    // Async secondary writes: the primary applied it, the client hears so now; the secondary's
    // copy is the SecondaryWriter's to deliver (or journal).
    if (joined.failed_on == FailedOn::None)
      ctx_.secondary_writer()->submit(std::move(*s.background));
    s.background.reset();
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
    if (self->draining_ && self->in_flight_.empty()) return self->close_after_flush();
    if (self->origin_.conn) self->origin_.conn->publish_stream_ids();
    if (self->target_.conn) self->target_.conn->publish_stream_ids();
  });
}

void ClientSession::on_upstream_closed(UpstreamConnection& connection) {
  if (is_closed()) return;
  if (keeps_running_without(connection)) return lose_secondary_leg(leg_of(connection));
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
  s.background.reset();
  s.origin_error = ErrorCode::ServerError;
  s.target_error = ErrorCode::ServerError;
  s.start = Clock::now();
  if (info_) info_->note_request(s.start);
  // One timer serves the session: it waits for the first deadline of the list.
  if (in_flight_.insert(index, s.start + routing_->request_timeout) && timer_armed_) {
    deadline_timer_.cancel();  // an earlier deadline than the one waited for (shorter timeout)
  }
  arm_deadline_timer();
  return index;
}

void ClientSession::free_slot(uint32_t index) {
  Slot& s = slots_[index];
  if (!s.in_use) return;
  s.in_use = false;
  in_flight_.remove(index);
  // Large answers kept for joining are not retained by idle slots.
  if (s.stored.capacity() > 64 * 1024) Bytes().swap(s.stored);
  free_slots_.push_back(index);
}

void ClientSession::arm_deadline_timer() {
  const auto first = in_flight_.first();
  if (timer_armed_ || !first || is_closed()) return;
  timer_armed_ = true;
  deadline_timer_.expires_at(in_flight_.deadline(*first));
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
  for (auto first = in_flight_.first(); first && in_flight_.deadline(*first) <= now;
       first = in_flight_.first()) {
    expire(*first);
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
  settle_unanswered(s);
  if (routing_->timeout_behaviour == TimeoutBehaviour::Error) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(in_flight_.deadline(index) - s.start);
    auto error = make_timeout_error(s.timeout_kind, s.consistency, waited.count());
    (void)send(protocol::make_response(version_, protocol::StreamId{s.client_stream},
                                       protocol::ResponseBody(std::move(error))));
  }
  free_slot(index);
}

void ClientSession::abandon(uint32_t index, std::string why) {
  Slot& s = slots_[index];
  settle_unanswered(s);
  answer_error(s.client_stream, ErrorCode::ServerError, std::move(why));
  free_slot(index);
}

void ClientSession::settle_unanswered(Slot& s) {
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
  s.background.reset();  // not acknowledged: no copy owed
}

}  // namespace zdm::proxy
