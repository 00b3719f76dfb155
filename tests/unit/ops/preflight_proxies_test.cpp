#include "ops/preflight_proxies.hpp"

#include <gtest/gtest.h>

#include "ops/preflight_report.hpp"

namespace zdm::ops::test {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The example of docs/operations-api.md, plus one statement without functions.
constexpr const char* kStatements = R"json({"statements": [
  {"query": "INSERT INTO shop.orders (id, at) VALUES (?, now())", "keyspace": "shop",
   "nondeterministic_functions": ["now"]},
  {"query": "SELECT * FROM shop.orders WHERE id = ?", "keyspace": "",
   "nondeterministic_functions": []}]})json";

TEST(PreflightProxies, ReadsTheDocumentedStatementsAnswer) {
  auto parsed = parse_proxy_statements(nlohmann::json::parse(kStatements));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].query, "INSERT INTO shop.orders (id, at) VALUES (?, now())");
  EXPECT_EQ((*parsed)[0].keyspace, "shop");
  EXPECT_EQ((*parsed)[0].nondeterministic_functions, std::vector<std::string>{"now"});
  EXPECT_TRUE((*parsed)[1].nondeterministic_functions.empty());
}

TEST(PreflightProxies, RefusesAnswersThatAreNotTheDocumentedShape) {
  EXPECT_FALSE(parse_proxy_statements(nlohmann::json::parse("[]")));
  EXPECT_FALSE(parse_proxy_statements(nlohmann::json::parse(R"({"statements": {}})")));
  EXPECT_FALSE(parse_proxy_statements(nlohmann::json::parse(R"({"statements": [{"q": "x"}]})")));
  EXPECT_FALSE(parse_proxy_statements(nlohmann::json::parse(
      R"({"statements": [{"query": "x", "nondeterministic_functions": "now"}]})")));
}

TEST(PreflightProxies, ReadsReplaceCqlFunctionsFromTheConfigAnswer) {
  auto on = parse_replace_cql_functions(nlohmann::json::parse(
      R"({"generation": 3, "config": {"replace_cql_functions": true}, "live": []})"));
  ASSERT_TRUE(on);
  EXPECT_TRUE(*on);
  auto off = parse_replace_cql_functions(
      nlohmann::json::parse(R"({"config": {"replace_cql_functions": "false"}})"));
  ASSERT_TRUE(off);
  EXPECT_FALSE(*off);
  EXPECT_FALSE(parse_replace_cql_functions(nlohmann::json::parse(R"({"config": {}})")));
  EXPECT_FALSE(parse_replace_cql_functions(
      nlohmann::json::parse(R"({"config": {"replace_cql_functions": 1}})")));
}

TEST(PreflightProxies, RecognisesConditionalWritesOnly) {
  EXPECT_TRUE(is_lwt("INSERT INTO ks.t (k, v) VALUES (?, ?) IF NOT EXISTS"));
  EXPECT_TRUE(is_lwt("update ks.t set v = ? where k = ? if v = ?"));
  EXPECT_TRUE(is_lwt("DELETE FROM ks.t WHERE k = ? IF EXISTS"));
  EXPECT_TRUE(is_lwt("BEGIN BATCH INSERT INTO ks.t (k) VALUES (1) IF NOT EXISTS; APPLY BATCH"));
  EXPECT_FALSE(is_lwt("INSERT INTO ks.t (k, v) VALUES (?, 'IF NOT EXISTS')"));
  EXPECT_FALSE(is_lwt("UPDATE ks.t SET \"IF\" = ? WHERE k = ?"));
  EXPECT_FALSE(is_lwt("UPDATE ks.t SET iffy = ? WHERE k = ?"));
  EXPECT_FALSE(is_lwt("CREATE TABLE IF NOT EXISTS ks.t (k int PRIMARY KEY)"));
  EXPECT_FALSE(is_lwt("SELECT * FROM ks.t WHERE k = ?"));
}

ProxyFindings findings(bool replace) {
  ProxyFindings f;
  f.proxy = "127.0.0.1:14001";
  f.replace_cql_functions = replace;
  f.statements = *parse_proxy_statements(nlohmann::json::parse(kStatements));
  return f;
}

TEST(PreflightProxies, WarnsAboutFunctionsWhileReplacementIsOff) {
  auto checks = proxy_checks(findings(false));
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].name, "proxy 127.0.0.1:14001 functions");
  EXPECT_EQ(checks[0].result, CheckResult::Warn);
  EXPECT_TRUE(has(checks[0].detail, "VALUES (?, now())")) << checks[0].detail;
  EXPECT_TRUE(has(checks[0].advice, "ZDM_REPLACE_CQL_FUNCTIONS=true")) << checks[0].advice;
}

TEST(PreflightProxies, PassesWhenReplacementIsOnOrNoStatementUsesFunctions) {
  auto on = proxy_checks(findings(true));
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].result, CheckResult::Pass);
  auto f = findings(false);
  f.statements.erase(f.statements.begin());
  auto none = proxy_checks(f);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].result, CheckResult::Pass);
}

TEST(PreflightProxies, WarnsAboutLightweightTransactions) {
  auto f = findings(true);
  f.statements.push_back({"INSERT INTO shop.users (id) VALUES (?) IF NOT EXISTS", "shop", {}});
  auto checks = proxy_checks(f);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].name, "proxy 127.0.0.1:14001 LWT");
  EXPECT_EQ(checks[1].result, CheckResult::Warn);
  EXPECT_TRUE(has(checks[1].advice, "both clusters")) << checks[1].advice;
}

TEST(PreflightProxies, FailsWhenTheApiCannotBeRead) {
  ProxyFindings f;
  f.proxy = "127.0.0.1:1";
  f.error = "proxy 127.0.0.1:1 unreachable: connection refused";
  auto checks = proxy_checks(f);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Fail);
  EXPECT_EQ(checks[0].detail, f.error);
}

}  // namespace
}  // namespace zdm::ops::test
