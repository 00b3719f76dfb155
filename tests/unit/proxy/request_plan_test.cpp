// The routing table, rule by rule, without sockets: each request kind's plan for a given session
// state and routing snapshot (../shared/ref/reference-proxy-notes.md 1.5 and 1.7).
#include "proxy/routing/request_plan.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "allocation_counter.hpp"
#include "protocol/frame_codec.hpp"
#include "proxy/routing/routing_snapshot.hpp"

namespace zdm::proxy {
namespace {

using protocol::ErrorCode;
using protocol::Opcode;
using protocol::ProtocolVersion;

// A request as the proxy receives it: header and uncompressed body (kept alive by the test).
struct Wire {
  protocol::FrameHeader header;
  Bytes body;
};

Wire wire(protocol::RequestBody body, ProtocolVersion v = ProtocolVersion::V4) {
  const Bytes frame =
      protocol::encode_frame(protocol::make_request(v, protocol::StreamId{5}, std::move(body)));
  auto h = protocol::decode_frame_header(frame);
  EXPECT_TRUE(h);
  return Wire{*h, Bytes(frame.begin() + protocol::kFrameHeaderSize, frame.end())};
}

Bytes id(std::string_view s) { return Bytes(s.begin(), s.end()); }

class RequestPlanTest : public ::testing::Test {
 protected:
  RequestPlanTest() : cache_(100) {
    session_.keyspace = "shop";
    tables_.prepared = &cache_;
  }

  void primary(ClusterType c) { session_.settings.primary_cluster = c; }

  RequestPlan query(std::string cql, std::optional<Bytes> paging_state = std::nullopt) {
    protocol::QueryMessage q;
    q.query = std::move(cql);
    q.parameters.consistency = protocol::Consistency::LocalQuorum;
    q.parameters.paging_state = std::move(paging_state);
    keep_ = wire(protocol::RequestBody(q));
    auto peek = protocol::peek_query(keep_.header, keep_.body);
    EXPECT_TRUE(peek);
    return route_query(*peek, session_, tables_);
  }
  RequestPlan prepare(std::string cql) {
    keep_ = wire(protocol::RequestBody(protocol::PrepareMessage{std::move(cql), std::nullopt}));
    auto peek = protocol::peek_prepare(keep_.header, keep_.body);
    EXPECT_TRUE(peek);
    return route_prepare(*peek, session_);
  }
  RequestPlan execute(const Bytes& prepared_id) {
    protocol::ExecuteMessage e;
    e.id = prepared_id;
    e.parameters.consistency = protocol::Consistency::Two;
    e.parameters.values = std::vector<protocol::BoundValue>{};
    keep_ = wire(protocol::RequestBody(e));
    auto peek = protocol::peek_execute(keep_.header, keep_.body);
    EXPECT_TRUE(peek);
    return route_execute(*peek, keep_.header, keep_.body, session_, tables_);
  }
  RequestPlan batch(std::vector<protocol::BatchStatement> statements) {
    protocol::BatchMessage b;
    b.type = protocol::BatchType::Unlogged;
    b.statements = std::move(statements);
    b.consistency = protocol::Consistency::Quorum;
    keep_ = wire(protocol::RequestBody(b));
    auto peek = protocol::peek_batch(keep_.header, keep_.body);
    EXPECT_TRUE(peek);
    return route_batch(*peek, session_, tables_);
  }
  // A statement as both clusters prepared it, cached the way the session records it.
  void prepared(const Bytes& origin_id, const Bytes& target_id, std::string cql) {
    PreparedEntry e;
    e.origin_id = origin_id;
    e.target_id = target_id;
    e.decision = StoredDecision::from(decide_statement(cql, "shop", session_.settings));
    e.query = std::move(cql);
    e.keyspace = "shop";
    cache_.put(std::move(e));
  }

  PreparedCache cache_;
  SessionRouting session_;
  RoutingTables tables_;
  Wire keep_;
};

TEST_F(RequestPlanTest, WritesGoToBothClustersWhateverThePrimary) {
  for (auto c : {ClusterType::Origin, ClusterType::Target}) {
    primary(c);
    auto p = query("INSERT INTO t (k, v) VALUES (1, 'a')");
    EXPECT_EQ(p.kind, PlanKind::Forward);
    EXPECT_EQ(p.decision.target, ForwardTarget::Both);
    EXPECT_FALSE(p.decision.is_read);
    EXPECT_EQ(p.timeout_kind, TimeoutKind::Write);
    EXPECT_EQ(p.consistency, static_cast<uint16_t>(protocol::Consistency::LocalQuorum));
    EXPECT_EQ(p.decision.table.text, "t");
    EXPECT_EQ(p.decision.keyspace.text, "shop");  // the session's keyspace
  }
}

TEST_F(RequestPlanTest, ReadsGoToThePrimaryOnlyAndAreEligibleForAsyncCopies) {
  primary(ClusterType::Origin);
  auto o = query("SELECT v FROM t WHERE k = 1");
  EXPECT_EQ(o.decision.target, ForwardTarget::Origin);
  EXPECT_TRUE(o.decision.is_read);
  EXPECT_TRUE(o.decision.send_async);
  EXPECT_EQ(o.timeout_kind, TimeoutKind::Read);
  EXPECT_EQ(o.statement_text, "SELECT v FROM t WHERE k = 1");
  EXPECT_FALSE(o.continuation_page);
  primary(ClusterType::Target);
  EXPECT_EQ(query("SELECT v FROM t WHERE k = 1").decision.target, ForwardTarget::Target);
  // A next page carries the primary's paging state: sent, never compared.
  EXPECT_TRUE(query("SELECT v FROM t", Bytes{1, 2, 3}).continuation_page);
}

TEST_F(RequestPlanTest, SystemReadsFollowSystemQueriesModeNotThePrimary) {
  primary(ClusterType::Target);
  auto p = query("SELECT * FROM system_schema.tables");
  EXPECT_EQ(p.decision.target, ForwardTarget::Origin);
  EXPECT_FALSE(p.decision.send_async);
  EXPECT_FALSE(p.decision.track_metrics);
  session_.settings.system_queries_mode = SystemQueriesMode::Target;
  primary(ClusterType::Origin);
  EXPECT_EQ(query("SELECT * FROM system.size_estimates").decision.target, ForwardTarget::Target);
}

TEST_F(RequestPlanTest, SystemLocalAndPeersAreAnsweredFromTheVirtualTopology) {
  auto not_ready = query("SELECT * FROM system.local");
  EXPECT_EQ(not_ready.kind, PlanKind::AnswerError);
  EXPECT_EQ(not_ready.error_code, ErrorCode::ServerError);

  VirtualTopologyConfig config;
  config.addresses = {"10.0.0.1"};
  ClusterLocalInfo local;
  local.datacenter = "dc1";
  auto topology = VirtualTopology::create(config, local);
  ASSERT_TRUE(topology) << topology.error().message;
  tables_.topology = &*topology;
  auto p = query("SELECT * FROM system.peers");
  EXPECT_EQ(p.kind, PlanKind::AnswerLocally);
  ASSERT_TRUE(p.local_answer);
  EXPECT_TRUE(std::holds_alternative<protocol::ResultMessage>(*p.local_answer));
  // peers_v2 is answered too (with Cassandra 3's error, so drivers fall back to peers).
  EXPECT_EQ(query("SELECT * FROM system.peers_v2").kind, PlanKind::AnswerLocally);
}

TEST_F(RequestPlanTest, InsightsReportsAreDroppedWithoutAnAnswer) {
  EXPECT_EQ(query("CALL InsightsRpc.reportInsight('{}')").kind, PlanKind::Drop);
}

TEST_F(RequestPlanTest, FunctionReplacementOnlyForWritesThatCallNowOrUuid) {
  session_.replace_functions = true;
  EXPECT_EQ(query("INSERT INTO t (k, v) VALUES (now(), 'a')").rewrite, FunctionRewrite::Query);
  EXPECT_EQ(query("INSERT INTO t (k, v) VALUES (1, 'a')").rewrite, FunctionRewrite::None);
  EXPECT_EQ(query("SELECT now() FROM t").rewrite, FunctionRewrite::None);
  session_.replace_functions = false;
  EXPECT_EQ(query("INSERT INTO t (k, v) VALUES (now(), 'a')").rewrite, FunctionRewrite::None);
}

TEST_F(RequestPlanTest, PrepareGoesToBothAndRemembersTheStatementsOwnRoute) {
  primary(ClusterType::Origin);
  auto p = prepare("SELECT v FROM t WHERE k = ?");
  EXPECT_EQ(p.kind, PlanKind::Forward);
  EXPECT_EQ(p.decision.target, ForwardTarget::Both);
  EXPECT_EQ(p.join, JoinKind::Prepare);
  EXPECT_TRUE(p.decision.send_async);  // the async connection must know it too
  EXPECT_EQ(p.prepare_decision.route, Route::Primary);
  EXPECT_EQ(p.prepare_query, "SELECT v FROM t WHERE k = ?");
  EXPECT_EQ(p.prepare_keyspace, "shop");
  EXPECT_EQ(prepare("UPDATE t SET v = ? WHERE k = ?").prepare_decision.route, Route::Both);
}

TEST_F(RequestPlanTest, PrepareOfSystemLocalIsAnsweredByTheProxyAndRemembered) {
  auto p = prepare("SELECT * FROM system.local WHERE key = ?");
  EXPECT_EQ(p.kind, PlanKind::AnswerLocally);
  ASSERT_TRUE(p.intercepted);
  EXPECT_FALSE(p.intercepted->id.empty());
  EXPECT_EQ(p.intercepted->query, "SELECT * FROM system.local WHERE key = ?");
}

TEST_F(RequestPlanTest, ExecuteOfAnUnknownIdGetsUnprepared) {
  auto p = execute(id("nope"));
  EXPECT_EQ(p.kind, PlanKind::AnswerUnprepared);
  EXPECT_EQ(Bytes(p.unprepared_id.begin(), p.unprepared_id.end()), id("nope"));
  EXPECT_TRUE(p.prepared_cache_miss);
}

TEST_F(RequestPlanTest, ExecuteIsRoutedByTheRoutingOfNowNotOfPrepareTime) {
  primary(ClusterType::Origin);
  prepared(id("o-read"), id("t-read"), "SELECT v FROM t WHERE k = ?");
  auto before = execute(id("o-read"));
  EXPECT_EQ(before.decision.target, ForwardTarget::Origin);
  EXPECT_EQ(before.target_body, TargetBody::Same);  // target gets nothing
  EXPECT_EQ(before.consistency, static_cast<uint16_t>(protocol::Consistency::Two));
  // Phase 4: target becomes primary. The statement prepared before the switch follows it.
  primary(ClusterType::Target);
  auto after = execute(id("o-read"));
  EXPECT_EQ(after.decision.target, ForwardTarget::Target);
  EXPECT_EQ(after.target_body, TargetBody::ExecuteWithTargetId);
  EXPECT_EQ(after.statement_text, "SELECT v FROM t WHERE k = ?");
  ASSERT_TRUE(after.entry);
  EXPECT_EQ(after.entry->target_id, id("t-read"));
}

TEST_F(RequestPlanTest, ExecuteOfAWriteGoesToBothWithTargetsIdForTarget) {
  prepared(id("o-w"), id("t-w"), "INSERT INTO t (k, v) VALUES (?, ?)");
  auto p = execute(id("o-w"));
  EXPECT_EQ(p.decision.target, ForwardTarget::Both);
  EXPECT_EQ(p.target_body, TargetBody::ExecuteWithTargetId);
  EXPECT_EQ(Bytes(p.prepared_id.begin(), p.prepared_id.end()), id("o-w"));
  // Same id on both clusters (same Cassandra version and text): the bytes are shared.
  prepared(id("same"), id("same"), "INSERT INTO t (k, v) VALUES (?, ?)");
  EXPECT_EQ(execute(id("same")).target_body, TargetBody::Same);
}

TEST_F(RequestPlanTest, AsyncCopiesOfExecuteToTargetUseTargetsId) {
  primary(ClusterType::Origin);
  prepared(id("o-r"), id("t-r"), "SELECT v FROM t WHERE k = ?");
  session_.async_reads = true;
  auto p = execute(id("o-r"));
  EXPECT_EQ(p.decision.target, ForwardTarget::Origin);
  EXPECT_EQ(p.target_body, TargetBody::ExecuteWithTargetId);  // for the copy to target
  session_.async_reads = false;
  EXPECT_EQ(execute(id("o-r")).target_body, TargetBody::Same);
}

TEST_F(RequestPlanTest, BatchGoesToBothAndUnknownChildrenGetUnprepared) {
  prepared(id("o-b"), id("t-b"), "INSERT INTO t (k, v) VALUES (?, ?)");
  protocol::BatchStatement text;
  text.query = "INSERT INTO t (k, v) VALUES (1, 'x')";
  protocol::BatchStatement known;
  known.kind = protocol::BatchStatement::Kind::Prepared;
  known.id = id("o-b");
  auto p = batch({text, known});
  EXPECT_EQ(p.kind, PlanKind::Forward);
  EXPECT_EQ(p.decision.target, ForwardTarget::Both);
  EXPECT_EQ(p.timeout_kind, TimeoutKind::BatchWrite);
  EXPECT_EQ(p.target_body, TargetBody::BatchWithTargetIds);
  EXPECT_EQ(batch({text}).target_body, TargetBody::Same);
  protocol::BatchStatement unknown = known;
  unknown.id = id("gone");
  auto u = batch({text, unknown});
  EXPECT_EQ(u.kind, PlanKind::AnswerUnprepared);
  EXPECT_EQ(Bytes(u.unprepared_id.begin(), u.unprepared_id.end()), id("gone"));
}

TEST_F(RequestPlanTest, OtherRequestsFollowDecideRequest) {
  EXPECT_EQ(route_other(Opcode::Register, session_).decision.target, ForwardTarget::Both);
  session_.settings.auth_to_target = true;
  EXPECT_EQ(route_other(Opcode::AuthResponse, session_).decision.target, ForwardTarget::Target);
}

TEST_F(RequestPlanTest, ForwardPlansOfReadsWritesAndExecutesDoNotAllocate) {
  prepared(id("o-a"), id("t-a"), "SELECT v FROM t WHERE k = ?");
  protocol::QueryMessage q;
  q.query = "INSERT INTO t (k, v) VALUES (1, 'a')";
  const Wire write = wire(protocol::RequestBody(q));
  q.query = "SELECT v FROM t WHERE k = 1";
  const Wire read = wire(protocol::RequestBody(q));
  protocol::ExecuteMessage e;
  e.id = id("o-a");
  const Wire exec = wire(protocol::RequestBody(e));
  auto write_peek = protocol::peek_query(write.header, write.body);
  auto read_peek = protocol::peek_query(read.header, read.body);
  auto exec_peek = protocol::peek_execute(exec.header, exec.body);
  ASSERT_TRUE(write_peek && read_peek && exec_peek);
  primary(ClusterType::Target);
  size_t checksum = 0;
  const size_t before = test::allocations_on_this_thread();
  for (int i = 0; i < 10; ++i) {
    checksum += static_cast<size_t>(route_query(*write_peek, session_, tables_).decision.target);
    checksum += static_cast<size_t>(route_query(*read_peek, session_, tables_).decision.target);
    auto p = route_execute(*exec_peek, exec.header, exec.body, session_, tables_);
    checksum += static_cast<size_t>(p.target_body);
  }
  EXPECT_EQ(test::allocations_on_this_thread(), before);
  EXPECT_GT(checksum, 0u);
}

TEST(RoutingPublisher, PublishingChangesTheGenerationAndTheSnapshot) {
  ProxyConfig config;
  config.primary_cluster = ClusterType::Origin;
  config.read_comparison_rate = 0.5;
  RoutingPublisher publisher(RoutingSnapshot::from_config(config));
  const uint64_t g = publisher.generation();
  auto first = publisher.current();
  EXPECT_EQ(first->primary_cluster, ClusterType::Origin);
  EXPECT_EQ(first->generation, g);
  EXPECT_NEAR(static_cast<double>(first->compare_threshold()), 0.5 * 18446744073709551616.0, 1e6);
  RoutingSnapshot next = *first;
  next.primary_cluster = ClusterType::Target;
  EXPECT_EQ(publisher.publish(next), g + 1);
  EXPECT_EQ(publisher.generation(), g + 1);
  EXPECT_EQ(publisher.current()->primary_cluster, ClusterType::Target);
  EXPECT_EQ(publisher.current()->secondary_cluster(), ClusterType::Origin);
  // The old snapshot is untouched (a request that started with it finishes with it).
  EXPECT_EQ(first->primary_cluster, ClusterType::Origin);
  publisher.update([](RoutingSnapshot& s) { s.read_mode = ReadMode::DualAsyncOnSecondary; });
  EXPECT_EQ(publisher.generation(), g + 2);
  EXPECT_TRUE(publisher.current()->async_reads());
  EXPECT_EQ(publisher.current()->primary_cluster, ClusterType::Target);
}

}  // namespace
}  // namespace zdm::proxy
