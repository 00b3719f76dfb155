#include "proxy/routing/request_plan.hpp"

#include <utility>
#include <variant>
#include <vector>

#include "proxy/routing/function_rewriter.hpp"

namespace zdm::proxy {

using protocol::ErrorCode;
using protocol::Opcode;

namespace {

RequestPlan forward(ForwardDecision decision, uint16_t consistency, Opcode opcode) {
  RequestPlan p;
  p.decision = decision;
  p.consistency = consistency;
  p.join = opcode == Opcode::Prepare ? JoinKind::Prepare : JoinKind::Other;
  p.timeout_kind = decision.is_read          ? TimeoutKind::Read
                   : opcode == Opcode::Batch ? TimeoutKind::BatchWrite
                                             : TimeoutKind::Write;
  if (decision.target == ForwardTarget::None) p.kind = PlanKind::Drop;
  return p;
}

[[gnu::cold]] RequestPlan answer(protocol::ResponseBody body) {
  RequestPlan p;
  p.kind = PlanKind::AnswerLocally;
  p.local_answer = std::move(body);
  return p;
}

[[gnu::cold]] RequestPlan answer_error(ErrorCode code, std::string message) {
  RequestPlan p;
  p.kind = PlanKind::AnswerError;
  p.error_code = code;
  p.error_message = std::move(message);
  return p;
}

RequestPlan answer_unprepared(ByteView id) {
  RequestPlan p;
  p.kind = PlanKind::AnswerUnprepared;
  p.unprepared_id = id;
  p.prepared_cache_miss = true;
  return p;
}

bool replaces_functions(const SessionRouting& session, protocol::StatementKind kind,
                        std::string_view cql) {
  return session.replace_functions && is_rewritable_kind(kind) && may_contain_replaced_call(cql);
}

}  // namespace

RequestPlan route_query(const protocol::QueryPeek& query, const SessionRouting& session,
                        const RoutingTables& tables) {
  const std::string_view ks = query.params.keyspace ? *query.params.keyspace : session.keyspace;
  const ForwardDecision decision = decide_statement(query.query, ks, session.settings);
  if (decision.target == ForwardTarget::Proxy) {
    if (!tables.topology) {
      return answer_error(ErrorCode::ServerError, "the proxy topology is not ready yet");
    }
    return answer(tables.topology->query(query.query, ks));
  }
  RequestPlan p = forward(decision, query.params.consistency, Opcode::Query);
  p.statement_text = query.query;
  p.continuation_page = query.params.paging_state.has_value();
  if (replaces_functions(session, decision.statement, query.query)) {
    p.rewrite = FunctionRewrite::Query;
  }
  return p;
}

RequestPlan route_prepare(const protocol::PreparePeek& prepare, const SessionRouting& session) {
  const std::string_view ks = prepare.keyspace ? *prepare.keyspace : session.keyspace;
  const ForwardDecision statement = decide_statement(prepare.query, ks, session.settings);
  if (statement.target == ForwardTarget::Proxy) {
    auto prepared = prepare_system_select(prepare.query, ks, session.version);
    if (!prepared) return answer(protocol::ResponseBody(prepared.error()));
    InterceptedStatement st;
    st.id = prepared->result.id;
    st.query = std::string(prepare.query);
    st.keyspace = std::string(ks);
    st.select = prepared->select;
    protocol::ResultMessage result;
    result.result = prepared->result;
    RequestPlan p = answer(protocol::ResponseBody(std::move(result)));
    p.intercepted = std::move(st);
    return p;
  }
  RequestPlan p = forward(decide_prepare(statement), 1, Opcode::Prepare);
  p.prepare_decision = StoredDecision::from(statement);
  p.prepare_query = prepare.query;
  p.prepare_keyspace = ks;
  if (replaces_functions(session, statement.statement, prepare.query)) {
    p.rewrite = FunctionRewrite::Prepare;
  }
  return p;
}

RequestPlan route_execute(const protocol::ExecutePeek& execute, const protocol::FrameHeader& header,
                          ByteView body, const SessionRouting& session,
                          const RoutingTables& tables) {
  if (auto local = tables.prepared->find_intercepted(execute.prepared_id)) {
    auto msg = protocol::decode_message(header, body);
    if (!tables.topology || !msg) {
      return answer_error(ErrorCode::ServerError, "cannot answer the system query");
    }
    const auto& ex = std::get<protocol::ExecuteMessage>(std::get<protocol::RequestBody>(msg->body));
    std::vector<protocol::BoundValue> values;
    if (ex.parameters.values) values = *ex.parameters.values;
    return answer(tables.topology->execute(local->select, values));
  }
  auto entry = tables.prepared->find(execute.prepared_id);
  if (!entry) return answer_unprepared(execute.prepared_id);

  ForwardDecision decision;
  const StoredDecision& stored = entry->decision;
  decision.route = stored.route;
  decision.target = target_of(stored.route, session.settings);
  decision.is_read = stored.is_read;
  decision.send_async = stored.send_async;
  decision.track_metrics = stored.track_metrics;
  decision.statement = stored.statement;
  // Stored names are internal names already (treated as quoted: no case folding).
  decision.keyspace = protocol::CqlName{stored.keyspace, true};
  decision.table = protocol::CqlName{stored.table, true};

  RequestPlan p = forward(decision, execute.params.consistency, Opcode::Execute);
  p.prepared_id = execute.prepared_id;
  if (entry->functions) p.rewrite = FunctionRewrite::Execute;
  const bool async_to_target = decision.send_async && session.async_reads &&
                               session.settings.primary_cluster == ClusterType::Origin;
  if ((p.to_target() || async_to_target) && entry->target_id != entry->origin_id) {
    p.target_body = TargetBody::ExecuteWithTargetId;
  }
  if (decision.send_async) {
    p.continuation_page = execute.params.paging_state.has_value();
    p.statement_text = entry->query;
  }
  p.entry = std::move(entry);
  return p;
}

RequestPlan route_batch(const protocol::BatchPeek& batch, const SessionRouting& session,
                        const RoutingTables& tables) {
  RequestPlan p = forward(decide_request(Opcode::Batch, {}, session.keyspace, session.settings),
                          batch.consistency, Opcode::Batch);
  bool any_prepared = false;
  bool functions = false;  // a child may have now()/uuid() to replace
  for (const auto& child : batch.children) {
    if (child.kind != protocol::BatchChildPeek::Kind::Prepared) {
      functions =
          functions || (session.replace_functions && may_contain_replaced_call(child.query));
      continue;
    }
    any_prepared = true;
    auto entry = tables.prepared->find(child.prepared_id);
    if (!entry) return answer_unprepared(child.prepared_id);
    functions = functions || entry->functions != nullptr;
  }
  if (functions) p.rewrite = FunctionRewrite::Batch;
  if (any_prepared) p.target_body = TargetBody::BatchWithTargetIds;
  return p;
}

RequestPlan route_other(Opcode opcode, const SessionRouting& session) {
  return forward(decide_request(opcode, {}, session.keyspace, session.settings), 1, opcode);
}

}  // namespace zdm::proxy
