#include "node/server/fault_injector.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zdm::node {
namespace {

using protocol::ErrorCode;
using protocol::Opcode;

std::optional<FaultInjector::Decision> eval(const FaultInjector& f, Opcode op,
                                            std::string_view text) {
  std::string_view texts[] = {text};
  return f.evaluate(op, texts);
}

TEST(FaultSpecTest, ParsesKeyValueSpecWithQuotedValues) {
  auto rule = parse_fault_spec(
      "action=error,error=WRITE_TIMEOUT,opcode=EXECUTE,query='^INSERT INTO ks\\.t (a, b)',"
      "message='it''s late',probability=0.25,count=3,seed=7,delay_ms=10,apply=true,name=x");
  ASSERT_TRUE(rule.has_value()) << rule.error().message;
  EXPECT_EQ(rule->action, FaultAction::Error);
  EXPECT_EQ(rule->error_code, ErrorCode::WriteTimeout);
  EXPECT_EQ(rule->opcode, Opcode::Execute);
  EXPECT_EQ(rule->query_pattern, "^INSERT INTO ks\\.t (a, b)");
  EXPECT_EQ(rule->error_message, "it's late");
  EXPECT_DOUBLE_EQ(rule->probability, 0.25);
  EXPECT_EQ(rule->count, 3u);
  EXPECT_EQ(rule->seed, 7u);
  EXPECT_EQ(rule->delay_ms, 10u);
  EXPECT_TRUE(rule->apply);
  EXPECT_EQ(rule->name, "x");
}

TEST(FaultSpecTest, AcceptsLooseNamesAndNumericCodes) {
  auto a = parse_fault_spec("action=no_response,opcode=auth_response");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->action, FaultAction::NoResponse);
  EXPECT_EQ(a->opcode, Opcode::AuthResponse);
  auto b = parse_fault_spec("error=0x1200");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->error_code, ErrorCode::ReadTimeout);
  auto c = parse_fault_spec("error=ReadTimeout");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->error_code, ErrorCode::ReadTimeout);
}

TEST(FaultSpecTest, RejectsBadSpecsWithAReason) {
  EXPECT_FALSE(parse_fault_spec("").has_value());
  EXPECT_FALSE(parse_fault_spec("action").has_value());
  EXPECT_FALSE(parse_fault_spec("action=explode").has_value());
  EXPECT_FALSE(parse_fault_spec("error=NOPE").has_value());
  EXPECT_FALSE(parse_fault_spec("probability=1.5").has_value());
  EXPECT_FALSE(parse_fault_spec("query='unterminated").has_value());
  auto unknown = parse_fault_spec("colour=red");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos);
}

TEST(FaultSpecTest, JsonAndSpecAgreeAndRoundTrip) {
  auto json = parse_fault_spec(
      R"({"action":"delay","delay_ms":200,"query":"SELECT","probability":0.5,"count":2})");
  ASSERT_TRUE(json.has_value()) << json.error().message;
  EXPECT_EQ(json->action, FaultAction::Delay);
  EXPECT_EQ(json->delay_ms, 200u);
  EXPECT_EQ(json->query_pattern, "SELECT");
  EXPECT_EQ(json->count, 2u);
  auto again = parse_fault_json(fault_rule_json(*json));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->delay_ms, 200u);
  EXPECT_EQ(again->query_pattern, "SELECT");
  EXPECT_DOUBLE_EQ(again->probability, 0.5);
  EXPECT_FALSE(parse_fault_json("[1,2]").has_value());
  EXPECT_FALSE(parse_fault_json("{\"delay_ms\":[1]}").has_value());
}

TEST(FaultInjectorTest, MatchesByOpcodeAndRegexOnStatementsOnly) {
  FaultInjector f;
  EXPECT_FALSE(f.has_rules());
  FaultRule rule;
  rule.query_pattern = "^INSERT INTO ks\\.users";
  ASSERT_TRUE(f.add_rule(rule).has_value());
  EXPECT_TRUE(f.has_rules());
  EXPECT_TRUE(f.needs_text());
  EXPECT_TRUE(eval(f, Opcode::Query, "INSERT INTO ks.users (id) VALUES (1)").has_value());
  EXPECT_FALSE(eval(f, Opcode::Query, "SELECT * FROM ks.users").has_value());
  // No opcode given: only the four statement-carrying requests are candidates.
  EXPECT_FALSE(eval(f, Opcode::Options, "INSERT INTO ks.users").has_value());

  FaultInjector g;
  FaultRule by_opcode;
  by_opcode.opcode = Opcode::Execute;
  ASSERT_TRUE(g.add_rule(by_opcode).has_value());
  EXPECT_FALSE(g.needs_text());
  EXPECT_TRUE(eval(g, Opcode::Execute, "").has_value());
  EXPECT_FALSE(eval(g, Opcode::Query, "").has_value());

  FaultInjector h;
  FaultRule startup;
  startup.opcode = Opcode::Startup;
  startup.action = FaultAction::Drop;
  ASSERT_TRUE(h.add_rule(startup).has_value());
  EXPECT_TRUE(eval(h, Opcode::Startup, "").has_value());
}

TEST(FaultInjectorTest, BatchMatchesWhenAnyChildMatches) {
  FaultInjector f;
  FaultRule rule;
  rule.query_pattern = "DELETE";
  ASSERT_TRUE(f.add_rule(rule).has_value());
  std::string_view texts[] = {"INSERT INTO t (a) VALUES (1)", "DELETE FROM t WHERE a = 2"};
  EXPECT_TRUE(f.evaluate(Opcode::Batch, texts).has_value());
  EXPECT_FALSE(f.evaluate(Opcode::Batch, std::span(texts, 1)).has_value());
}

TEST(FaultInjectorTest, CountLimitsFiringsAndFirstMatchingRuleWins) {
  FaultInjector f;
  FaultRule first;
  first.error_code = ErrorCode::Overloaded;
  first.count = 2;
  FaultRule second;
  second.error_code = ErrorCode::ReadTimeout;
  ASSERT_TRUE(f.add_rule(first).has_value());
  ASSERT_TRUE(f.add_rule(second).has_value());
  for (int i = 0; i < 2; ++i) {
    auto d = eval(f, Opcode::Query, "SELECT 1");
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->spec().error_code, ErrorCode::Overloaded);
  }
  auto d = eval(f, Opcode::Query, "SELECT 1");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->spec().error_code, ErrorCode::ReadTimeout);
  EXPECT_EQ(f.faults_fired(), 3u);
  auto rules = nlohmann::json::parse(f.rules_json());
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0]["fired"], 2);
  EXPECT_EQ(rules[0]["matched"], 3);
}

TEST(FaultInjectorTest, ProbabilityIsSeededAndRoughlyRight) {
  auto run = [](uint64_t seed) {
    FaultInjector f;
    FaultRule rule;
    rule.probability = 0.3;
    rule.seed = seed;
    EXPECT_TRUE(f.add_rule(rule).has_value());
    std::vector<bool> fired;
    for (int i = 0; i < 2000; ++i) fired.push_back(eval(f, Opcode::Query, "x").has_value());
    return fired;
  };
  auto a = run(42);
  auto b = run(42);
  auto c = run(43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto hits = std::count(a.begin(), a.end(), true);
  EXPECT_GT(hits, 450);
  EXPECT_LT(hits, 750);
}

TEST(FaultInjectorTest, RemoveAndClearRules) {
  FaultInjector f;
  auto id1 = f.add_rule(FaultRule{});
  auto id2 = f.add_rule(FaultRule{});
  ASSERT_TRUE(id1 && id2);
  EXPECT_NE(*id1, *id2);
  EXPECT_TRUE(f.remove_rule(*id1));
  EXPECT_FALSE(f.remove_rule(*id1));
  EXPECT_TRUE(f.has_rules());
  f.clear_rules();
  EXPECT_FALSE(f.has_rules());
  EXPECT_FALSE(eval(f, Opcode::Query, "x").has_value());
}

TEST(FaultInjectorTest, RejectsInvalidRegex) {
  FaultInjector f;
  FaultRule rule;
  rule.query_pattern = "(unclosed";
  auto id = f.add_rule(rule);
  ASSERT_FALSE(id.has_value());
  EXPECT_NE(id.error().message.find("(unclosed"), std::string::npos);
  EXPECT_FALSE(f.has_rules());
}

TEST(FaultInjectorTest, RemembersPreparedTexts) {
  FaultInjector f;
  const Bytes id = {1, 2, 3};
  EXPECT_FALSE(f.prepared_text(id).has_value());
  f.remember_prepared(id, "SELECT * FROM t");
  EXPECT_EQ(f.prepared_text(id), "SELECT * FROM t");
}

TEST(FaultInjectorTest, CountsRequestsAndStatements) {
  FaultInjector f;
  f.count_request(Opcode::Query);
  f.count_request(Opcode::Query);
  f.count_request(Opcode::Execute);
  f.count_statement(protocol::StatementKind::Select);
  auto j = nlohmann::json::parse(f.counters_json());
  EXPECT_EQ(j["requests"]["QUERY"], 2);
  EXPECT_EQ(j["requests"]["EXECUTE"], 1);
  EXPECT_EQ(
      j["statements"][std::string(protocol::statement_kind_name(protocol::StatementKind::Select))],
      1);
  f.reset_counters();
  EXPECT_EQ(f.requests(Opcode::Query), 0u);
}

TEST(FaultErrorTest, FillsDetailsFromTheRequest) {
  protocol::QueryMessage query;
  query.parameters.consistency = protocol::Consistency::LocalQuorum;
  FaultRule rule;
  rule.error_code = ErrorCode::WriteTimeout;
  auto e = make_fault_error(rule, query, protocol::ProtocolVersion::V4);
  EXPECT_EQ(e.code, ErrorCode::WriteTimeout);
  const auto* wt = std::get_if<protocol::WriteTimeoutInfo>(&e.detail);
  ASSERT_NE(wt, nullptr);
  EXPECT_EQ(wt->consistency, protocol::Consistency::LocalQuorum);
  EXPECT_EQ(wt->block_for, 1);
  EXPECT_EQ(wt->write_type, protocol::WriteType::Simple);
  EXPECT_FALSE(e.message.empty());

  protocol::BatchMessage batch;
  batch.type = protocol::BatchType::Unlogged;
  auto be = make_fault_error(rule, batch, protocol::ProtocolVersion::V4);
  EXPECT_EQ(std::get<protocol::WriteTimeoutInfo>(be.detail).write_type,
            protocol::WriteType::UnloggedBatch);

  protocol::ExecuteMessage execute;
  execute.id = {9, 9};
  rule.error_code = ErrorCode::Unprepared;
  rule.error_message = "gone";
  auto ue = make_fault_error(rule, execute, protocol::ProtocolVersion::V4);
  EXPECT_EQ(std::get<protocol::UnpreparedInfo>(ue.detail).id, (Bytes{9, 9}));
  EXPECT_EQ(ue.message, "gone");

  rule.error_code = ErrorCode::ReadFailure;
  auto rf = make_fault_error(rule, query, protocol::ProtocolVersion::V5);
  EXPECT_EQ(std::get<protocol::ReadFailureInfo>(rf.detail).reasons.size(), 1u);
}

}  // namespace
}  // namespace zdm::node
