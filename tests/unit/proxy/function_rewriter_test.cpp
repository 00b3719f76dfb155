#include "proxy/routing/function_rewriter.hpp"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/timeuuid.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {
namespace {

using protocol::BatchMessage;
using protocol::BatchStatement;
using protocol::BoundValue;
using protocol::ColumnSpec;
using protocol::DataType;
using protocol::Direction;
using protocol::ExecuteMessage;
using protocol::FrameHeader;
using protocol::Message;
using protocol::Opcode;
using protocol::PreparedResult;
using protocol::ProtocolVersion;
using protocol::StreamId;
using protocol::TypeId;

// Whether text[at, at + 36) is a lowercase 8-4-4-4-12 uuid literal.
bool uuid_literal_at(const std::string& text, size_t at) {
  if (at + 36 > text.size()) return false;
  for (size_t i = 0; i < 36; ++i) {
    const char c = text[at + i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// The uuid literals of a rewritten text, in order, and the text with each
// replaced by "U".
struct Literals {
  std::vector<Uuid> uuids;
  std::string shape;
};
Literals literals_of(const std::string& text) {
  Literals out;
  for (size_t i = 0; i < text.size();) {
    if (uuid_literal_at(text, i)) {
      auto u = uuid_from_string(std::string_view(text).substr(i, 36));
      EXPECT_TRUE(u.has_value());
      if (u) out.uuids.push_back(*u);
      out.shape.push_back('U');
      i += 36;
    } else {
      out.shape.push_back(text[i++]);
    }
  }
  return out;
}

FrameHeader request_header(ProtocolVersion v, Opcode op, uint8_t flags = 0) {
  return FrameHeader{v, Direction::Request, flags, StreamId{7}, op, 0};
}

Bytes encode_request(ProtocolVersion v, protocol::RequestBody body) {
  return protocol::encode_message(protocol::make_request(v, StreamId{7}, std::move(body)));
}

template <class T>
T decode_request_as(const FrameHeader& header, const Bytes& body) {
  auto message = protocol::decode_message(header, body);
  EXPECT_TRUE(message.has_value()) << (message ? "" : message.error().message);
  if (!message) return T{};
  return std::get<T>(std::get<protocol::RequestBody>(message->body));
}

BoundValue int_value(uint8_t v) { return BoundValue::set(Bytes{0, 0, 0, v}); }
BoundValue uuid_value(const Uuid& u) { return BoundValue::set(Bytes(u.begin(), u.end())); }

ColumnSpec column(std::string name, TypeId type) {
  return ColumnSpec{"ks", "t", std::move(name), DataType::simple(type)};
}

// --- QUERY text
// -------------------------------------------------------------------------------

TEST(RewriteQuery, ReplacesEachCallWithAFreshLiteral) {
  TimeuuidGenerator gen;
  const auto out =
      rewrite_query("INSERT INTO ks.t (k, a, b, c) VALUES (1, now(), NOW(), uuid())", gen);
  ASSERT_TRUE(out.has_value());
  const Literals lit = literals_of(*out);
  EXPECT_EQ(lit.shape, "INSERT INTO ks.t (k, a, b, c) VALUES (1, U, U, U)");
  ASSERT_EQ(lit.uuids.size(), 3u);
  EXPECT_EQ(uuid_version(lit.uuids[0]), 1);
  EXPECT_EQ(uuid_version(lit.uuids[1]), 1);
  EXPECT_LT(compare_timeuuid(lit.uuids[0], lit.uuids[1]), 0);
  EXPECT_EQ(uuid_version(lit.uuids[2]), 4);
  EXPECT_TRUE(uuid_is_rfc4122(lit.uuids[2]));
}

TEST(RewriteQuery, ReplacesSystemQualifiedCallsWithCommentsInside) {
  TimeuuidGenerator gen;
  const auto out = rewrite_query(
      "UPDATE t SET a = system.now(), b = system . "
      "uuid ( /* none */ ) WHERE k = 1",
      gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(literals_of(*out).shape, "UPDATE t SET a = U, b = U WHERE k = 1");
}

TEST(RewriteQuery, ReplacesCallsInsideCollectionsAndConditions) {
  TimeuuidGenerator gen;
  const auto out = rewrite_query(
      "UPDATE t SET s = s + {now(), uuid()}, m = "
      "{'a': now()}, l = [now()] WHERE k = 1 IF "
      "v < now()",
      gen);
  ASSERT_TRUE(out.has_value());
  const Literals lit = literals_of(*out);
  EXPECT_EQ(lit.shape,
            "UPDATE t SET s = s + {U, U}, m = {'a': U}, l = [U] "
            "WHERE k = 1 IF v < U");
  EXPECT_EQ(std::set<Uuid>(lit.uuids.begin(), lit.uuids.end()).size(), 5u);
}

TEST(RewriteQuery, LeavesStringsCommentsQuotedNamesAndOtherKeyspacesAlone) {
  TimeuuidGenerator gen;
  EXPECT_FALSE(
      rewrite_query("INSERT INTO t (k, \"now()\") VALUES ('now()', $$uuid()$$) -- now()", gen)
          .has_value());
  EXPECT_FALSE(rewrite_query("INSERT INTO t (k, v) VALUES (1, ks.now()) /* uuid() */", gen));
  const auto out = rewrite_query("DELETE FROM t WHERE k = 'now()' AND c = now() // now()", gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(literals_of(*out).shape, "DELETE FROM t WHERE k = 'now()' AND c = U // now()");
}

TEST(RewriteQuery, LeavesSelectsAndOtherStatementsAlone) {
  TimeuuidGenerator gen;
  EXPECT_FALSE(rewrite_query("SELECT now(), uuid() FROM t WHERE k = now()", gen));
  EXPECT_FALSE(rewrite_query("CREATE TABLE t (k timeuuid PRIMARY KEY, v text)", gen));
  EXPECT_FALSE(rewrite_query("INSERT INTO t (k) VALUES (1)", gen));
  EXPECT_FALSE(rewrite_query("INSERT INTO t (k) VALUES (now)", gen));
  EXPECT_FALSE(rewrite_query("", gen));
}

TEST(RewriteQuery, RewritesTextBatches) {
  TimeuuidGenerator gen;
  const auto out = rewrite_query(
      "  /* x */ BEGIN UNLOGGED BATCH INSERT INTO t "
      "(k, v) VALUES (1, now()); UPDATE t SET "
      "u = uuid() WHERE k = 2; APPLY BATCH",
      gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(literals_of(*out).shape,
            "  /* x */ BEGIN UNLOGGED BATCH INSERT INTO t (k, v) VALUES (1, "
            "U); UPDATE t SET "
            "u = U WHERE k = 2; APPLY BATCH");
}

TEST(MayContainReplacedCall, FiltersCheaply) {
  EXPECT_TRUE(may_contain_replaced_call("x NoW"));
  EXPECT_TRUE(may_contain_replaced_call("UUID("));
  EXPECT_FALSE(may_contain_replaced_call("INSERT INTO t (k, v) VALUES (?, ?)"));
  EXPECT_FALSE(may_contain_replaced_call("no"));
  EXPECT_FALSE(may_contain_replaced_call(""));
}

TEST(FastRandomUuid, IsVersion4AndDistinct) {
  std::set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    const Uuid u = fast_random_uuid();
    EXPECT_EQ(uuid_version(u), 4);
    EXPECT_TRUE(uuid_is_rfc4122(u));
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// --- PREPARE plans
// ----------------------------------------------------------------------------

TEST(PlanPrepare, InsertsPositionalMarkersAmongTheClientsMarkers) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->query, "INSERT INTO t (k, a, b, c) VALUES (?, ?, ?, ?) USING TTL ?" +
                             std::string(kRewrittenTextTag));
  EXPECT_FALSE(plan->named);
  EXPECT_EQ(plan->total_markers, 5);
  EXPECT_EQ(plan->client_markers(), 3);
  ASSERT_EQ(plan->inserted.size(), 2u);
  EXPECT_EQ(plan->inserted[0], (InsertedMarker{1, ReplacedFunction::Now, ""}));
  EXPECT_EQ(plan->inserted[1], (InsertedMarker{3, ReplacedFunction::Uuid, ""}));
}

TEST(PlanPrepare, UsesNamedMarkersWhenTheStatementDoes) {
  const auto plan = plan_prepare("UPDATE t SET a = :a, b = now(), c = uuid() WHERE k = :k");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->query, "UPDATE t SET a = :a, b = :zdm__now0, c = :zdm__uuid1 WHERE k = :k" +
                             std::string(kRewrittenTextTag));
  EXPECT_TRUE(plan->named);
  EXPECT_EQ(plan->total_markers, 4);
  ASSERT_EQ(plan->inserted.size(), 2u);
  EXPECT_EQ(plan->inserted[0], (InsertedMarker{1, ReplacedFunction::Now, "zdm__now0"}));
  EXPECT_EQ(plan->inserted[1], (InsertedMarker{2, ReplacedFunction::Uuid, "zdm__uuid1"}));
}

TEST(PlanPrepare, TellsMapAndUdtColonsFromNamedMarkers) {
  // Map: key 'x' -> :v, key :k2 -> now(); then a positional marker.
  auto plan = plan_prepare("UPDATE t SET m = {'x': :v, :k2 : now()} WHERE k = ?");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->named);
  EXPECT_EQ(plan->total_markers, 4);
  ASSERT_EQ(plan->inserted.size(), 1u);
  EXPECT_EQ(plan->inserted[0].position, 2);
  EXPECT_EQ(plan->query, "UPDATE t SET m = {'x': :v, :k2 : :zdm__now0} WHERE k = ?" +
                             std::string(kRewrittenTextTag));

  // UDT literal: field names followed by ':' are not markers.
  plan = plan_prepare("INSERT INTO t (k, u) VALUES (?, {a: now(), b: ?, c: {d: uuid()}})");
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE(plan->named);
  EXPECT_EQ(plan->query, "INSERT INTO t (k, u) VALUES (?, {a: ?, b: ?, c: {d: ?}})" +
                             std::string(kRewrittenTextTag));
  ASSERT_EQ(plan->inserted.size(), 2u);
  EXPECT_EQ(plan->inserted[0].position, 1);
  EXPECT_EQ(plan->inserted[1].position, 3);
}

TEST(PlanPrepare, NeverTakesACallSiteForAMarkerName) {
  // Found by fuzzing: a stray ':' before a call must not swallow the call as a
  // marker name.
  const auto plan = plan_prepare("UPDATE t SET v = ? WHERE k = 1 IF v : now()");
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE(plan->named);
  EXPECT_EQ(plan->query,
            "UPDATE t SET v = ? WHERE k = 1 IF v : ?" + std::string(kRewrittenTextTag));
  EXPECT_EQ(plan->total_markers, 2);
  ASSERT_EQ(plan->inserted.size(), 1u);
  EXPECT_EQ(plan->inserted[0].position, 1);
}

TEST(PlanPrepare, HintsTheTypeOfMarkersThatAreFunctionArguments) {
  const auto plan = plan_prepare(
      "INSERT INTO t (k, ts, d, id) VALUES (now(), "
      "toTimestamp(now()), f(1, uuid()), uuid())");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->query,
            "INSERT INTO t (k, ts, d, id) VALUES (?, "
            "toTimestamp((timeuuid)?), f(1, (uuid)?), ?)" +
                std::string(kRewrittenTextTag));
  EXPECT_EQ(plan->total_markers, 4);
}

TEST(PlanPrepare, RewrittenTextNeverEqualsTheClientsOwnMarkerText) {
  // Prepared ids hash the text: the rewrite must not collide with a statement
  // a client could prepare with its own markers.
  const auto plan = plan_prepare("INSERT INTO t (k, v) VALUES (?, now())");
  ASSERT_TRUE(plan.has_value());
  EXPECT_NE(plan->query, "INSERT INTO t (k, v) VALUES (?, ?)");
  const auto commented = plan_prepare("INSERT INTO t (k, v) VALUES (?, now()) -- note");
  ASSERT_TRUE(commented.has_value());
  EXPECT_NE(commented->query, "INSERT INTO t (k, v) VALUES (?, ?) -- note");
  EXPECT_EQ(commented->total_markers, 2);
}

TEST(PlanPrepare, NothingToDoForSelectsOrStatementsWithoutCalls) {
  EXPECT_FALSE(plan_prepare("SELECT now() FROM t WHERE k = ?"));
  EXPECT_FALSE(plan_prepare("INSERT INTO t (k) VALUES (?)"));
  EXPECT_FALSE(plan_prepare("INSERT INTO t (k) VALUES ('unterminated now()"));
}

// --- PREPARED results
// ---------------------------------------------------------------------------

PreparedResult prepared_for_insert() {
  // INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?,
  // rewritten.
  PreparedResult r;
  r.id = Bytes{1, 2, 3};
  r.metadata.global_table_spec = true;
  r.metadata.global_keyspace = "ks";
  r.metadata.global_table = "t";
  r.metadata.columns = {column("k", TypeId::Int), column("a", TypeId::Timeuuid),
                        column("b", TypeId::Int), column("c", TypeId::Uuid),
                        column("[ttl]", TypeId::Int)};
  return r;
}

TEST(RewritePreparedResult, HidesInsertedMarkersAndRenumbersPkIndexes) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  PreparedResult r = prepared_for_insert();
  r.metadata.pk_indexes = {0, 2};
  ASSERT_TRUE(rewrite_prepared_result(r, *plan).has_value());
  ASSERT_EQ(r.metadata.columns.size(), 3u);
  EXPECT_EQ(r.metadata.columns[0].name, "k");
  EXPECT_EQ(r.metadata.columns[1].name, "b");
  EXPECT_EQ(r.metadata.columns[2].name, "[ttl]");
  EXPECT_EQ(r.metadata.pk_indexes, (std::vector<uint16_t>{0, 1}));
}

TEST(RewritePreparedResult, DropsPkIndexesWhenAKeyComponentIsGenerated) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  PreparedResult r = prepared_for_insert();
  r.metadata.pk_indexes = {0, 1};
  ASSERT_TRUE(rewrite_prepared_result(r, *plan).has_value());
  EXPECT_TRUE(r.metadata.pk_indexes.empty());
  EXPECT_EQ(r.metadata.columns.size(), 3u);
}

TEST(RewritePreparedResult, RefusesMetadataOfAnotherShape) {
  const auto plan = plan_prepare("INSERT INTO t (k, a) VALUES (?, now())");
  ASSERT_TRUE(plan);
  PreparedResult r = prepared_for_insert();
  const PreparedResult before = r;
  const auto result = rewrite_prepared_result(r, *plan);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::InvalidArgument);
  EXPECT_EQ(r, before);
}

TEST(RewritePreparedResponseBody, RewritesV4AndV5Frames) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  for (ProtocolVersion v : {ProtocolVersion::V4, ProtocolVersion::V5}) {
    PreparedResult r = prepared_for_insert();
    r.metadata.pk_indexes = {2};
    if (v == ProtocolVersion::V5) r.result_metadata_id = Bytes{9, 9};
    r.result_metadata.no_metadata = true;
    const Message message =
        protocol::make_response(v, StreamId{3}, protocol::ResultMessage{protocol::ResultBody{r}});
    const Bytes body = protocol::encode_message(message);
    const FrameHeader header{v,           Direction::Response, 0,
                             StreamId{3}, Opcode::Result,      static_cast<uint32_t>(body.size())};
    auto rewritten = rewrite_prepared_response_body(header, body, *plan);
    ASSERT_TRUE(rewritten.has_value()) << rewritten.error().message;
    auto decoded = protocol::decode_message(header, *rewritten);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    const auto& result =
        std::get<protocol::ResultMessage>(std::get<protocol::ResponseBody>(decoded->body));
    const auto& prepared = std::get<PreparedResult>(result.result);
    EXPECT_EQ(prepared.id, r.id);
    EXPECT_EQ(prepared.result_metadata_id, r.result_metadata_id);
    EXPECT_EQ(prepared.metadata.columns.size(), 3u);
    EXPECT_EQ(prepared.metadata.pk_indexes, (std::vector<uint16_t>{1}));
  }
}

// --- EXECUTE
// ------------------------------------------------------------------------------------

TEST(RewriteExecuteBody, InsertsPositionalValuesInV4) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{1, 2, 3};
  e.parameters.consistency = protocol::Consistency::LocalQuorum;
  e.parameters.values = std::vector<BoundValue>{int_value(1), BoundValue::unset(), int_value(60)};
  e.parameters.page_size = 100;
  e.parameters.serial_consistency = protocol::Consistency::LocalSerial;
  e.parameters.default_timestamp = 123456789;
  const auto header = request_header(ProtocolVersion::V4, Opcode::Execute);
  const Bytes body = encode_request(ProtocolVersion::V4, e);

  TimeuuidGenerator gen;
  const std::vector<Uuid> values = generate_values(*plan, gen);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(uuid_version(values[0]), 1);
  EXPECT_EQ(uuid_version(values[1]), 4);
  auto out = rewrite_execute_body(header, body, *plan, values);
  ASSERT_TRUE(out.has_value()) << out.error().message;

  ExecuteMessage expected = e;
  expected.parameters.values =
      std::vector<BoundValue>{int_value(1), uuid_value(values[0]), BoundValue::unset(),
                              uuid_value(values[1]), int_value(60)};
  EXPECT_EQ(decode_request_as<ExecuteMessage>(header, *out), expected);
}

TEST(RewriteExecuteBody, AddsValuesToAV5ExecuteThatHadNone) {
  const auto plan = plan_prepare("INSERT INTO t (k, v) VALUES (now(), uuid())");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{4, 5};
  e.result_metadata_id = Bytes{6, 7, 8};
  e.parameters.keyspace = "ks";
  e.parameters.now_in_seconds = 42;
  const auto header = request_header(ProtocolVersion::V5, Opcode::Execute);
  const Bytes body = encode_request(ProtocolVersion::V5, e);
  TimeuuidGenerator gen;
  const auto values = generate_values(*plan, gen);
  auto out = rewrite_execute_body(header, body, *plan, values);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  ExecuteMessage expected = e;
  expected.parameters.values =
      std::vector<BoundValue>{uuid_value(values[0]), uuid_value(values[1])};
  EXPECT_EQ(decode_request_as<ExecuteMessage>(header, *out), expected);
}

TEST(RewriteExecuteBody, AppendsNamedValuesByName) {
  const auto plan = plan_prepare("UPDATE t SET a = :a, b = now() WHERE k = :k");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{1};
  e.parameters.values = std::vector<BoundValue>{int_value(5), int_value(6)};
  e.parameters.named_values = true;
  e.parameters.value_names = {"k", "a"};
  const auto header = request_header(ProtocolVersion::V4, Opcode::Execute);
  TimeuuidGenerator gen;
  const auto values = generate_values(*plan, gen);
  auto out = rewrite_execute_body(header, encode_request(ProtocolVersion::V4, e), *plan, values);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  ExecuteMessage expected = e;
  expected.parameters.values->push_back(uuid_value(values[0]));
  expected.parameters.value_names.push_back("zdm__now0");
  EXPECT_EQ(decode_request_as<ExecuteMessage>(header, *out), expected);
}

TEST(RewriteExecuteBody, NamesPositionalMarkersFromTheClustersMetadata) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{1};
  e.parameters.values = std::vector<BoundValue>{int_value(1), int_value(2), int_value(3)};
  e.parameters.named_values = true;
  e.parameters.value_names = {"k", "b", "[ttl]"};
  const auto header = request_header(ProtocolVersion::V4, Opcode::Execute);
  const Bytes body = encode_request(ProtocolVersion::V4, e);
  TimeuuidGenerator gen;
  const auto values = generate_values(*plan, gen);

  auto without = rewrite_execute_body(header, body, *plan, values);
  ASSERT_FALSE(without.has_value());
  EXPECT_EQ(without.error().code, Errc::InvalidArgument);

  const PreparedResult origin = prepared_for_insert();
  auto out = rewrite_execute_body(header, body, *plan, values, &origin.metadata);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  const auto decoded = decode_request_as<ExecuteMessage>(header, *out);
  EXPECT_EQ(decoded.parameters.value_names,
            (std::vector<std::string>{"k", "b", "[ttl]", "a", "c"}));
  ASSERT_TRUE(decoded.parameters.values.has_value());
  EXPECT_EQ((*decoded.parameters.values)[3], uuid_value(values[0]));
  EXPECT_EQ((*decoded.parameters.values)[4], uuid_value(values[1]));
}

TEST(RewriteExecuteBody, KeepsACustomPayload) {
  const auto plan = plan_prepare("INSERT INTO t (k, v) VALUES (?, now())");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{1};
  e.parameters.values = std::vector<BoundValue>{int_value(1)};
  Message m = protocol::make_request(ProtocolVersion::V4, StreamId{1}, e);
  m.envelope.custom_payload = protocol::CustomPayload{{"key", Bytes{1, 2}}};
  const Bytes body = protocol::encode_message(m);
  const auto header =
      request_header(ProtocolVersion::V4, Opcode::Execute, protocol::frame_flags::kCustomPayload);
  TimeuuidGenerator gen;
  const auto values = generate_values(*plan, gen);
  auto out = rewrite_execute_body(header, body, *plan, values);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  auto decoded = protocol::decode_message(header, *out);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
  EXPECT_EQ(decoded->envelope.custom_payload, m.envelope.custom_payload);
  const auto& got = std::get<ExecuteMessage>(std::get<protocol::RequestBody>(decoded->body));
  EXPECT_EQ(got.parameters.values, (std::vector<BoundValue>{int_value(1), uuid_value(values[0])}));
}

TEST(RewriteExecuteBody, RejectsAWrongValueCountAndMalformedBodies) {
  const auto plan = plan_prepare("INSERT INTO t (k, v) VALUES (?, now())");
  ASSERT_TRUE(plan);
  ExecuteMessage e;
  e.id = Bytes{1};
  e.parameters.values = std::vector<BoundValue>{int_value(1), int_value(2)};
  const auto header = request_header(ProtocolVersion::V4, Opcode::Execute);
  const Bytes body = encode_request(ProtocolVersion::V4, e);
  TimeuuidGenerator gen;
  const auto values = generate_values(*plan, gen);
  auto out = rewrite_execute_body(header, body, *plan, values);
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, Errc::InvalidArgument);

  e.parameters.values = std::vector<BoundValue>{int_value(1)};
  const Bytes good = encode_request(ProtocolVersion::V4, e);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    const Bytes truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(rewrite_execute_body(header, truncated, *plan, values).has_value()) << cut;
  }
  EXPECT_FALSE(
      rewrite_execute_body(request_header(ProtocolVersion::V4, Opcode::Query), good, *plan, values)
          .has_value());
}

// --- QUERY / PREPARE bodies
// -----------------------------------------------------------------------

TEST(RewriteQueryBody, RewritesTheTextAndKeepsTheParameters) {
  protocol::QueryMessage q;
  q.query = "INSERT INTO t (k, v) VALUES (?, now())";
  q.parameters.values = std::vector<BoundValue>{int_value(1)};
  q.parameters.default_timestamp = 99;
  q.parameters.keyspace = "ks";
  const auto header = request_header(ProtocolVersion::V5, Opcode::Query);
  TimeuuidGenerator gen;
  auto out = rewrite_query_body(header, encode_request(ProtocolVersion::V5, q), gen);
  ASSERT_TRUE(out.has_value()) << out.error().message;
  ASSERT_TRUE(out->has_value());
  auto decoded = decode_request_as<protocol::QueryMessage>(header, **out);
  EXPECT_EQ(literals_of(decoded.query).shape, "INSERT INTO t (k, v) VALUES (?, U)");
  EXPECT_EQ(decoded.parameters, q.parameters);

  q.query = "SELECT now() FROM t";
  auto untouched = rewrite_query_body(header, encode_request(ProtocolVersion::V5, q), gen);
  ASSERT_TRUE(untouched.has_value());
  EXPECT_FALSE(untouched->has_value());
}

TEST(RewritePrepareBody, RewritesTheTextAndReturnsThePlan) {
  protocol::PrepareMessage p;
  p.query = "UPDATE t SET v = uuid() WHERE k = ?";
  p.keyspace = "ks";
  const auto header = request_header(ProtocolVersion::V5, Opcode::Prepare);
  auto out = rewrite_prepare_body(header, encode_request(ProtocolVersion::V5, p));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  ASSERT_TRUE(out->has_value());
  auto decoded = decode_request_as<protocol::PrepareMessage>(header, (*out)->body);
  EXPECT_EQ(decoded.query, "UPDATE t SET v = ? WHERE k = ?" + std::string(kRewrittenTextTag));
  EXPECT_EQ(decoded.keyspace, p.keyspace);
  EXPECT_EQ((*out)->plan.query, decoded.query);
  ASSERT_EQ((*out)->plan.inserted.size(), 1u);
  EXPECT_EQ((*out)->plan.inserted[0].position, 0);
}

// --- BATCH
// ----------------------------------------------------------------------------------------

TEST(RewriteBatchBody, RewritesTextChildrenAndInsertsValuesIntoPreparedOnes) {
  const auto plan =
      plan_prepare("INSERT INTO t (k, a, b, c) VALUES (?, now(), ?, uuid()) USING TTL ?");
  ASSERT_TRUE(plan);
  const Bytes planned_id{0xAA};
  const Bytes other_id{0xBB};
  for (ProtocolVersion v : {ProtocolVersion::V4, ProtocolVersion::V5}) {
    BatchMessage b;
    b.type = protocol::BatchType::Unlogged;
    b.statements.push_back(BatchStatement{
        BatchStatement::Kind::Query, "INSERT INTO t (k, v) VALUES (?, now())", {}, {int_value(1)}});
    b.statements.push_back(BatchStatement{BatchStatement::Kind::Prepared,
                                          "",
                                          planned_id,
                                          {int_value(2), int_value(3), int_value(4)}});
    b.statements.push_back(
        BatchStatement{BatchStatement::Kind::Prepared, "", other_id, {int_value(5)}});
    b.statements.push_back(
        BatchStatement{BatchStatement::Kind::Query, "DELETE FROM t WHERE k = 'now()'", {}, {}});
    b.consistency = protocol::Consistency::Quorum;
    b.default_timestamp = 77;
    const auto header = request_header(v, Opcode::Batch);
    TimeuuidGenerator gen;
    auto out = rewrite_batch_body(
        header, encode_request(v, b), gen, [&](ByteView id) -> const PrepareRewrite* {
          return Bytes(id.begin(), id.end()) == planned_id ? &*plan : nullptr;
        });
    ASSERT_TRUE(out.has_value()) << out.error().message;
    ASSERT_TRUE(out->has_value());
    const auto decoded = decode_request_as<BatchMessage>(header, **out);
    ASSERT_EQ(decoded.statements.size(), 4u);
    EXPECT_EQ(literals_of(decoded.statements[0].query).shape, "INSERT INTO t (k, v) VALUES (?, U)");
    EXPECT_EQ(decoded.statements[0].values, b.statements[0].values);
    const auto& vals = decoded.statements[1].values;
    ASSERT_EQ(vals.size(), 5u);
    EXPECT_EQ(vals[0], int_value(2));
    EXPECT_EQ(vals[2], int_value(3));
    EXPECT_EQ(vals[4], int_value(4));
    ASSERT_EQ(vals[1].bytes.size(), 16u);
    ASSERT_EQ(vals[3].bytes.size(), 16u);
    Uuid now_value;
    std::copy(vals[1].bytes.begin(), vals[1].bytes.end(), now_value.begin());
    EXPECT_EQ(uuid_version(now_value), 1);
    EXPECT_EQ(decoded.statements[2], b.statements[2]);
    EXPECT_EQ(decoded.statements[3], b.statements[3]);
    EXPECT_EQ(decoded.consistency, b.consistency);
    EXPECT_EQ(decoded.default_timestamp, b.default_timestamp);
    EXPECT_EQ(decoded.type, b.type);
  }
}

TEST(RewriteBatchBody, ReturnsNothingWhenNoChildChanges) {
  BatchMessage b;
  b.statements.push_back(
      BatchStatement{BatchStatement::Kind::Query, "INSERT INTO t (k) VALUES (1)", {}, {}});
  b.statements.push_back(BatchStatement{BatchStatement::Kind::Prepared, "", Bytes{1}, {}});
  const auto header = request_header(ProtocolVersion::V4, Opcode::Batch);
  TimeuuidGenerator gen;
  auto out = rewrite_batch_body(header, encode_request(ProtocolVersion::V4, b), gen,
                                [](ByteView) -> const PrepareRewrite* { return nullptr; });
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(out->has_value());

  const Bytes body = encode_request(ProtocolVersion::V4, b);
  for (size_t cut = 0; cut + 3 < body.size(); ++cut) {
    const Bytes truncated(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_FALSE(rewrite_batch_body(header, truncated, gen,
                                    [](ByteView) -> const PrepareRewrite* { return nullptr; })
                     .has_value())
        << cut;
  }
}

}  // namespace
}  // namespace zdm::proxy
