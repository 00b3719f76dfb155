// The counting operator new/delete below use malloc/free; GCC then flags every inlined delete in
// this file as mismatched, which it is not.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "proxy/routing/forward_decision.hpp"

#include <cstdlib>
#include <memory>
#include <new>
#include <string>

#include <gtest/gtest.h>

// Counts heap allocations on this thread, so that a test can prove the routing decision does not
// allocate. Replacing the global operators affects the whole test binary, which only counts.
namespace {
thread_local size_t g_allocations = 0;
}  // namespace

namespace zdm::test {
size_t allocations_on_this_thread() { return g_allocations; }
}  // namespace zdm::test

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Every form that pairs with the deletes below: otherwise a nothrow or array new from the runtime
// (std::stable_sort's temporary buffer) would be freed here (ASan: alloc-dealloc-mismatch).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace zdm::proxy {
namespace {

using protocol::Opcode;
using protocol::StatementKind;

RoutingSettings origin_primary() { return RoutingSettings{}; }

RoutingSettings target_primary() {
  RoutingSettings s;
  s.primary_cluster = ClusterType::Target;
  return s;
}

struct Case {
  std::string_view cql;
  std::string_view session_keyspace;
  ForwardTarget target;
  bool is_read;
  bool send_async;
  InterceptedTable intercepted = InterceptedTable::None;
};

TEST(ForwardDecision, QueriesFollowTheReferenceRules) {
  const std::vector<Case> cases{
      {"SELECT * FROM ks.tbl WHERE id = 1", "", ForwardTarget::Origin, true, true},
      {"select a, b from tbl", "ks", ForwardTarget::Origin, true, true},
      {"  /* hint */ SELECT * FROM ks.tbl", "", ForwardTarget::Origin, true, true},
      {"INSERT INTO ks.tbl (a) VALUES (1)", "", ForwardTarget::Both, false, false},
      {"UPDATE tbl SET a = 1 WHERE k = 2", "ks", ForwardTarget::Both, false, false},
      {"DELETE FROM ks.tbl WHERE k = 1", "", ForwardTarget::Both, false, false},
      {"BEGIN BATCH INSERT INTO t (a) VALUES (1); APPLY BATCH", "ks", ForwardTarget::Both, false,
       false},
      {"CREATE TABLE ks.t (a int PRIMARY KEY)", "", ForwardTarget::Both, false, false},
      {"TRUNCATE ks.t", "", ForwardTarget::Both, false, false},
      {"USE ks2", "ks", ForwardTarget::Both, false, true},
      {"this is not cql", "", ForwardTarget::Both, false, false},
      {"", "", ForwardTarget::Both, false, false},
      {"CALL InsightsRpc.reportInsight(?)", "", ForwardTarget::None, false, false},
      {"call insightsrpc.reportInsight(?)", "", ForwardTarget::None, false, false},
      {"CALL OtherRpc.method()", "", ForwardTarget::Both, false, false},
      // System keyspaces: origin only, never async.
      {"SELECT * FROM system_schema.tables", "", ForwardTarget::Origin, false, false},
      {"SELECT * FROM System_Auth.roles", "", ForwardTarget::Origin, false, false},
      {"SELECT * FROM dse_insights.tokens", "", ForwardTarget::Origin, false, false},
      {"SELECT * FROM system.size_estimates", "", ForwardTarget::Origin, false, false},
      {"SELECT * FROM \"System\".local", "", ForwardTarget::Origin, true, true},  // not system
      {"SELECT * FROM systemx.t", "", ForwardTarget::Origin, true, true},
      // Intercepted.
      {"SELECT * FROM system.local WHERE key='local'", "", ForwardTarget::Proxy, false, false,
       InterceptedTable::Local},
      {"SELECT peer, rpc_address FROM system.peers", "", ForwardTarget::Proxy, false, false,
       InterceptedTable::Peers},
      {"SELECT * FROM SYSTEM.PEERS_V2", "", ForwardTarget::Proxy, false, false,
       InterceptedTable::PeersV2},
      {"SELECT * FROM local", "system", ForwardTarget::Proxy, false, false,
       InterceptedTable::Local},
      {"SELECT * FROM local", "ks", ForwardTarget::Origin, true, true},
      {"SELECT * FROM peers", "system_views", ForwardTarget::Origin, false, false},
  };
  for (const Case& c : cases) {
    const ForwardDecision d =
        decide_request(Opcode::Query, c.cql, c.session_keyspace, origin_primary());
    EXPECT_EQ(d.target, c.target) << c.cql << " -> " << forward_target_name(d.target);
    EXPECT_EQ(d.is_read, c.is_read) << c.cql;
    EXPECT_EQ(d.send_async, c.send_async) << c.cql;
    EXPECT_EQ(d.intercepted, c.intercepted) << c.cql;
    EXPECT_FALSE(d.needs_prepared_entry) << c.cql;
  }
}

TEST(ForwardDecision, ReadsGoToThePrimaryCluster) {
  const auto d = decide_statement("SELECT * FROM ks.t", "", target_primary());
  EXPECT_EQ(d.target, ForwardTarget::Target);
  EXPECT_TRUE(d.is_read);
  // Writes still go to both; system reads still go to origin.
  EXPECT_EQ(decide_statement("INSERT INTO ks.t (a) VALUES (1)", "", target_primary()).target,
            ForwardTarget::Both);
  EXPECT_EQ(decide_statement("SELECT * FROM system_schema.keyspaces", "", target_primary()).target,
            ForwardTarget::Origin);
}

TEST(ForwardDecision, SystemQueriesModeTargetSendsSystemReadsToTarget) {
  RoutingSettings s;
  s.system_queries_mode = SystemQueriesMode::Target;
  EXPECT_EQ(decide_statement("SELECT * FROM system_schema.tables", "", s).target,
            ForwardTarget::Target);
  // Intercepted tables stay with the proxy.
  EXPECT_EQ(decide_statement("SELECT * FROM system.local", "", s).target, ForwardTarget::Proxy);
}

TEST(ForwardDecision, ReportsTheKeyspaceAndTableTouched) {
  auto d = decide_statement("INSERT INTO \"MyKs\".Users (a) VALUES (1)", "session", {});
  EXPECT_EQ(d.keyspace.value(), "MyKs");
  EXPECT_EQ(d.table.value(), "users");
  EXPECT_EQ(d.statement, StatementKind::Insert);
  EXPECT_TRUE(d.track_metrics);

  d = decide_statement("SELECT * FROM users", "session_ks", {});
  EXPECT_EQ(d.keyspace.value(), "session_ks");
  EXPECT_EQ(d.table.value(), "users");

  d = decide_statement("USE other", "ks", {});
  EXPECT_EQ(d.keyspace.value(), "other");
  EXPECT_EQ(d.statement, StatementKind::Use);

  d = decide_statement("SELECT * FROM system.local", "", {});
  EXPECT_FALSE(d.track_metrics);
}

TEST(ForwardDecision, PrepareGoesToBothAndKeepsTheStatementDecision) {
  const auto select = decide_statement("SELECT * FROM ks.t WHERE k = ?", "", {});
  const auto prepare = decide_prepare(select);
  EXPECT_EQ(prepare.target, ForwardTarget::Both);
  EXPECT_TRUE(prepare.send_async);  // the async connection must know the statement too
  EXPECT_FALSE(prepare.is_read);

  const auto via_request =
      decide_request(Opcode::Prepare, "INSERT INTO ks.t (k) VALUES (?)", "", target_primary());
  EXPECT_EQ(via_request.target, ForwardTarget::Both);
  EXPECT_FALSE(via_request.send_async);

  const auto system = decide_request(Opcode::Prepare, "SELECT * FROM system.peers", "", {});
  EXPECT_EQ(system.target, ForwardTarget::Proxy);
  EXPECT_EQ(system.intercepted, InterceptedTable::Peers);

  const auto schema = decide_request(Opcode::Prepare, "SELECT * FROM system_schema.tables", "", {});
  EXPECT_EQ(schema.target, ForwardTarget::Both);
  EXPECT_FALSE(schema.send_async);
}

TEST(ForwardDecision, OtherOpcodes) {
  const RoutingSettings s;
  auto execute = decide_request(Opcode::Execute, "", "", s);
  EXPECT_TRUE(execute.needs_prepared_entry);

  auto batch = decide_request(Opcode::Batch, "", "ks", s);
  EXPECT_EQ(batch.target, ForwardTarget::Both);
  EXPECT_FALSE(batch.send_async);
  EXPECT_EQ(batch.statement, StatementKind::Batch);

  EXPECT_EQ(decide_request(Opcode::Startup, "", "", s).target, ForwardTarget::Both);
  EXPECT_FALSE(decide_request(Opcode::Startup, "", "", s).send_async);
  EXPECT_EQ(decide_request(Opcode::Register, "", "", s).target, ForwardTarget::Both);
  EXPECT_FALSE(decide_request(Opcode::Register, "", "", s).send_async);
  EXPECT_EQ(decide_request(Opcode::Options, "", "", s).target, ForwardTarget::Both);
  EXPECT_TRUE(decide_request(Opcode::Options, "", "", s).send_async);

  EXPECT_EQ(decide_request(Opcode::AuthResponse, "", "", s).target, ForwardTarget::Origin);
  RoutingSettings auth_target;
  auth_target.auth_to_target = true;
  EXPECT_EQ(decide_request(Opcode::AuthResponse, "", "", auth_target).target,
            ForwardTarget::Target);
}

TEST(ForwardDecision, DoesNotAllocate) {
  const RoutingSettings s;
  const std::string_view statements[] = {
      "INSERT INTO app.users (id, name) VALUES (?, ?)",
      "SELECT id, name FROM users WHERE id = ?",
      "SELECT * FROM system.local WHERE key='local'",
      "SELECT * FROM system_schema.tables",
      "CALL InsightsRpc.reportInsight(?)",
      "USE app",
  };
  size_t checksum = 0;
  const size_t before = g_allocations;
  for (std::string_view cql : statements) {
    const auto d = decide_request(Opcode::Query, cql, "app", s);
    checksum += static_cast<size_t>(d.target) + d.table.text.size();
  }
  EXPECT_EQ(g_allocations, before);
  EXPECT_GT(checksum, 0u);
  // The counter does see allocations (so the check above can fail).
  auto probe = std::make_unique<std::string>(64, 'x');
  EXPECT_GT(g_allocations, before);
  EXPECT_EQ(probe->size(), 64u);
}

TEST(ForwardDecision, SettingsComeFromTheConfiguration) {
  ProxyConfig config;
  config.primary_cluster = ClusterType::Target;
  config.system_queries_mode = SystemQueriesMode::Target;
  const auto s = RoutingSettings::from_config(config);
  EXPECT_EQ(s.primary_cluster, ClusterType::Target);
  EXPECT_EQ(s.system_queries_mode, SystemQueriesMode::Target);
}

}  // namespace
}  // namespace zdm::proxy
