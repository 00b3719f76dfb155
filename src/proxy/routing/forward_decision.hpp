#pragma once
// Where a request goes: the reference proxy's "forward decision" (notes section 1.5), computed
// from the opcode plus a cheap classification of the statement's first tokens
// (protocol::classify_statement). No allocation, no full parse: this runs for every QUERY.
//
// A decision has two parts: the statement's `route` (what kind of request it is: a write for both
// clusters, a read for the primary, a system read, ...), fixed by its text and cached with a
// prepared statement, and the `target` cluster(s), which `target_of` derives from the route and
// the routing settings of the moment (the primary cluster can change while the proxy runs).
//
// Rules:
// - QUERY / PREPARE text:
//   - SELECT from system.local / system.peers / system.peers_v2 -> Proxy (answered locally);
//   - SELECT from another system keyspace (system, system_*, dse_*) -> Origin, or Target with
//     SYSTEM_QUERIES_MODE=TARGET; never async;
//   - any other SELECT -> the primary cluster; a read; eligible for async dual reads;
//   - USE -> Both, eligible for async (the async connection must follow the keyspace);
//   - CALL InsightsRpc.* -> None (never forwarded, no response);
//   - everything else (writes, DDL, BATCH text, unparseable text) -> Both.
// - PREPARE -> Both (or Proxy when intercepted); the statement's own decision is what EXECUTE
//   uses later (cache it with the prepared id).
// - EXECUTE -> decided by the prepared cache entry (needs_prepared_entry).
// - BATCH -> Both, never async.
// - AUTH_RESPONSE -> the auth-primary cluster only. STARTUP, REGISTER -> Both.
// - OPTIONS and any other opcode -> Both, eligible for async.

#include <cstdint>
#include <string_view>

#include "protocol/cql_lexer.hpp"
#include "protocol/frame_header.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

enum class ForwardTarget : uint8_t {
  Origin,
  Target,
  Both,
  Proxy,  // answered by the proxy (intercepted system.local / peers / peers_v2)
  None,   // dropped without a response (DSE Insights reports)
};
std::string_view forward_target_name(ForwardTarget t);  // "origin", "both", ...

// What kind of request a statement is, for routing (independent of which cluster is primary).
enum class Route : uint8_t {
  Both,        // writes, DDL, USE, BATCH, STARTUP, ...: every cluster
  Primary,     // non-system reads: the primary cluster
  SystemRead,  // reads of other system tables: SYSTEM_QUERIES_MODE's cluster
  Auth,        // AUTH_RESPONSE: the auth-primary cluster of the connection
  Proxy,       // answered by the proxy (intercepted system.local / peers / peers_v2)
  None,        // dropped without a response (DSE Insights reports)
};

enum class InterceptedTable : uint8_t { None, Local, Peers, PeersV2 };

// The slice of the configuration routing reads; a per-connection snapshot (the auth primary is
// chosen per connection from the clusters' auth settings).
struct RoutingSettings {
  ClusterType primary_cluster = ClusterType::Origin;
  SystemQueriesMode system_queries_mode = SystemQueriesMode::Origin;
  bool auth_to_target = false;  // AUTH_RESPONSE goes to TARGET instead of ORIGIN

  static RoutingSettings from_config(const ProxyConfig& config) {
    return RoutingSettings{config.primary_cluster, config.system_queries_mode, false};
  }
};

// LIFETIME: `keyspace` and `table` view the statement text or the session keyspace passed in.
struct ForwardDecision {
  Route route = Route::Both;
  ForwardTarget target = ForwardTarget::Both;  // target_of(route, settings) when decided
  InterceptedTable intercepted = InterceptedTable::None;
  bool is_read = false;        // a non-system SELECT (routed to the primary only)
  bool send_async = false;     // eligible for async dual reads (DUAL_ASYNC_ON_SECONDARY)
  bool track_metrics = false;  // counted in proxy request metrics (not handshake/system traffic)
  bool needs_prepared_entry = false;  // EXECUTE: route by the prepared cache entry
  protocol::StatementKind statement = protocol::StatementKind::Other;
  // The keyspace and table touched, for per-table metrics. An unqualified table takes the
  // session keyspace (marked quoted: it is already an exact, internal name).
  protocol::CqlName keyspace;
  protocol::CqlName table;
};

// The decision for a statement as a QUERY (also what an EXECUTE of it uses). `keyspace` is the
// request's keyspace: the v5 per-query keyspace if present, else the session keyspace.
ForwardDecision decide_statement(std::string_view cql, std::string_view keyspace,
                                 const RoutingSettings& settings);

// How the PREPARE of a statement is routed, given the statement's decision.
ForwardDecision decide_prepare(const ForwardDecision& statement);

// Any request. `cql` is the statement text for QUERY and PREPARE (ignored otherwise).
ForwardDecision decide_request(protocol::Opcode opcode, std::string_view cql,
                               std::string_view keyspace, const RoutingSettings& settings);

// The cluster(s) a route goes to under `settings`.
ForwardTarget target_of(Route route, const RoutingSettings& settings);

// system, system_* and dse_* keyspaces (their reads never go to both clusters).
bool is_system_keyspace(const protocol::CqlName& keyspace);

}  // namespace zdm::proxy
