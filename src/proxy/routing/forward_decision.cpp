#include "proxy/routing/forward_decision.hpp"

#include <cctype>

namespace zdm::proxy {

using protocol::CqlName;
using protocol::Opcode;
using protocol::StatementKind;

namespace {

// Whether `name` starts with `prefix` (lower case): unquoted names compare case-insensitively.
bool name_starts_with(const CqlName& name, std::string_view prefix) {
  if (name.text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = name.text[i];
    if (!name.quoted) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c != prefix[i]) return false;
  }
  return true;
}

// CALL InsightsRpc.<method>(...): DSE drivers' fire-and-forget Insights reports.
bool is_insights_call(std::string_view cql) {
  protocol::CqlLexer lexer(cql);
  if (!lexer.next().is_keyword("call")) return false;
  const protocol::CqlToken rpc = lexer.next();
  return rpc.kind == protocol::CqlTokenKind::Identifier &&
         protocol::iequals(rpc.text, "InsightsRpc");
}

ForwardTarget cluster_target(ClusterType c) {
  return c == ClusterType::Target ? ForwardTarget::Target : ForwardTarget::Origin;
}

// Sets the route and the target it gives under `settings`.
void route_to(ForwardDecision& d, Route route, const RoutingSettings& settings) {
  d.route = route;
  d.target = target_of(route, settings);
}

}  // namespace

ForwardTarget target_of(Route route, const RoutingSettings& settings) {
  switch (route) {
    case Route::Both:
      return ForwardTarget::Both;
    case Route::Primary:
      return cluster_target(settings.primary_cluster);
    case Route::SystemRead:
      return settings.system_queries_mode == SystemQueriesMode::Target ? ForwardTarget::Target
                                                                       : ForwardTarget::Origin;
    case Route::Auth:
      return settings.auth_to_target ? ForwardTarget::Target : ForwardTarget::Origin;
    case Route::Proxy:
      return ForwardTarget::Proxy;
    case Route::None:
      return ForwardTarget::None;
  }
  return ForwardTarget::Both;
}

std::string_view forward_target_name(ForwardTarget t) {
  switch (t) {
    case ForwardTarget::Origin:
      return "origin";
    case ForwardTarget::Target:
      return "target";
    case ForwardTarget::Both:
      return "both";
    case ForwardTarget::Proxy:
      return "proxy";
    case ForwardTarget::None:
      return "none";
  }
  return "?";
}

bool is_system_keyspace(const CqlName& keyspace) {
  return keyspace.matches("system") || name_starts_with(keyspace, "system_") ||
         name_starts_with(keyspace, "dse_");
}

ForwardDecision decide_statement(std::string_view cql, std::string_view keyspace,
                                 const RoutingSettings& settings) {
  const protocol::StatementInfo info = protocol::classify_statement(cql);
  ForwardDecision d;
  d.statement = info.kind;
  d.keyspace = info.keyspace.empty() ? CqlName{keyspace, true} : info.keyspace;
  d.table = info.table;
  d.track_metrics = true;

  switch (info.kind) {
    case StatementKind::Select: {
      if (is_system_keyspace(d.keyspace)) {
        if (d.keyspace.matches("system")) {
          if (d.table.matches("local")) d.intercepted = InterceptedTable::Local;
          if (d.table.matches("peers")) d.intercepted = InterceptedTable::Peers;
          if (d.table.matches("peers_v2")) d.intercepted = InterceptedTable::PeersV2;
        }
        d.track_metrics = false;
        route_to(d, d.intercepted != InterceptedTable::None ? Route::Proxy : Route::SystemRead,
                 settings);
        return d;  // never async (reference issue #41)
      }
      route_to(d, Route::Primary, settings);
      d.is_read = true;
      d.send_async = true;
      return d;
    }
    case StatementKind::Use:
      d.send_async = true;
      return d;  // Both
    case StatementKind::Other:
      if (is_insights_call(cql)) {
        route_to(d, Route::None, settings);
        d.track_metrics = false;
      }
      return d;
    default:
      return d;  // Both
  }
}

ForwardDecision decide_prepare(const ForwardDecision& statement) {
  ForwardDecision d = statement;
  d.needs_prepared_entry = false;
  // Both clusters must hold the statement, whatever EXECUTE will do; intercepted statements are
  // prepared by the proxy itself. A SELECT's PREPARE also goes to the async connection so that
  // its EXECUTEs can follow.
  d.route = statement.route == Route::Proxy ? Route::Proxy : Route::Both;
  d.target = statement.route == Route::Proxy ? ForwardTarget::Proxy : ForwardTarget::Both;
  d.is_read = false;
  d.track_metrics = false;
  d.send_async = statement.is_read;
  return d;
}

ForwardDecision decide_request(Opcode opcode, std::string_view cql, std::string_view keyspace,
                               const RoutingSettings& settings) {
  ForwardDecision d;
  switch (opcode) {
    case Opcode::Query:
      return decide_statement(cql, keyspace, settings);
    case Opcode::Prepare:
      return decide_prepare(decide_statement(cql, keyspace, settings));
    case Opcode::Execute:
      d.needs_prepared_entry = true;
      d.track_metrics = true;
      return d;
    case Opcode::Batch:
      d.statement = StatementKind::Batch;
      d.keyspace = CqlName{keyspace, true};
      d.track_metrics = true;
      return d;
    case Opcode::AuthResponse:
      route_to(d, Route::Auth, settings);
      return d;
    case Opcode::Startup:
    case Opcode::Register:
      return d;
    default:
      d.send_async = true;
      return d;
  }
}

}  // namespace zdm::proxy
