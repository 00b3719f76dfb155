#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/secondary/write_capture.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/session_internal.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;
using namespace session_detail;

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
  const bool functions_rewritten = rewritten_body.has_value();
  // ZDM_SECONDARY_WRITE_MODE=async: a plain write goes to the primary only; its copy for the
  // secondary waits in the slot for the primary's answer (write_capture.hpp says which writes).
  std::unique_ptr<journal::WriteRecord> background;
  if (routing_->async_writes() && plan.decision.target == ForwardTarget::Both &&
      !plan.decision.is_read && ctx_.secondary_writer() && ctx_.secondary_writer()->accepting() &&
      (h.opcode == Opcode::Query || h.opcode == Opcode::Execute || h.opcode == Opcode::Batch)) {
    background = capture_background_write(frame, rewritten_body, plan);
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
    if (functions_rewritten) ++stats_.function_rewrites;
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
  if (h.opcode == Opcode::Execute && functions_rewritten) {
    s.function_values.assign(function_values_.begin(), function_values_.end());
    s.function_body_hash = function_body_hash_;
  }
  if (h.opcode == Opcode::Batch && functions_rewritten &&
      rewritten_body->size() <= kRetryBatchBodyMax) {
    s.function_batch_body.assign(rewritten_body->begin(), rewritten_body->end());
    s.function_body_hash = function_body_hash_;
  }
  s.background = std::move(background);
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
  if ((to_origin && !leg_ready(origin_)) || (to_target && !leg_ready(target_))) {
    // Only with async secondary writes does a ready session lose a connection and go on.
    const ClusterType down =
        to_origin && !leg_ready(origin_) ? ClusterType::Origin : ClusterType::Target;
    free_slot(slot_index);
    answer_error(frame.header.stream.value, ErrorCode::ServerError,
                 fmt::format("the proxy's connection to {} is down and this request needs it "
                             "(with ZDM_SECONDARY_WRITE_MODE=async only plain writes are "
                             "answered without the secondary cluster); retry shortly",
                             cluster_type_name(down)));
    return false;
  }
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
  if (!leg.conn || leg.conn->is_closed() || leg.state != LegState::Answered) return;
  if (now - leg.last_sent < routing_->heartbeat_interval) return;
  auto id = leg.conn->ids().acquire(kHeartbeatOwner);
  if (!id) return;
  leg.last_sent = now;
  (void)leg.conn->send(protocol::make_request(version_, protocol::StreamId{*id},
                                              protocol::RequestBody(protocol::OptionsMessage{})));
  leg.conn->schedule_flush();
}

std::unique_ptr<journal::WriteRecord> ClientSession::capture_background_write(
    const protocol::Frame& frame, std::optional<Bytes>& rewritten_body, RequestPlan& plan) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  CaptureInput in;
  in.header = &frame.header;
  in.body = rewritten_body ? ByteView(*rewritten_body) : frame.body;
  in.keyspace = keyspace_;
  in.prepared = &ctx_.prepared();
  in.secondary = routing_->secondary_cluster();
  in.now_us = ctx_.write_timestamps().next(
      std::chrono::duration_cast<std::chrono::microseconds>(now).count());
  in.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  CaptureResult captured = capture_write(in);
  if (!captured.write) {
    ++stats_.sync_writes_in_async_mode;
    return nullptr;
  }
  if (captured.write->body_with_timestamp) {
    rewritten_body = std::move(captured.write->body_with_timestamp);
  }
  if (routing_->primary_cluster == ClusterType::Origin) {
    plan.decision.target = ForwardTarget::Origin;
    plan.target_body = TargetBody::Same;  // target gets nothing from this session
  } else {
    plan.decision.target = ForwardTarget::Target;
  }
  ++stats_.background_writes;
  return std::make_unique<journal::WriteRecord>(std::move(captured.write->record));
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
