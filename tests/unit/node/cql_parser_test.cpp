// CQL statement parser: every statement form the node supports, names and quoting, bind marker
// numbering, and syntax errors with positions.

#include "node/cql/cql_parser.hpp"

#include <string>

#include <gtest/gtest.h>

namespace zdm::node::test {
namespace {

using namespace cql;  // NOLINT

Statement parse_ok(std::string_view text) {
  auto result = parse_cql(text);
  EXPECT_TRUE(result.has_value()) << text << "\n  -> " << (result ? "" : result.error().message);
  return result ? std::move(*result) : Statement{};
}

std::string parse_error(std::string_view text) {
  auto result = parse_cql(text);
  EXPECT_FALSE(result.has_value()) << text;
  if (result) return {};
  EXPECT_EQ(result.error().code, Errc::Malformed);
  return result.error().message;
}

template <class T>
const T& body(const Statement& s) {
  static const T empty{};
  const T* p = std::get_if<T>(&s.body);
  EXPECT_NE(p, nullptr) << "statement is a " << statement_kind_name(s);
  return p != nullptr ? *p : empty;
}

// The statement body by value (the parsed Statement is a temporary).
template <class T>
T parse_as(std::string_view text) {
  Statement s = parse_ok(text);
  return body<T>(s);
}

template <class T>
const T& as(const Term& t) {
  static const T empty{};
  const T* p = std::get_if<T>(&t.value);
  EXPECT_NE(p, nullptr) << "term alternative index " << t.value.index();
  return p != nullptr ? *p : empty;
}

void expect_literal(const Term& t, LiteralKind kind, std::string_view text) {
  const Literal& lit = as<Literal>(t);
  EXPECT_EQ(lit.kind, kind);
  EXPECT_EQ(lit.text, text);
}

void expect_marker(const Term& t, uint32_t index, std::string_view name = {}) {
  const BindMarker& m = as<BindMarker>(t);
  EXPECT_EQ(m.index, index);
  EXPECT_EQ(m.name, name);
}

template <class T>
const T& sel(const Selector& s) {
  static const T empty{};
  const T* p = std::get_if<T>(&s.value);
  EXPECT_NE(p, nullptr) << "selector alternative index " << s.value.index();
  return p != nullptr ? *p : empty;
}

// ---------------------------------------------------------------------------------------------
// Connect-time statements of real drivers

TEST(CqlParserTest, ParsesDriverConnectQueries) {
  {
    Statement s = parse_ok("SELECT * FROM system.local WHERE key='local'");
    const Select& q = body<Select>(s);
    EXPECT_TRUE(q.select_all);
    EXPECT_EQ(q.table, (QualifiedName{"system", "local"}));
    ASSERT_EQ(q.where.size(), 1u);
    EXPECT_EQ(q.where[0].kind, Relation::Kind::Column);
    EXPECT_EQ(q.where[0].columns, std::vector<std::string>{"key"});
    EXPECT_EQ(q.where[0].op, Operator::Eq);
    expect_literal(q.where[0].value, LiteralKind::String, "local");
    EXPECT_EQ(s.bind_count(), 0u);
  }
  {
    Statement s = parse_ok(
        "SELECT peer, data_center, host_id, preferred_ip, "
        "rack, release_version, rpc_address, "
        "schema_version, tokens FROM system.peers");
    const Select& q = body<Select>(s);
    ASSERT_EQ(q.selectors.size(), 9u);
    EXPECT_EQ(sel<ColumnSelector>(q.selectors[0]).name, "peer");
    EXPECT_EQ(sel<ColumnSelector>(q.selectors[8]).name, "tokens");
    EXPECT_EQ(q.table, (QualifiedName{"system", "peers"}));
  }
  for (const char* text :
       {"SELECT * FROM system_schema.keyspaces", "SELECT * FROM system_schema.tables",
        "SELECT * FROM system_schema.columns", "SELECT * FROM system_schema.types",
        "SELECT * FROM system_schema.functions", "SELECT * FROM system_schema.aggregates",
        "SELECT * FROM system_schema.triggers", "SELECT * FROM system_schema.indexes",
        "SELECT * FROM system_schema.views", "SELECT * FROM system.peers_v2",
        "SELECT schema_version FROM system.local WHERE key='local'",
        "SELECT peer, rpc_address, schema_version FROM system.peers",
        "SELECT cluster_name, release_version FROM system.local"}) {
    Statement s = parse_ok(text);
    EXPECT_TRUE(std::holds_alternative<Select>(s.body)) << text;
  }
  Statement s = parse_ok(
      "SELECT keyspace_name, table_name FROM "
      "system_schema.tables WHERE keyspace_name = 'ks' "
      "AND table_name = 'tbl'");
  EXPECT_EQ(body<Select>(s).where.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// SELECT

TEST(CqlParserTest, ParsesSelectClauses) {
  Statement s = parse_ok(
      "select distinct pk, ck AS c1, \"Mixed\" from KS.Tbl "
      "where pk = ? and ck >= 3 and ck < :hi "
      "group by pk, ck order by ck desc, x ASC per "
      "partition limit ? limit 10 allow filtering;");
  const Select& q = body<Select>(s);
  EXPECT_TRUE(q.distinct);
  EXPECT_FALSE(q.json);
  EXPECT_EQ(q.table, (QualifiedName{"ks", "tbl"}));
  ASSERT_EQ(q.selectors.size(), 3u);
  EXPECT_EQ(q.selectors[1].alias, "c1");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[2]).name, "Mixed");
  ASSERT_EQ(q.where.size(), 3u);
  expect_marker(q.where[0].value, 0);
  EXPECT_EQ(q.where[1].op, Operator::Ge);
  expect_literal(q.where[1].value, LiteralKind::Integer, "3");
  EXPECT_EQ(q.where[2].op, Operator::Lt);
  expect_marker(q.where[2].value, 1, "hi");
  EXPECT_EQ(q.group_by, (std::vector<std::string>{"pk", "ck"}));
  ASSERT_EQ(q.order_by.size(), 2u);
  EXPECT_TRUE(q.order_by[0].descending);
  EXPECT_FALSE(q.order_by[1].descending);
  ASSERT_TRUE(q.per_partition_limit.has_value());
  expect_marker(*q.per_partition_limit, 2);
  ASSERT_TRUE(q.limit.has_value());
  expect_literal(*q.limit, LiteralKind::Integer, "10");
  EXPECT_TRUE(q.allow_filtering);
  EXPECT_EQ(s.bind_count(), 3u);
}

TEST(CqlParserTest, ParsesSelectJsonAndColumnsNamedLikeModifiers) {
  const Select a = parse_as<Select>("SELECT JSON * FROM t");
  EXPECT_TRUE(a.json);
  EXPECT_TRUE(a.select_all);
  Statement sb = parse_ok("SELECT json, distinct FROM t");
  const Select& b = body<Select>(sb);
  EXPECT_FALSE(b.json);
  EXPECT_FALSE(b.distinct);
  ASSERT_EQ(b.selectors.size(), 2u);
  EXPECT_EQ(sel<ColumnSelector>(b.selectors[0]).name, "json");
  Statement sc = parse_ok("SELECT JSON DISTINCT pk FROM t");
  EXPECT_TRUE(body<Select>(sc).json);
  EXPECT_TRUE(body<Select>(sc).distinct);
}

TEST(CqlParserTest, ParsesSelectorFunctions) {
  Statement s = parse_ok(
      "SELECT count(*), COUNT(1), count(v), min(v), max(v), "
      "sum(v), avg(v), WRITETIME(v), "
      "ttl(v), token(a, b), now(), toTimestamp(now()), "
      "CAST(v AS text), system.uuid(), "
      "blobAsInt(0x00000001), u.street, m['k'], 'lit', ?, "
      "key, value, ttl, writetime, count "
      "FROM t");
  const Select& q = body<Select>(s);
  ASSERT_EQ(q.selectors.size(), 24u);
  const auto& count_star = sel<FunctionSelector>(q.selectors[0]);
  EXPECT_EQ(count_star.name, "count");
  EXPECT_TRUE(count_star.star);
  EXPECT_TRUE(count_star.args.empty());
  const auto& count_one = sel<FunctionSelector>(q.selectors[1]);
  ASSERT_EQ(count_one.args.size(), 1u);
  expect_literal(sel<TermSelector>(count_one.args[0]).term, LiteralKind::Integer, "1");
  EXPECT_EQ(sel<ColumnSelector>(sel<FunctionSelector>(q.selectors[2]).args[0]).name, "v");
  EXPECT_EQ(sel<FunctionSelector>(q.selectors[6]).name, "avg");
  EXPECT_EQ(sel<WritetimeSelector>(q.selectors[7]).kind, WritetimeSelector::Kind::Writetime);
  EXPECT_EQ(sel<WritetimeSelector>(q.selectors[7]).column, "v");
  EXPECT_EQ(sel<WritetimeSelector>(q.selectors[8]).kind, WritetimeSelector::Kind::Ttl);
  const auto& token = sel<FunctionSelector>(q.selectors[9]);
  EXPECT_EQ(token.name, "token");
  ASSERT_EQ(token.args.size(), 2u);
  EXPECT_EQ(sel<ColumnSelector>(token.args[1]).name, "b");
  EXPECT_EQ(sel<FunctionSelector>(q.selectors[10]).name, "now");
  const auto& to_ts = sel<FunctionSelector>(q.selectors[11]);
  EXPECT_EQ(to_ts.name, "totimestamp");
  ASSERT_EQ(to_ts.args.size(), 1u);
  EXPECT_EQ(sel<FunctionSelector>(to_ts.args[0]).name, "now");
  const auto& cast = sel<CastSelector>(q.selectors[12]);
  EXPECT_EQ(cast.type_text, "text");
  EXPECT_EQ(sel<ColumnSelector>(*cast.arg).name, "v");
  EXPECT_EQ(sel<FunctionSelector>(q.selectors[13]).keyspace, "system");
  EXPECT_EQ(sel<FunctionSelector>(q.selectors[13]).name, "uuid");
  const auto& blob_fn = sel<FunctionSelector>(q.selectors[14]);
  EXPECT_EQ(blob_fn.name, "blobasint");
  expect_literal(sel<TermSelector>(blob_fn.args[0]).term, LiteralKind::Blob, "0x00000001");
  const auto& field = sel<FieldSelector>(q.selectors[15]);
  EXPECT_EQ(field.field, "street");
  EXPECT_EQ(sel<ColumnSelector>(*field.base).name, "u");
  const auto& element = sel<ElementSelector>(q.selectors[16]);
  expect_literal(element.key, LiteralKind::String, "k");
  expect_literal(sel<TermSelector>(q.selectors[17]).term, LiteralKind::String, "lit");
  expect_marker(sel<TermSelector>(q.selectors[18]).term, 0);
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[19]).name, "key");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[20]).name, "value");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[21]).name, "ttl");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[22]).name, "writetime");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[23]).name, "count");
}

TEST(CqlParserTest, ParsesRelations) {
  Statement s = parse_ok(
      "SELECT * FROM t WHERE a IN (1, 2, ?) AND b IN ? AND (c, d) > (1, ?) AND "
      "(c, d) IN "
      "((1, 2), (3, 4)) AND (e, f) IN ? AND token(a, b) > token(?, ?) AND s "
      "CONTAINS 'x' AND m "
      "CONTAINS KEY :k AND m['k'] = 5 AND g != 1 AND h <= -1.5 AND (x, y) = ?");
  const Select& q = body<Select>(s);
  ASSERT_EQ(q.where.size(), 12u);
  const Relation& in_list = q.where[0];
  EXPECT_EQ(in_list.op, Operator::In);
  EXPECT_FALSE(in_list.in_marker);
  ASSERT_EQ(in_list.in_values.size(), 3u);
  expect_marker(in_list.in_values[2], 0);
  const Relation& in_marker = q.where[1];
  EXPECT_EQ(in_marker.op, Operator::In);
  EXPECT_TRUE(in_marker.in_marker);
  expect_marker(in_marker.value, 1);
  const Relation& multi = q.where[2];
  EXPECT_EQ(multi.kind, Relation::Kind::MultiColumn);
  EXPECT_EQ(multi.columns, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(multi.op, Operator::Gt);
  ASSERT_EQ(as<TupleLiteral>(multi.value).elements.size(), 2u);
  expect_marker(as<TupleLiteral>(multi.value).elements[1], 2);
  const Relation& multi_in = q.where[3];
  EXPECT_EQ(multi_in.op, Operator::In);
  ASSERT_EQ(multi_in.in_values.size(), 2u);
  expect_literal(as<TupleLiteral>(multi_in.in_values[1]).elements[0], LiteralKind::Integer, "3");
  EXPECT_TRUE(q.where[4].in_marker);
  expect_marker(q.where[4].value, 3);
  const Relation& token = q.where[5];
  EXPECT_EQ(token.kind, Relation::Kind::Token);
  EXPECT_EQ(token.columns, (std::vector<std::string>{"a", "b"}));
  const FunctionCall& call = as<FunctionCall>(token.value);
  EXPECT_EQ(call.name, "token");
  ASSERT_EQ(call.args.size(), 2u);
  expect_marker(call.args[0], 4);
  expect_marker(call.args[1], 5);
  EXPECT_EQ(q.where[6].op, Operator::Contains);
  EXPECT_EQ(q.where[7].op, Operator::ContainsKey);
  expect_marker(q.where[7].value, 6, "k");
  const Relation& element = q.where[8];
  EXPECT_EQ(element.kind, Relation::Kind::Element);
  ASSERT_TRUE(element.element_key.has_value());
  expect_literal(*element.element_key, LiteralKind::String, "k");
  EXPECT_EQ(q.where[9].op, Operator::Ne);
  EXPECT_EQ(q.where[10].op, Operator::Le);
  expect_literal(q.where[10].value, LiteralKind::Float, "-1.5");
  expect_marker(q.where[11].value, 7);
  EXPECT_EQ(s.bind_count(), 8u);
}

TEST(CqlParserTest, TokenRelationWithBindMarker) {
  Statement s = parse_ok("SELECT k, v FROM ks.t WHERE token(k) > ? AND token(k) <= ? LIMIT 100");
  const Select& q = body<Select>(s);
  ASSERT_EQ(q.where.size(), 2u);
  EXPECT_EQ(q.where[0].kind, Relation::Kind::Token);
  EXPECT_EQ(q.where[1].op, Operator::Le);
  expect_marker(q.where[1].value, 1);
}

// ---------------------------------------------------------------------------------------------
// Terms

TEST(CqlParserTest, ParsesLiteralKinds) {
  Statement s = parse_ok(
      "INSERT INTO t (a, b, c, d, e, f, g, h, i, j, k, l, m, n, o) "
      "VALUES ('it''s', 42, -7, "
      "1.5e3, true, FALSE, null, "
      "123e4567-e89b-12d3-a456-426614174000, 0xCAFE, 1h30m, NaN, "
      "-Infinity, $$dollar 'x'$$, - 3, -2mo)");
  const Insert& q = body<Insert>(s);
  ASSERT_EQ(q.values.size(), 15u);
  expect_literal(q.values[0], LiteralKind::String, "it's");
  expect_literal(q.values[1], LiteralKind::Integer, "42");
  expect_literal(q.values[2], LiteralKind::Integer, "-7");
  expect_literal(q.values[3], LiteralKind::Float, "1.5e3");
  expect_literal(q.values[4], LiteralKind::Boolean, "true");
  expect_literal(q.values[5], LiteralKind::Boolean, "false");
  expect_literal(q.values[6], LiteralKind::Null, "null");
  EXPECT_TRUE(q.values[6].is_null());
  expect_literal(q.values[7], LiteralKind::Uuid, "123e4567-e89b-12d3-a456-426614174000");
  expect_literal(q.values[8], LiteralKind::Blob, "0xCAFE");
  expect_literal(q.values[9], LiteralKind::Duration, "1h30m");
  expect_literal(q.values[10], LiteralKind::Float, "NaN");
  expect_literal(q.values[11], LiteralKind::Float, "-Infinity");
  expect_literal(q.values[12], LiteralKind::String, "dollar 'x'");
  expect_literal(q.values[13], LiteralKind::Integer, "-3");
  expect_literal(q.values[14], LiteralKind::Duration, "-2mo");
}

TEST(CqlParserTest, ParsesCollectionTupleUdtAndFunctionTerms) {
  Statement s = parse_ok(
      "INSERT INTO t (l, s, m, e, tu, u, f, h, n, bm) VALUES ([1, 2], {'a', "
      "'b'}, {'k': [1], "
      "'j': []}, {}, (1, 'x', null), {street: 'Main', \"Zip\": 123, nested: "
      "{a: 1}}, "
      "toTimestamp(now()), (int) ?, (frozen<list<int>>) :lst, {true: ?})");
  const Insert& q = body<Insert>(s);
  ASSERT_EQ(q.values.size(), 10u);
  EXPECT_EQ(as<ListLiteral>(q.values[0]).elements.size(), 2u);
  EXPECT_EQ(as<SetLiteral>(q.values[1]).elements.size(), 2u);
  const MapLiteral& map = as<MapLiteral>(q.values[2]);
  ASSERT_EQ(map.entries.size(), 2u);
  expect_literal(map.entries[1].key, LiteralKind::String, "j");
  EXPECT_TRUE(as<ListLiteral>(map.entries[1].value).elements.empty());
  EXPECT_TRUE(as<MapLiteral>(q.values[3]).entries.empty());
  const TupleLiteral& tuple = as<TupleLiteral>(q.values[4]);
  ASSERT_EQ(tuple.elements.size(), 3u);
  EXPECT_TRUE(tuple.elements[2].is_null());
  const UdtLiteral& udt = as<UdtLiteral>(q.values[5]);
  ASSERT_EQ(udt.fields.size(), 3u);
  EXPECT_EQ(udt.fields[0].name, "street");
  EXPECT_EQ(udt.fields[1].name, "Zip");
  EXPECT_EQ(as<UdtLiteral>(udt.fields[2].value).fields[0].name, "a");
  const FunctionCall& fn = as<FunctionCall>(q.values[6]);
  EXPECT_EQ(fn.name, "totimestamp");
  ASSERT_EQ(fn.args.size(), 1u);
  EXPECT_EQ(as<FunctionCall>(fn.args[0]).name, "now");
  EXPECT_TRUE(as<FunctionCall>(fn.args[0]).args.empty());
  const TypeHint& hint = as<TypeHint>(q.values[7]);
  EXPECT_EQ(hint.type_text, "int");
  expect_marker(*hint.term, 0);
  const TypeHint& hint2 = as<TypeHint>(q.values[8]);
  EXPECT_EQ(hint2.type_text, "frozen<list<int>>");
  expect_marker(*hint2.term, 1, "lst");
  const MapLiteral& bool_map = as<MapLiteral>(q.values[9]);
  ASSERT_EQ(bool_map.entries.size(), 1u);
  expect_literal(bool_map.entries[0].key, LiteralKind::Boolean, "true");
  expect_marker(bool_map.entries[0].value, 2);
  EXPECT_EQ(s.bind_count(), 3u);
}

// ---------------------------------------------------------------------------------------------
// INSERT / UPDATE / DELETE / BATCH

TEST(CqlParserTest, ParsesInsertWithUsingAndIfNotExists) {
  Statement s = parse_ok(
      "INSERT INTO ks.t (pk, ck, v) VALUES (?, ?, ?) IF NOT "
      "EXISTS USING TTL ? AND TIMESTAMP "
      "12345");
  const Insert& q = body<Insert>(s);
  EXPECT_EQ(q.table, (QualifiedName{"ks", "t"}));
  EXPECT_EQ(q.columns, (std::vector<std::string>{"pk", "ck", "v"}));
  EXPECT_TRUE(q.if_not_exists);
  ASSERT_TRUE(q.using_clause.ttl.has_value());
  expect_marker(*q.using_clause.ttl, 3);
  ASSERT_TRUE(q.using_clause.timestamp.has_value());
  expect_literal(*q.using_clause.timestamp, LiteralKind::Integer, "12345");
  EXPECT_EQ(s.bind_count(), 4u);
  EXPECT_EQ(statement_kind_name(s), "INSERT");

  Statement s2 = parse_ok("insert into t (a) values (1) using timestamp ? and ttl 10");
  const Insert& q2 = body<Insert>(s2);
  expect_marker(*q2.using_clause.timestamp, 0);
  expect_literal(*q2.using_clause.ttl, LiteralKind::Integer, "10");
}

TEST(CqlParserTest, ParsesInsertJson) {
  Statement s = parse_ok("INSERT INTO t JSON '{\"a\": 1, \"b\": \"x''y\"}'");
  const Insert& q = body<Insert>(s);
  EXPECT_TRUE(q.json);
  ASSERT_TRUE(q.json_value.has_value());
  expect_literal(*q.json_value, LiteralKind::String, "{\"a\": 1, \"b\": \"x'y\"}");
  EXPECT_FALSE(q.json_default_unset);

  Statement s2 = parse_ok("INSERT INTO t JSON ? DEFAULT UNSET IF NOT EXISTS USING TTL 5");
  const Insert& q2 = body<Insert>(s2);
  expect_marker(*q2.json_value, 0);
  EXPECT_TRUE(q2.json_default_unset);
  EXPECT_TRUE(q2.if_not_exists);
  EXPECT_TRUE(q2.using_clause.ttl.has_value());
  EXPECT_FALSE(body<Insert>(parse_ok("INSERT INTO t JSON ? DEFAULT NULL")).json_default_unset);
}

TEST(CqlParserTest, ParsesUpdateAssignments) {
  Statement s = parse_ok(
      "UPDATE ks.t USING TTL 60 AND TIMESTAMP ? SET a = 1, l = l + "
      "[1], l = [0] + l, s = s - "
      "{'x'}, c = c + 1, c = c - ?, c = c -1, m['k'] = 'v', l[2] = ?, "
      "u.street = 'x', m += {'a': "
      "1}, s -= {'b'}, v = null WHERE pk = ? AND ck IN (1, 2)");
  const Update& q = body<Update>(s);
  EXPECT_EQ(q.table, (QualifiedName{"ks", "t"}));
  expect_literal(*q.using_clause.ttl, LiteralKind::Integer, "60");
  expect_marker(*q.using_clause.timestamp, 0);
  ASSERT_EQ(q.assignments.size(), 13u);
  using K = Assignment::Kind;
  EXPECT_EQ(q.assignments[0].kind, K::Set);
  EXPECT_EQ(q.assignments[1].kind, K::Add);
  EXPECT_EQ(as<ListLiteral>(q.assignments[1].value).elements.size(), 1u);
  EXPECT_EQ(q.assignments[2].kind, K::Prepend);
  EXPECT_EQ(q.assignments[2].column, "l");
  EXPECT_EQ(q.assignments[3].kind, K::Subtract);
  EXPECT_EQ(q.assignments[4].kind, K::Add);
  expect_literal(q.assignments[4].value, LiteralKind::Integer, "1");
  EXPECT_EQ(q.assignments[5].kind, K::Subtract);
  expect_marker(q.assignments[5].value, 1);
  EXPECT_EQ(q.assignments[6].kind, K::Subtract);
  expect_literal(q.assignments[6].value, LiteralKind::Integer, "1");
  EXPECT_EQ(q.assignments[7].kind, K::SetElement);
  expect_literal(*q.assignments[7].key, LiteralKind::String, "k");
  expect_literal(q.assignments[7].value, LiteralKind::String, "v");
  EXPECT_EQ(q.assignments[8].kind, K::SetElement);
  expect_literal(*q.assignments[8].key, LiteralKind::Integer, "2");
  expect_marker(q.assignments[8].value, 2);
  EXPECT_EQ(q.assignments[9].kind, K::SetField);
  EXPECT_EQ(q.assignments[9].column, "u");
  EXPECT_EQ(q.assignments[9].field, "street");
  EXPECT_EQ(q.assignments[10].kind, K::Add);
  EXPECT_EQ(q.assignments[11].kind, K::Subtract);
  EXPECT_EQ(q.assignments[12].kind, K::Set);
  EXPECT_TRUE(q.assignments[12].value.is_null());
  ASSERT_EQ(q.where.size(), 2u);
  expect_marker(q.where[0].value, 3);
  EXPECT_EQ(s.bind_count(), 4u);
}

TEST(CqlParserTest, ParsesUpdateConditions) {
  Statement s = parse_ok("UPDATE t SET v = 2 WHERE k = 1 IF EXISTS");
  EXPECT_TRUE(body<Update>(s).if_exists);

  Statement s2 = parse_ok(
      "UPDATE t SET v = ? WHERE k = ? IF v = ? AND m['a'] "
      "= 'b' AND w IN (1, 2) AND x = null AND "
      "u.f > 3 AND exists = 1 AND y != ?");
  const Update& q = body<Update>(s2);
  EXPECT_FALSE(q.if_exists);
  ASSERT_EQ(q.conditions.size(), 7u);
  expect_marker(q.conditions[0].value, 2);
  EXPECT_EQ(q.conditions[1].column, "m");
  expect_literal(*q.conditions[1].element_key, LiteralKind::String, "a");
  EXPECT_EQ(q.conditions[2].op, Operator::In);
  EXPECT_EQ(q.conditions[2].in_values.size(), 2u);
  EXPECT_TRUE(q.conditions[3].value.is_null());
  EXPECT_EQ(q.conditions[4].field, "f");
  EXPECT_EQ(q.conditions[4].op, Operator::Gt);
  EXPECT_EQ(q.conditions[5].column, "exists");
  EXPECT_EQ(q.conditions[6].op, Operator::Ne);
  expect_marker(q.conditions[6].value, 3);
  EXPECT_EQ(s2.bind_count(), 4u);
}

TEST(CqlParserTest, ParsesDelete) {
  Statement s = parse_ok("DELETE FROM ks.t USING TIMESTAMP 10 WHERE pk = ? AND ck > 3 IF EXISTS");
  const Delete& q = body<Delete>(s);
  EXPECT_TRUE(q.targets.empty());
  EXPECT_EQ(q.table, (QualifiedName{"ks", "t"}));
  expect_literal(*q.using_clause.timestamp, LiteralKind::Integer, "10");
  EXPECT_EQ(q.where.size(), 2u);
  EXPECT_TRUE(q.if_exists);

  Statement s2 = parse_ok("DELETE a, m['k'], l[?], u.street FROM t WHERE pk = ? IF a = 1");
  const Delete& q2 = body<Delete>(s2);
  ASSERT_EQ(q2.targets.size(), 4u);
  EXPECT_EQ(q2.targets[0].column, "a");
  EXPECT_FALSE(q2.targets[0].key.has_value());
  expect_literal(*q2.targets[1].key, LiteralKind::String, "k");
  expect_marker(*q2.targets[2].key, 0);
  EXPECT_EQ(q2.targets[3].column, "u");
  EXPECT_EQ(q2.targets[3].field, "street");
  expect_marker(q2.where[0].value, 1);
  ASSERT_EQ(q2.conditions.size(), 1u);

  // A column that happens to be called "from".
  const Delete q3 = parse_as<Delete>("DELETE from FROM t WHERE k = 1");
  ASSERT_EQ(q3.targets.size(), 1u);
  EXPECT_EQ(q3.targets[0].column, "from");
}

TEST(CqlParserTest, ParsesBatchAndNumbersMarkersAcrossIt) {
  Statement s = parse_ok(
      "BEGIN BATCH USING TIMESTAMP ? "
      "INSERT INTO t (a, b) VALUES (?, ?); "
      "UPDATE t SET b = :nb WHERE a = ?;; "
      "DELETE FROM t WHERE a = ? "
      "APPLY BATCH;");
  const Batch& b = body<Batch>(s);
  EXPECT_EQ(b.type, Batch::Type::Logged);
  expect_marker(*b.using_clause.timestamp, 0);
  ASSERT_EQ(b.statements.size(), 3u);
  const Insert& ins = std::get<Insert>(b.statements[0]);
  expect_marker(ins.values[0], 1);
  expect_marker(ins.values[1], 2);
  const Update& upd = std::get<Update>(b.statements[1]);
  expect_marker(upd.assignments[0].value, 3, "nb");
  expect_marker(upd.where[0].value, 4);
  const Delete& del = std::get<Delete>(b.statements[2]);
  expect_marker(del.where[0].value, 5);
  ASSERT_EQ(s.bind_markers.size(), 6u);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(s.bind_markers[i].index, i);
  EXPECT_EQ(s.bind_markers[3].name, "nb");

  EXPECT_EQ(
      body<Batch>(parse_ok("begin unlogged batch insert into t (a) values (1) apply batch")).type,
      Batch::Type::Unlogged);
  EXPECT_EQ(body<Batch>(parse_ok("BEGIN COUNTER BATCH UPDATE t SET c = c + 1 WHERE k = 1; "
                                 "APPLY BATCH"))
                .type,
            Batch::Type::Counter);
  EXPECT_TRUE(body<Batch>(parse_ok("BEGIN BATCH APPLY BATCH")).statements.empty());
}

TEST(CqlParserTest, NamedMarkersKeepOrderAndRepeatedNames) {
  Statement s = parse_ok(
      "SELECT * FROM t WHERE a = :x AND b = :\"MixedName\" "
      "AND c = :x LIMIT :lim");
  ASSERT_EQ(s.bind_markers.size(), 4u);
  EXPECT_EQ(s.bind_markers[0].name, "x");
  EXPECT_EQ(s.bind_markers[1].name, "MixedName");
  EXPECT_EQ(s.bind_markers[2].name, "x");
  EXPECT_EQ(s.bind_markers[2].index, 2u);
  EXPECT_EQ(s.bind_markers[3].name, "lim");
  expect_marker(*body<Select>(s).limit, 3, "lim");
}

// ---------------------------------------------------------------------------------------------
// DDL

TEST(CqlParserTest, ParsesUseAndKeyspaceStatements) {
  EXPECT_EQ(body<UseStatement>(parse_ok("USE MyKs")).keyspace, "myks");
  EXPECT_EQ(body<UseStatement>(parse_ok("use \"MyKs\";")).keyspace, "MyKs");

  Statement s = parse_ok(
      "CREATE KEYSPACE IF NOT EXISTS ks WITH replication = "
      "{'class': 'SimpleStrategy', "
      "'replication_factor': 1} AND durable_writes = false");
  const CreateKeyspace& ck = body<CreateKeyspace>(s);
  EXPECT_EQ(ck.keyspace, "ks");
  EXPECT_TRUE(ck.if_not_exists);
  ASSERT_EQ(ck.properties.size(), 2u);
  EXPECT_EQ(ck.properties[0].name, "replication");
  ASSERT_TRUE(ck.properties[0].is_map);
  ASSERT_EQ(ck.properties[0].map.size(), 2u);
  EXPECT_EQ(ck.properties[0].map[0].key.text, "class");
  EXPECT_EQ(ck.properties[0].map[0].value.text, "SimpleStrategy");
  EXPECT_EQ(ck.properties[0].map[1].value.kind, LiteralKind::Integer);
  EXPECT_EQ(ck.properties[1].name, "durable_writes");
  EXPECT_EQ(ck.properties[1].value.kind, LiteralKind::Boolean);
  EXPECT_EQ(ck.properties[1].value.text, "false");

  const AlterKeyspace ak = parse_as<AlterKeyspace>(
      "ALTER KEYSPACE ks WITH replication = {'class': "
      "'NetworkTopologyStrategy', 'dc1': 3}");
  EXPECT_EQ(ak.keyspace, "ks");
  EXPECT_EQ(ak.properties[0].map.size(), 2u);

  const DropKeyspace dk = parse_as<DropKeyspace>("DROP KEYSPACE IF EXISTS ks");
  EXPECT_TRUE(dk.if_exists);
  EXPECT_FALSE(body<DropKeyspace>(parse_ok("DROP SCHEMA ks")).if_exists);
}

TEST(CqlParserTest, ParsesCreateTable) {
  Statement s = parse_ok(
      "CREATE TABLE IF NOT EXISTS ks.\"Events\" (\n"
      "  tenant text, day date, ts timeuuid, seq int,\n"
      "  s int STATIC, \"Payload\" frozen<map<text, list<int>>>, tags "
      "set<text>,\n"
      "  loc tuple<double, double>, emb vector<float, 3>, addr "
      "ks.address, home frozen<address>,\n"
      "  c counter, raw 'org.apache.cassandra.db.marshal.BytesType',\n"
      "  PRIMARY KEY ((tenant, day), ts, seq)\n"
      ") WITH CLUSTERING ORDER BY (ts DESC, seq ASC) AND "
      "default_time_to_live = 3600\n"
      "  AND comment = 'it''s' AND compaction = {'class': "
      "'LeveledCompactionStrategy'}\n"
      "  AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'} "
      "AND speculative_retry = "
      "'99p' AND bloom_filter_fp_chance = 0.01 AND cdc = true AND "
      "read_repair = BLOCKING;");
  const CreateTable& t = body<CreateTable>(s);
  EXPECT_TRUE(t.if_not_exists);
  EXPECT_EQ(t.table, (QualifiedName{"ks", "Events"}));
  ASSERT_EQ(t.columns.size(), 13u);
  EXPECT_EQ(t.columns[0].name, "tenant");
  EXPECT_EQ(t.columns[0].type_text, "text");
  ASSERT_TRUE(t.columns[0].type.has_value());
  EXPECT_EQ(t.columns[0].type->id, protocol::TypeId::Varchar);
  EXPECT_TRUE(t.columns[4].is_static);
  EXPECT_EQ(t.columns[5].name, "Payload");
  EXPECT_EQ(t.columns[5].type_text, "frozen<map<text, list<int>>>");
  ASSERT_TRUE(t.columns[5].type.has_value());
  EXPECT_EQ(t.columns[5].type->id, protocol::TypeId::Map);
  EXPECT_EQ(t.columns[7].type_text, "tuple<double, double>");
  EXPECT_EQ(t.columns[8].type_text, "vector<float, 3>");
  ASSERT_TRUE(t.columns[8].type.has_value());
  EXPECT_EQ(t.columns[8].type->id, protocol::TypeId::Custom);
  EXPECT_EQ(t.columns[9].type_text, "ks.address");
  EXPECT_FALSE(t.columns[9].type.has_value());  // a UDT: resolved by the executor
  EXPECT_EQ(t.columns[10].type_text, "frozen<address>");
  EXPECT_FALSE(t.columns[10].type.has_value());
  ASSERT_TRUE(t.columns[11].type.has_value());
  EXPECT_EQ(t.columns[11].type->id, protocol::TypeId::Counter);
  EXPECT_EQ(t.columns[12].type_text, "'org.apache.cassandra.db.marshal.BytesType'");
  EXPECT_EQ(t.partition_key, (std::vector<std::string>{"tenant", "day"}));
  EXPECT_EQ(t.clustering_key, (std::vector<std::string>{"ts", "seq"}));
  ASSERT_EQ(t.clustering_order.size(), 2u);
  EXPECT_EQ(t.clustering_order[0].column, "ts");
  EXPECT_TRUE(t.clustering_order[0].descending);
  EXPECT_FALSE(t.clustering_order[1].descending);
  EXPECT_FALSE(t.compact_storage);
  ASSERT_EQ(t.properties.size(), 8u);
  EXPECT_EQ(t.properties[0].name, "default_time_to_live");
  EXPECT_EQ(t.properties[0].value.text, "3600");
  EXPECT_EQ(t.properties[1].value.text, "it's");
  EXPECT_TRUE(t.properties[2].is_map);
  EXPECT_EQ(t.properties[7].name, "read_repair");
  EXPECT_EQ(t.properties[7].value.text, "BLOCKING");
}

TEST(CqlParserTest, ParsesCreateTableKeyForms) {
  const CreateTable a =
      parse_as<CreateTable>("create table t (k int primary key, v text) with compact storage");
  EXPECT_EQ(a.partition_key, std::vector<std::string>{"k"});
  EXPECT_TRUE(a.clustering_key.empty());
  EXPECT_TRUE(a.columns[0].primary_key);
  EXPECT_TRUE(a.compact_storage);
  EXPECT_EQ(a.table, (QualifiedName{"", "t"}));

  const CreateTable b =
      parse_as<CreateTable>("CREATE COLUMNFAMILY t (k int, c int, v int, PRIMARY KEY (k, c))");
  EXPECT_EQ(b.partition_key, std::vector<std::string>{"k"});
  EXPECT_EQ(b.clustering_key, std::vector<std::string>{"c"});

  // Columns named like keywords.
  const CreateTable c = parse_as<CreateTable>(
      "CREATE TABLE t (key text, value blob, ttl int, "
      "count int, PRIMARY KEY (key))");
  EXPECT_EQ(c.columns[1].name, "value");
  EXPECT_EQ(c.columns[3].name, "count");

  std::string err = parse_error("CREATE TABLE t (k int PRIMARY KEY, v int, PRIMARY KEY (v))");
  EXPECT_NE(err.find("multiple PRIMARY KEYs"), std::string::npos) << err;
}

TEST(CqlParserTest, ParsesAlterDropTruncateTable) {
  const AlterTable add = parse_as<AlterTable>("ALTER TABLE ks.t ADD a int, b list<text>");
  EXPECT_EQ(add.kind, AlterTable::Kind::Add);
  ASSERT_EQ(add.added.size(), 2u);
  EXPECT_EQ(add.added[1].type_text, "list<text>");
  const AlterTable add2 = parse_as<AlterTable>("ALTER TABLE t ADD (a int, s int static)");
  ASSERT_EQ(add2.added.size(), 2u);
  EXPECT_TRUE(add2.added[1].is_static);
  const AlterTable drop = parse_as<AlterTable>("ALTER TABLE t DROP a");
  EXPECT_EQ(drop.kind, AlterTable::Kind::Drop);
  EXPECT_EQ(drop.dropped, std::vector<std::string>{"a"});
  const AlterTable drop2 = parse_as<AlterTable>("ALTER TABLE t DROP (a, \"B\")");
  EXPECT_EQ(drop2.dropped, (std::vector<std::string>{"a", "B"}));
  const AlterTable with =
      parse_as<AlterTable>("ALTER TABLE t WITH default_time_to_live = 10 AND gc_grace_seconds = 0");
  EXPECT_EQ(with.kind, AlterTable::Kind::Properties);
  EXPECT_EQ(with.properties.size(), 2u);
  const AlterTable ren = parse_as<AlterTable>("ALTER TABLE t RENAME a TO b AND c TO d");
  EXPECT_EQ(ren.kind, AlterTable::Kind::Rename);
  ASSERT_EQ(ren.renames.size(), 2u);
  EXPECT_EQ(ren.renames[1], (std::pair<std::string, std::string>{"c", "d"}));
  const AlterTable alt = parse_as<AlterTable>("ALTER TABLE t ALTER v TYPE blob");
  EXPECT_EQ(alt.kind, AlterTable::Kind::AlterType);

  const DropTable dt = parse_as<DropTable>("DROP TABLE IF EXISTS ks.t");
  EXPECT_TRUE(dt.if_exists);
  EXPECT_EQ(dt.table, (QualifiedName{"ks", "t"}));
  EXPECT_EQ(body<Truncate>(parse_ok("TRUNCATE TABLE ks.t")).table, (QualifiedName{"ks", "t"}));
  EXPECT_EQ(body<Truncate>(parse_ok("truncate t")).table, (QualifiedName{"", "t"}));
}

TEST(CqlParserTest, ParsesTypeStatements) {
  const CreateType ct = parse_as<CreateType>(
      "CREATE TYPE IF NOT EXISTS ks.address (street text, "
      "zip int, tags set<text>)");
  EXPECT_TRUE(ct.if_not_exists);
  EXPECT_EQ(ct.type, (QualifiedName{"ks", "address"}));
  ASSERT_EQ(ct.fields.size(), 3u);
  EXPECT_EQ(ct.fields[2].type_text, "set<text>");
  ASSERT_TRUE(ct.fields[1].type.has_value());

  const AlterType add = parse_as<AlterType>("ALTER TYPE address ADD country text");
  EXPECT_EQ(add.kind, AlterType::Kind::Add);
  EXPECT_EQ(add.added[0].name, "country");
  const AlterType ren = parse_as<AlterType>("ALTER TYPE address RENAME zip TO postcode");
  EXPECT_EQ(ren.kind, AlterType::Kind::Rename);
  EXPECT_EQ(ren.renames[0].second, "postcode");
  EXPECT_TRUE(body<DropType>(parse_ok("DROP TYPE IF EXISTS ks.address")).if_exists);
}

TEST(CqlParserTest, RecognisesUnsupportedStatements) {
  struct Case {
    const char* text;
    const char* kind;
  };
  for (const Case& c : {
           Case{"CREATE INDEX ON t (v)", "CREATE INDEX"},
           Case{"CREATE CUSTOM INDEX i ON t (v) USING 'StorageAttachedIndex'", "CREATE INDEX"},
           Case{"CREATE MATERIALIZED VIEW mv AS SELECT * FROM t WHERE k IS NOT "
                "NULL PRIMARY "
                "KEY (k)",
                "CREATE MATERIALIZED VIEW"},
           Case{"CREATE OR REPLACE FUNCTION f (a int) RETURNS NULL ON NULL "
                "INPUT RETURNS int "
                "LANGUAGE java AS $$ return a; $$",
                "CREATE FUNCTION"},
           Case{"CREATE AGGREGATE a (int) SFUNC f STYPE int", "CREATE AGGREGATE"},
           Case{"CREATE ROLE r WITH PASSWORD = 'p' AND LOGIN = true", "CREATE ROLE"},
           Case{"GRANT SELECT ON ALL KEYSPACES TO r", "GRANT"},
           Case{"REVOKE SELECT ON ks.t FROM r", "REVOKE"},
           Case{"LIST ROLES", "LIST"},
           Case{"DROP INDEX ks.i", "DROP INDEX"},
           Case{"DROP MATERIALIZED VIEW mv", "DROP MATERIALIZED VIEW"},
           Case{"ALTER ROLE r WITH PASSWORD = 'x'", "ALTER ROLE"},
           Case{"DESCRIBE KEYSPACES", "DESCRIBE"},
       }) {
    Statement s = parse_ok(c.text);
    EXPECT_EQ(body<Unsupported>(s).kind, c.kind) << c.text;
    EXPECT_EQ(statement_kind_name(s), c.kind);
  }
}

// ---------------------------------------------------------------------------------------------
// Lexical rules

TEST(CqlParserTest, FoldsUnquotedNamesAndKeepsQuotedNames) {
  Statement s = parse_ok("SELECT MyCol, \"MyCol\", \"with \"\"quote\"\"\" FROM \"Ks\".MyTable");
  const Select& q = body<Select>(s);
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[0]).name, "mycol");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[1]).name, "MyCol");
  EXPECT_EQ(sel<ColumnSelector>(q.selectors[2]).name, "with \"quote\"");
  EXPECT_EQ(q.table, (QualifiedName{"Ks", "mytable"}));
}

TEST(CqlParserTest, SkipsCommentsAndAcceptsMixedCaseKeywords) {
  Statement s = parse_ok(
      "-- leading comment\n"
      "SeLeCt /* block */ a // trailing\n"
      "FrOm t WhErE a = 1 -- end\n"
      ";");
  const Select& q = body<Select>(s);
  EXPECT_EQ(q.table.name, "t");
  EXPECT_EQ(q.where.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(CqlParserTest, ReportsSyntaxErrorsWithPositionAndToken) {
  EXPECT_EQ(parse_error("SELECT * FORM t"), "line 1:9 mismatched input 'FORM' expecting FROM");
  EXPECT_EQ(parse_error("SELEC * FROM t"), "line 1:0 no viable alternative at input 'SELEC'");
  EXPECT_EQ(parse_error("SELECT * FROM t\nWHERE a = = 1"),
            "line 2:10 no viable alternative at input '='");
  EXPECT_EQ(parse_error("SELECT * FROM t WHERE"),
            "line 1:21 no viable alternative at input '<EOF>'");
  EXPECT_EQ(parse_error("SELECT * FROM t LIMIT 1 garbage"),
            "line 1:24 mismatched input 'garbage' expecting EOF");
  EXPECT_EQ(parse_error(""), "line 1:0 no viable alternative at input '<EOF>'");
  EXPECT_EQ(parse_error(";"), "line 1:0 no viable alternative at input ';'");
  std::string unterminated = parse_error("SELECT * FROM t WHERE a = 'abc");
  EXPECT_EQ(unterminated.rfind("line 1:26 ", 0), 0u) << unterminated;
  std::string mismatch = parse_error("INSERT INTO t (a, b) VALUES (1)");
  EXPECT_NE(mismatch.find("unmatched column names/values"), std::string::npos) << mismatch;
  EXPECT_FALSE(parse_cql("UPDATE t SET a = b + 1 WHERE k = 1"));
  EXPECT_FALSE(parse_cql("INSERT INTO t (a) VALUES (b)"));
  EXPECT_FALSE(parse_cql("SELECT * FROM t WHERE a IN (1, 2"));
  EXPECT_FALSE(parse_cql("BEGIN BATCH SELECT * FROM t APPLY BATCH"));
  EXPECT_FALSE(parse_cql("CREATE TABLE t (a map<int, text)"));
  EXPECT_FALSE(parse_cql("SELECT * FROM t; SELECT * FROM t"));
  EXPECT_FALSE(parse_cql("CREATE TABLE t (k int PRIMARY KEY) WITH CLUSTERING ORDER BY (k UP)"));
}

TEST(CqlParserTest, RejectsExcessiveNestingWithoutCrashing) {
  std::string deep = "INSERT INTO t (a) VALUES (";
  for (int i = 0; i < 10000; ++i) deep += "[";
  std::string err = parse_error(deep);
  EXPECT_NE(err.find("nesting deeper"), std::string::npos) << err;

  std::string deep_sel = "SELECT ";
  for (int i = 0; i < 10000; ++i) deep_sel += "f(";
  err = parse_error(deep_sel);
  EXPECT_NE(err.find("nesting deeper"), std::string::npos) << err;
}

TEST(CqlParserTest, NeverCrashesOnTruncatedStatements) {
  // Every prefix of a large statement either parses or fails cleanly.
  const std::string full =
      "BEGIN BATCH USING TIMESTAMP 1 INSERT INTO ks.t (a, "
      "b, c) VALUES (?, {'k': [1, 2]}, "
      "(int) :x) IF NOT EXISTS USING TTL 5; UPDATE t SET "
      "m['a'] = {f: 1}, l = [0] + l WHERE "
      "(a, b) IN ((1, 2)) AND token(a) > 3 IF c = null; "
      "DELETE m[1] FROM t WHERE a = 1 APPLY "
      "BATCH";
  ASSERT_TRUE(parse_cql(full).has_value()) << parse_cql(full).error().message;
  size_t ok = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    if (parse_cql(std::string_view(full).substr(0, n))) ++ok;
  }
  EXPECT_LT(ok, full.size());
}

}  // namespace
}  // namespace zdm::node::test
