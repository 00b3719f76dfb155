#include "ops/preflight_checks.hpp"

#include <gtest/gtest.h>

#include "common/timeuuid.hpp"
#include "protocol/cql_type.hpp"

namespace zdm::ops::test {
namespace {

using migrate::Column;
using migrate::ColumnKind;
using migrate::Schema;
using migrate::Table;
using protocol::ProtocolVersion;
using std::chrono::microseconds;
using std::chrono::milliseconds;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- clock skew -------------------------------------------------------------------------------

TEST(PreflightClock, PassesUpTo50MsWarnsAboveAndFailsAboveOneSecondEitherWay) {
  EXPECT_EQ(clock_skew_result(microseconds(0)), CheckResult::Pass);
  EXPECT_EQ(clock_skew_result(milliseconds(50)), CheckResult::Pass);
  EXPECT_EQ(clock_skew_result(milliseconds(-50)), CheckResult::Pass);
  EXPECT_EQ(clock_skew_result(microseconds(50'001)), CheckResult::Warn);
  EXPECT_EQ(clock_skew_result(microseconds(-50'001)), CheckResult::Warn);
  EXPECT_EQ(clock_skew_result(milliseconds(1000)), CheckResult::Warn);
  EXPECT_EQ(clock_skew_result(microseconds(1'000'001)), CheckResult::Fail);
  EXPECT_EQ(clock_skew_result(milliseconds(-5000)), CheckResult::Fail);
}

Uuid timeuuid_at_unix_us(int64_t unix_us) {
  return make_timeuuid(unix_us * 10 + kGregorianToUnixTicks, 7, 0x123456);
}

TEST(PreflightClock, ComparesServerTimeWithTheMiddleOfTheRoundTrip) {
  const int64_t before = 1'700'000'000'000'000;
  const int64_t after = before + 20'000;  // 20 ms round trip
  // The server's clock read 10 ms into the round trip plus 80 ms of skew.
  auto clock =
      host_clock("10.0.0.1:9042", timeuuid_at_unix_us(before + 10'000 + 80'000), before, after);
  ASSERT_TRUE(clock.has_value());
  EXPECT_EQ(clock->skew, milliseconds(80));
  EXPECT_EQ(clock->round_trip, milliseconds(20));
  auto behind = host_clock("h", timeuuid_at_unix_us(before + 10'000 - 2'000'000), before, after);
  ASSERT_TRUE(behind.has_value());
  EXPECT_EQ(behind->skew, milliseconds(-2000));
}

TEST(PreflightClock, RefusesAnythingButATimeuuid) {
  Uuid random = random_uuid();
  EXPECT_FALSE(host_clock("h", random, 0, 10).has_value());
}

TEST(PreflightClock, TheNodeWithTheLargestSkewDecides) {
  std::vector<HostClock> hosts = {{"a:9042", milliseconds(3), milliseconds(1)},
                                  {"b:9042", milliseconds(-1200), milliseconds(1)},
                                  {"c:9042", milliseconds(70), milliseconds(1)}};
  auto c = clock_check("target", hosts, "");
  EXPECT_EQ(c.name, "target clock");
  EXPECT_EQ(c.result, CheckResult::Fail);
  EXPECT_TRUE(has(c.detail, "b:9042")) << c.detail;
  EXPECT_TRUE(has(c.detail, "-1200.0 ms")) << c.detail;
  EXPECT_TRUE(has(c.advice, "NTP"));

  hosts.erase(hosts.begin() + 1);
  c = clock_check("target", hosts, "");
  EXPECT_EQ(c.result, CheckResult::Warn);
  EXPECT_TRUE(has(c.detail, "c:9042")) << c.detail;

  hosts.pop_back();
  c = clock_check("target", hosts, "");
  EXPECT_EQ(c.result, CheckResult::Pass);
  EXPECT_TRUE(c.advice.empty());
}

TEST(PreflightClock, WarnsWhenNoSampleCouldBeTaken) {
  auto c = clock_check("origin", {}, "timeout: no response in 12000 ms");
  EXPECT_EQ(c.result, CheckResult::Warn);
  EXPECT_TRUE(has(c.detail, "timeout")) << c.detail;
}

// --- protocol versions ------------------------------------------------------------------------

protocol::SupportedMessage supported(std::vector<std::string> versions) {
  protocol::SupportedMessage m;
  m.options.push_back({"CQL_VERSION", {"3.4.5"}});
  m.options.push_back({"PROTOCOL_VERSIONS", std::move(versions)});
  return m;
}

ClusterProtocols cluster(std::string name, ProtocolVersion negotiated,
                         protocol::SupportedMessage message = {}) {
  return ClusterProtocols{std::move(name), negotiated, std::move(message)};
}

TEST(PreflightProtocol, SpokenVersionsComeFromSupportedWithoutBetas) {
  auto v = spoken_versions(ProtocolVersion::V4, supported({"3/v3", "4/v4", "5/v5-beta"}));
  EXPECT_EQ(v, (std::vector<ProtocolVersion>{ProtocolVersion::V3, ProtocolVersion::V4}));
  v = spoken_versions(ProtocolVersion::V5, supported({"66/dse-v2", "3/v3", "65/dse-v1", "5/v5"}));
  EXPECT_EQ(v, (std::vector<ProtocolVersion>{ProtocolVersion::V3, ProtocolVersion::V5,
                                             ProtocolVersion::DseV1, ProtocolVersion::DseV2}));
}

TEST(PreflightProtocol, WithoutAListTheClusterSpeaksV3UpToTheNegotiatedVersion) {
  // Cassandra 2.2 and 3.x do not list PROTOCOL_VERSIONS in SUPPORTED.
  EXPECT_EQ(spoken_versions(ProtocolVersion::V4, {}),
            (std::vector<ProtocolVersion>{ProtocolVersion::V3, ProtocolVersion::V4}));
}

TEST(PreflightProtocol, PassesWhenBothSpeakTheSameHighestVersion) {
  proxy::ProxyConfig config;
  auto c = protocol_check(
      cluster("origin", ProtocolVersion::V5, supported({"3/v3", "4/v4", "5/v5"})),
      cluster("target", ProtocolVersion::V5, supported({"3/v3", "4/v4", "5/v5"})), config);
  EXPECT_EQ(c.result, CheckResult::Pass) << c.detail;
  EXPECT_TRUE(has(c.detail, "the proxy will offer clients up to v5")) << c.detail;
}

TEST(PreflightProtocol, WarnsWhenTheHighestDifferAndNamesWhatTheProxyOffers) {
  proxy::ProxyConfig config;
  auto c = protocol_check(
      cluster("origin", ProtocolVersion::V4),
      cluster("target", ProtocolVersion::V5, supported({"3/v3", "4/v4", "5/v5"})), config);
  EXPECT_EQ(c.result, CheckResult::Warn);
  EXPECT_TRUE(has(c.detail, "origin speaks up to v4, target up to v5")) << c.detail;
  EXPECT_TRUE(has(c.detail, "offer clients up to v4")) << c.detail;
  EXPECT_FALSE(c.advice.empty());
}

TEST(PreflightProtocol, BlockedVersionsStepDownWhatTheProxyOffers) {
  proxy::ProxyConfig config;
  config.blocked_protocol_versions = "v5";
  auto both = supported({"3/v3", "4/v4", "5/v5"});
  auto c = protocol_check(cluster("origin", ProtocolVersion::V5, both),
                          cluster("target", ProtocolVersion::V5, both), config);
  EXPECT_EQ(c.result, CheckResult::Pass);
  EXPECT_TRUE(has(c.detail, "offer clients up to v4")) << c.detail;
}

TEST(PreflightProtocol, FailsWhenTheClustersShareNoVersion) {
  proxy::ProxyConfig config;
  auto c = protocol_check(cluster("origin", ProtocolVersion::V4),
                          cluster("target", ProtocolVersion::V5, supported({"5/v5"})), config);
  EXPECT_EQ(c.result, CheckResult::Fail);
  EXPECT_TRUE(has(c.detail, "origin speaks v3, v4; target speaks v5: no version in common"))
      << c.detail;
}

TEST(PreflightProtocol, FailsWhenEveryCommonVersionIsBlocked) {
  proxy::ProxyConfig config;
  config.blocked_protocol_versions = "v4";
  auto c =
      protocol_check(cluster("origin", ProtocolVersion::V4, supported({"4/v4"})),
                     cluster("target", ProtocolVersion::V5, supported({"4/v4", "5/v5"})), config);
  EXPECT_EQ(c.result, CheckResult::Fail);
  EXPECT_TRUE(has(c.detail, "blocked")) << c.detail;
  EXPECT_TRUE(has(c.advice, "ZDM_BLOCKED_PROTOCOL_VERSIONS")) << c.advice;
}

// --- partitioners -----------------------------------------------------------------------------

TEST(PreflightPartitioner, WarnsOnlyWhenThePartitionersDiffer) {
  const std::string m3 = "org.apache.cassandra.dht.Murmur3Partitioner";
  const std::string rnd = "org.apache.cassandra.dht.RandomPartitioner";
  auto same = partitioner_check(m3, m3);
  EXPECT_EQ(same.result, CheckResult::Pass);
  EXPECT_EQ(same.detail, "both clusters use Murmur3Partitioner");
  auto other = partitioner_check(m3, rnd);
  EXPECT_EQ(other.result, CheckResult::Warn);
  EXPECT_EQ(other.detail, "origin uses Murmur3Partitioner, target RandomPartitioner");
  EXPECT_TRUE(has(other.advice, "token-aware routing"));
}

// --- schema and table features ----------------------------------------------------------------

Column column(std::string name, std::string type, ColumnKind kind, int position = 0) {
  Column c;
  c.name = std::move(name);
  c.type = *protocol::parse_cql_type(type);
  c.kind = kind;
  c.position = position;
  c.multi_cell = type.rfind("frozen<", 0) != 0 && c.type.is_collection();
  return c;
}

Table orders() {
  Table t{"shop", "orders", {}, 1, 1};
  t.columns = {column("id", "int", ColumnKind::PartitionKey),
               column("at", "timestamp", ColumnKind::Clustering),
               column("item", "text", ColumnKind::Regular)};
  return t;
}

Schema schema_with(std::vector<Table> tables) {
  Schema s;
  s.release_version = "4.0.11";
  s.partitioner = "org.apache.cassandra.dht.Murmur3Partitioner";
  s.keyspaces.push_back(migrate::Keyspace{"shop", {{"class", "SimpleStrategy"}}, true});
  s.tables = std::move(tables);
  return s;
}

TEST(PreflightSchema, OnePassLineWhenEveryTableMatches) {
  auto checks = schema_checks(schema_with({orders()}), schema_with({orders()}), {"shop"});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Pass);
  EXPECT_TRUE(has(checks[0].detail, "1 table(s) of shop")) << checks[0].detail;
}

TEST(PreflightSchema, FailsPerMissingTableColumnOrOtherType) {
  Table other_type = orders();
  other_type.columns[2] = column("item", "int", ColumnKind::Regular);
  Table likes{"shop", "likes", {column("id", "int", ColumnKind::PartitionKey)}, 1, 0};
  auto checks = schema_checks(schema_with({likes, orders()}), schema_with({other_type}), {"shop"});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "schema shop.likes");
  EXPECT_EQ(checks[0].result, CheckResult::Fail);
  EXPECT_TRUE(has(checks[0].detail, "does not exist on target")) << checks[0].detail;
  EXPECT_EQ(checks[1].name, "schema shop.orders");
  EXPECT_EQ(checks[1].detail, "column 'item' is text on origin but int on target");
  EXPECT_FALSE(checks[1].advice.empty());
}

TEST(PreflightSchema, FailsOnAnotherPrimaryKey) {
  Table other_key = orders();
  other_key.columns[1].kind = ColumnKind::Regular;
  auto checks = schema_checks(schema_with({orders()}), schema_with({other_key}), {"shop"});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Fail);
  EXPECT_TRUE(has(checks[0].detail, "primary key")) << checks[0].detail;
}

TEST(PreflightSchema, FailsForAKeyspaceOriginDoesNotHaveAndWarnsForAnEmptyOne) {
  Schema origin = schema_with({});
  auto checks = schema_checks(origin, schema_with({}), {"shop", "nope"});
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "schema shop");
  EXPECT_EQ(checks[0].result, CheckResult::Warn);
  EXPECT_EQ(checks[1].name, "schema nope");
  EXPECT_EQ(checks[1].result, CheckResult::Fail);
  EXPECT_EQ(checks[1].detail, "keyspace 'nope' does not exist on origin");
}

TEST(PreflightSchema, WarnsWhenOriginHasNoTableAtAll) {
  Schema empty;
  auto checks = schema_checks(empty, empty, {});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Warn);
}

TEST(PreflightFeatures, WarnsForCountersNonFrozenListsAndDefaultTtls) {
  Table likes{
      "shop",
      "likes",
      {column("id", "int", ColumnKind::PartitionKey), column("n", "counter", ColumnKind::Regular)},
      1,
      0};
  Table carts{"shop",
              "carts",
              {column("id", "int", ColumnKind::PartitionKey),
               column("items", "list<text>", ColumnKind::Regular),
               column("tags", "frozen<list<text>>", ColumnKind::Regular),
               column("seen", "set<text>", ColumnKind::Regular)},
              1,
              0};
  auto checks = feature_checks(schema_with({carts, likes, orders()}),
                               {{"shop.carts", 0}, {"shop.likes", 0}, {"shop.orders", 86400}});
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_EQ(checks[0].name, "non-frozen list shop.carts.items");
  EXPECT_EQ(checks[1].name, "counter table shop.likes");
  EXPECT_EQ(checks[2].name, "default TTL shop.orders");
  EXPECT_TRUE(has(checks[2].detail, "86400 s")) << checks[2].detail;
  for (const auto& c : checks) {
    EXPECT_EQ(c.result, CheckResult::Warn) << c.name;
    EXPECT_FALSE(c.advice.empty()) << c.name;
  }
}

TEST(PreflightFeatures, OnePassLineWhenNoTableNeedsCare) {
  auto checks = feature_checks(schema_with({orders()}), {{"shop.orders", 0}});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Pass);
}

// --- reachability and credentials -------------------------------------------------------------

client::ClientError error_of(client::ClientErrc kind, std::string message) {
  client::ClientError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

ClusterReach connected_reach() {
  ClusterReach r;
  r.name = "target";
  r.settings = "TARGET";
  r.connect_timeout_ms = 2000;
  r.contacts = {{"10.0.0.1:9042", std::nullopt}};
  r.connected = true;
  r.release_version = "4.0.11";
  r.datacenter = "dc1";
  r.nodes_up = {"10.0.0.1:9042"};
  r.version = ProtocolVersion::V5;
  return r;
}

TEST(PreflightReach, PassesWhenEveryContactPointAndNodeAnswered) {
  auto checks = reach_checks(connected_reach());
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "target reachable");
  EXPECT_EQ(checks[0].result, CheckResult::Pass);
  EXPECT_TRUE(has(checks[0].detail, "10.0.0.1:9042 answered (Cassandra 4.0.11, protocol v5)"))
      << checks[0].detail;
  EXPECT_EQ(checks[1].name, "target credentials");
  EXPECT_EQ(checks[1].result, CheckResult::Pass);
}

TEST(PreflightReach, WarnsNamingTheContactPointsAndNodesThatDidNotAnswer) {
  auto r = connected_reach();
  r.contacts.push_back(
      {"10.0.0.2:9042", error_of(client::ClientErrc::Connect, "connection refused")});
  r.nodes_down = {"10.0.0.3:9042"};
  auto checks = reach_checks(r);
  EXPECT_EQ(checks[0].result, CheckResult::Warn);
  EXPECT_TRUE(has(checks[0].detail, "10.0.0.2:9042")) << checks[0].detail;
  EXPECT_TRUE(has(checks[0].detail, "10.0.0.3:9042")) << checks[0].detail;
  EXPECT_TRUE(has(checks[0].advice, "ZDM_TARGET_CONTACT_POINTS")) << checks[0].advice;
}

TEST(PreflightReach, FailsNamingTheSettingsWhenNothingAnswered) {
  ClusterReach r;
  r.name = "origin";
  r.settings = "ORIGIN";
  r.connect_timeout_ms = 2000;
  r.contacts = {{"10.0.0.9:9042", error_of(client::ClientErrc::Timeout, "no answer")}};
  auto checks = reach_checks(r);
  ASSERT_EQ(checks.size(), 1u);  // no credentials line: nothing answered
  EXPECT_EQ(checks[0].result, CheckResult::Fail);
  EXPECT_TRUE(has(checks[0].detail, "10.0.0.9:9042")) << checks[0].detail;
  EXPECT_TRUE(has(checks[0].advice, "ZDM_ORIGIN_CONTACT_POINTS")) << checks[0].advice;
  EXPECT_TRUE(has(checks[0].advice, "ZDM_ORIGIN_CONNECTION_TIMEOUT_MS (2000 ms)"))
      << checks[0].advice;
}

TEST(PreflightReach, AnAuthenticationErrorIsAReachableNodeAndFailedCredentials) {
  ClusterReach r;
  r.name = "origin";
  r.settings = "ORIGIN";
  r.credentials_given = true;
  r.contacts = {{"10.0.0.1:9042", error_of(client::ClientErrc::Auth, "bad credentials")}};
  auto checks = reach_checks(r);
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].result, CheckResult::Pass);
  EXPECT_EQ(checks[1].name, "origin credentials");
  EXPECT_EQ(checks[1].result, CheckResult::Fail);
  EXPECT_TRUE(has(checks[1].advice, "ZDM_ORIGIN_USERNAME and ZDM_ORIGIN_PASSWORD"))
      << checks[1].advice;
}

TEST(PreflightReach, ASetupErrorFailsWithItsMessage) {
  ClusterReach r;
  r.name = "target";
  r.settings = "TARGET";
  r.setup_error = "ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH: metadata service refused";
  auto checks = reach_checks(r);
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].result, CheckResult::Fail);
  EXPECT_EQ(checks[0].detail, r.setup_error);
}

}  // namespace
}  // namespace zdm::ops::test
