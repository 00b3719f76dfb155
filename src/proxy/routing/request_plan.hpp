#pragma once
// Routing as pure functions: one plan per request kind (QUERY, PREPARE, EXECUTE, BATCH, the
// rest). A plan reads the request's peeked view, the session's routing state and the shared
// lookup tables (prepared cache, virtual topology) and says either what to send where (which
// clusters, how each cluster's bytes differ from the client's, what the answer must remember) or
// which answer the proxy gives itself. It changes nothing: the session carries it out
// (ClientSession::carry_out), and the answers come back through join_answers (answer_join.hpp).
// One function per kind: route_query, route_prepare, route_execute, route_batch, route_other.
//
// Rules (the reference's routing table, ../shared/ref/reference-proxy-notes.md 1.5):
// - QUERY: decide_statement; system.local/peers answered from the virtual topology; now()/uuid()
//   in a write replaced when ZDM_REPLACE_CQL_FUNCTIONS is on.
// - PREPARE: both clusters (the statement's own route is cached for its EXECUTEs); intercepted
//   statements are prepared by the proxy (answer + the statement to remember).
// - EXECUTE: the cached statement's route, resolved against the routing settings of now; an
//   unknown id gets UNPREPARED; target gets its own prepared id whenever it receives the request
//   (also as the async copy of DUAL_ASYNC_ON_SECONDARY).
// - BATCH: both clusters; any unknown child id gets UNPREPARED; target gets its prepared ids.
// - REGISTER, OPTIONS-like and the rest: decide_request.
//
// LIFETIME: views in a plan (prepared id, query text, keyspace) point into the request's body or
// into `entry`; a plan lives no longer than the request's frame.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"
#include "protocol/peek.hpp"
#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/routing/answer_join.hpp"
#include "proxy/routing/forward_decision.hpp"
#include "proxy/routing/prepared_cache.hpp"

namespace zdm::proxy {

// The session state routing reads, taken once per request.
struct SessionRouting {
  std::string_view keyspace;  // the session's keyspace (USE)
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;
  RoutingSettings settings;        // primary cluster, system-query cluster, auth primary
  bool async_reads = false;        // DUAL_ASYNC_ON_SECONDARY
  bool replace_functions = false;  // ZDM_REPLACE_CQL_FUNCTIONS
};

// Shared lookups (thread-safe, read-only for planning).
struct RoutingTables {
  const PreparedCache* prepared = nullptr;
  const VirtualTopology* topology = nullptr;  // null until the proxy knows its topology
};

enum class PlanKind : uint8_t {
  Forward,           // send to decision.target
  AnswerLocally,     // the proxy answers `local_answer`
  AnswerError,       // the proxy answers ERROR error_code / error_message
  AnswerUnprepared,  // the proxy answers UNPREPARED for `unprepared_id`
  Drop,              // no answer at all (DSE Insights reports)
};

// How a request's body changes on its way.
enum class FunctionRewrite : uint8_t { None, Query, Prepare, Execute, Batch };
enum class TargetBody : uint8_t {
  Same,                 // target gets what origin gets
  ExecuteWithTargetId,  // the EXECUTE's prepared id becomes target's
  BatchWithTargetIds,   // every prepared child's id becomes target's
};

struct RequestPlan {
  PlanKind kind = PlanKind::Forward;
  ForwardDecision decision;
  uint16_t consistency = 1;
  JoinKind join = JoinKind::Other;
  TimeoutKind timeout_kind = TimeoutKind::Write;
  FunctionRewrite rewrite = FunctionRewrite::None;
  TargetBody target_body = TargetBody::Same;
  // EXECUTE: the cached statement (kept alive for the request) and the id the client used.
  std::shared_ptr<const PreparedEntry> entry;
  ByteView prepared_id;
  // PREPARE: what the answers are recorded with.
  StoredDecision prepare_decision;
  std::string_view prepare_query;
  std::string_view prepare_keyspace;
  // Reads copied to the secondary: the text for the comparison log, and whether this is a
  // continuation page (not compared).
  std::string_view statement_text;
  bool continuation_page = false;
  // Answers given by the proxy.
  std::optional<protocol::ResponseBody> local_answer;
  std::optional<InterceptedStatement> intercepted;  // PREPARE answered locally: remember it
  protocol::ErrorCode error_code = protocol::ErrorCode::ServerError;
  std::string error_message;
  ByteView unprepared_id;
  bool prepared_cache_miss = false;  // count zdm_pscache_miss_total

  bool to_origin() const {
    return decision.target == ForwardTarget::Origin || decision.target == ForwardTarget::Both;
  }
  bool to_target() const {
    return decision.target == ForwardTarget::Target || decision.target == ForwardTarget::Both;
  }
};

RequestPlan route_query(const protocol::QueryPeek& query, const SessionRouting& session,
                        const RoutingTables& tables);
RequestPlan route_prepare(const protocol::PreparePeek& prepare, const SessionRouting& session);
// `header`/`body`: the EXECUTE itself (an intercepted statement's values are decoded from it).
RequestPlan route_execute(const protocol::ExecutePeek& execute, const protocol::FrameHeader& header,
                          ByteView body, const SessionRouting& session,
                          const RoutingTables& tables);
RequestPlan route_batch(const protocol::BatchPeek& batch, const SessionRouting& session,
                        const RoutingTables& tables);
// REGISTER and any other opcode forwarded as is.
RequestPlan route_other(protocol::Opcode opcode, const SessionRouting& session);

}  // namespace zdm::proxy
