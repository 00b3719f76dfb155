// `zdm node --cassandra-version 2.2`: the system tables, schema rows, refusals and protocol
// versions of Cassandra 2.2.18, checked against the rows recorded from a real 2.2.18 node
// (/work/shared/ref/cassandra-2.2-observed.md, quoted below).

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cql_test_client.hpp"
#include "node/cql/query_processor.hpp"
#include "node/cql/system_tables.hpp"
#include "node/server/node_server.hpp"
#include "node/storage/storage_engine.hpp"
#include "node_test_util.hpp"

namespace zdm::node::test {
namespace {

using protocol::ErrorCode;
using protocol::ErrorMessage;
using protocol::ProtocolVersion;
using protocol::ResultMessage;
using protocol::RowsResult;

const std::string M = "org.apache.cassandra.db.marshal.";

// The schema of the reference file.
const char* const kShopSchema[] = {
    "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE TYPE shop.addr (street text, zip int)",
    "CREATE TABLE shop.orders (cust text, day date, id timeuuid, total decimal, note text static, "
    "items list<text>, tags set<text>, attrs map<text,int>, ship frozen<addr>, pair "
    "tuple<int,text>, fl frozen<list<int>>, PRIMARY KEY ((cust, day), id)) WITH CLUSTERING ORDER "
    "BY (id DESC)",
    "CREATE TABLE shop.hits (page text PRIMARY KEY, n counter)",
};

using Row = std::map<std::string, std::optional<Bytes>>;

std::optional<std::string> text_of(const std::optional<Bytes>& b) {
  if (!b) return std::nullopt;
  return str(*b);
}
std::optional<int32_t> int_of(const std::optional<Bytes>& b) {
  if (!b) return std::nullopt;
  return as_i32(*b);
}
std::vector<std::string> text_list_of(const std::optional<Bytes>& b) {
  std::vector<std::string> out;
  if (!b) return out;
  ByteReader r(*b);
  auto n = r.read_i32();
  for (int32_t i = 0; n && i < *n; ++i) {
    auto e = r.read_bytes();
    if (e && *e) out.emplace_back(str(Bytes((*e)->begin(), (*e)->end())));
  }
  return out;
}

struct Cassandra22Test : ::testing::Test {
  ManualClock time;
  StorageEngine engine{time.clock()};
  QueryProcessor qp{engine, identity(), QueryProcessorOptions{}};
  SessionState session{ProtocolVersion::V4, "", ""};

  static NodeIdentity identity(CassandraVersion v = CassandraVersion::V2_2) {
    NodeIdentity id;
    set_cassandra_version(id, v);
    return id;
  }

  void SetUp() override { ASSERT_TRUE(qp.install_system_tables()); }

  protocol::ResponseBody query(const std::string& q) {
    protocol::QueryMessage m;
    m.query = q;
    return qp.process(m, session);
  }
  ResultMessage ok(const std::string& q) {
    auto r = query(q);
    if (auto* e = std::get_if<ErrorMessage>(&r)) {
      ADD_FAILURE() << q << " -> " << e->message;
      return {};
    }
    return std::get<ResultMessage>(r);
  }
  RowsResult rows(const std::string& q) {
    auto r = ok(q);
    if (auto* rr = std::get_if<RowsResult>(&r.result)) return *rr;
    ADD_FAILURE() << q << " did not return rows";
    return {};
  }
  std::vector<Row> named_rows(const std::string& q) {
    auto r = rows(q);
    std::vector<Row> out;
    for (const auto& row : r.rows) {
      Row named;
      for (size_t i = 0; i < r.metadata.columns.size(); ++i) {
        named[r.metadata.columns[i].name] = row[i];
      }
      out.push_back(std::move(named));
    }
    return out;
  }
  std::vector<std::string> column_names(const std::string& q) {
    std::vector<std::string> out;
    for (const auto& c : rows(q).metadata.columns) out.push_back(c.name);
    return out;
  }
  ErrorMessage error(const std::string& q) {
    auto r = query(q);
    if (auto* e = std::get_if<ErrorMessage>(&r)) return *e;
    ADD_FAILURE() << q << " unexpectedly succeeded";
    return {};
  }
  void make_shop() {
    for (const char* s : kShopSchema) ok(s);
  }
};

TEST_F(Cassandra22Test, SystemLocalHasExactly22ColumnsAndVersions) {
  EXPECT_EQ(column_names("SELECT * FROM system.local"),
            (std::vector<std::string>{"key", "bootstrapped", "broadcast_address", "cluster_name",
                                      "cql_version", "data_center", "gossip_generation", "host_id",
                                      "listen_address", "native_protocol_version", "partitioner",
                                      "rack", "release_version", "rpc_address", "schema_version",
                                      "thrift_version", "tokens", "truncated_at"}));
  auto local = named_rows("SELECT * FROM system.local WHERE key = 'local'");
  ASSERT_EQ(local.size(), 1u);
  EXPECT_EQ(text_of(local[0]["release_version"]), "2.2.18");
  EXPECT_EQ(text_of(local[0]["cql_version"]), "3.3.1");
  EXPECT_EQ(text_of(local[0]["native_protocol_version"]), "4");
  EXPECT_EQ(text_of(local[0]["partitioner"]), "org.apache.cassandra.dht.Murmur3Partitioner");
  EXPECT_EQ(text_of(local[0]["bootstrapped"]), "COMPLETED");
  EXPECT_EQ(text_list_of(local[0]["tokens"]).size(), 1u);
  ASSERT_TRUE(local[0]["schema_version"].has_value());
  EXPECT_EQ(
      column_names("SELECT * FROM system.peers"),
      (std::vector<std::string>{"peer", "data_center", "host_id", "preferred_ip", "rack",
                                "release_version", "rpc_address", "schema_version", "tokens"}));
  EXPECT_EQ(column_names("SELECT * FROM system.size_estimates"),
            (std::vector<std::string>{"keyspace_name", "table_name", "range_start", "range_end",
                                      "mean_partition_size", "partitions_count"}));
}

TEST_F(Cassandra22Test, PeersV2AndSystemSchemaDoNotExist) {
  auto peers_v2 = error("SELECT * FROM system.peers_v2");
  EXPECT_EQ(peers_v2.code, ErrorCode::Invalid);
  EXPECT_EQ(peers_v2.message, "unconfigured table peers_v2");
  auto tables = error("SELECT * FROM system_schema.tables");
  EXPECT_EQ(tables.code, ErrorCode::Invalid);
  EXPECT_EQ(tables.message, "Keyspace system_schema does not exist");
  std::vector<std::string> keyspaces;
  for (auto& r : named_rows("SELECT keyspace_name FROM system.schema_keyspaces")) {
    keyspaces.push_back(*text_of(r["keyspace_name"]));
  }
  std::sort(keyspaces.begin(), keyspaces.end());
  EXPECT_EQ(keyspaces, (std::vector<std::string>{"system", "system_auth", "system_distributed",
                                                 "system_traces"}));
  for (const auto& ks : engine.catalog().keyspaces()) EXPECT_NE(ks.name, "system_schema");
}

TEST_F(Cassandra22Test, SchemaTablesHave22Columns) {
  EXPECT_EQ(column_names("SELECT * FROM system.schema_keyspaces"),
            (std::vector<std::string>{"keyspace_name", "durable_writes", "strategy_class",
                                      "strategy_options"}));
  EXPECT_EQ(column_names("SELECT * FROM system.schema_columnfamilies"),
            (std::vector<std::string>{"keyspace_name",
                                      "columnfamily_name",
                                      "bloom_filter_fp_chance",
                                      "caching",
                                      "cf_id",
                                      "comment",
                                      "compaction_strategy_class",
                                      "compaction_strategy_options",
                                      "comparator",
                                      "compression_parameters",
                                      "default_time_to_live",
                                      "default_validator",
                                      "dropped_columns",
                                      "gc_grace_seconds",
                                      "is_dense",
                                      "key_validator",
                                      "local_read_repair_chance",
                                      "max_compaction_threshold",
                                      "max_index_interval",
                                      "memtable_flush_period_in_ms",
                                      "min_compaction_threshold",
                                      "min_index_interval",
                                      "read_repair_chance",
                                      "speculative_retry",
                                      "subcomparator",
                                      "type"}));
  EXPECT_EQ(column_names("SELECT * FROM system.schema_columns"),
            (std::vector<std::string>{"keyspace_name", "columnfamily_name", "column_name",
                                      "component_index", "index_name", "index_options",
                                      "index_type", "type", "validator"}));
  EXPECT_EQ(column_names("SELECT * FROM system.schema_usertypes"),
            (std::vector<std::string>{"keyspace_name", "type_name", "field_names", "field_types"}));
  EXPECT_TRUE(rows("SELECT * FROM system.schema_triggers").rows.empty());
  EXPECT_TRUE(rows("SELECT * FROM system.schema_functions").rows.empty());
  EXPECT_TRUE(rows("SELECT * FROM system.schema_aggregates").rows.empty());
}

TEST_F(Cassandra22Test, SchemaKeyspacesRowMatchesReference) {
  make_shop();
  auto r = named_rows("SELECT * FROM system.schema_keyspaces WHERE keyspace_name = 'shop'");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["durable_writes"], Bytes{1});
  EXPECT_EQ(text_of(r[0]["strategy_class"]), "org.apache.cassandra.locator.SimpleStrategy");
  EXPECT_EQ(text_of(r[0]["strategy_options"]), R"({"replication_factor":"1"})");
  auto system = named_rows("SELECT * FROM system.schema_keyspaces WHERE keyspace_name = 'system'");
  ASSERT_EQ(system.size(), 1u);
  EXPECT_EQ(text_of(system[0]["strategy_class"]), "org.apache.cassandra.locator.LocalStrategy");
  EXPECT_EQ(text_of(system[0]["strategy_options"]), "{}");
}

TEST_F(Cassandra22Test, SchemaColumnsRowsMatchReference) {
  make_shop();
  struct Expected {
    const char* table;
    const char* column;
    std::optional<int32_t> component_index;
    const char* type;
    std::string validator;
  };
  // Rows in the reference's order (clustering order: table, then column name).
  const std::vector<Expected> expected = {
      {"hits", "n", 0, "regular", M + "CounterColumnType"},
      {"hits", "page", std::nullopt, "partition_key", M + "UTF8Type"},
      {"orders", "attrs", 1, "regular", M + "MapType(" + M + "UTF8Type," + M + "Int32Type)"},
      {"orders", "cust", 0, "partition_key", M + "UTF8Type"},
      {"orders", "day", 1, "partition_key", M + "SimpleDateType"},
      {"orders", "fl", 1, "regular", M + "FrozenType(" + M + "ListType(" + M + "Int32Type))"},
      {"orders", "id", 0, "clustering_key", M + "ReversedType(" + M + "TimeUUIDType)"},
      {"orders", "items", 1, "regular", M + "ListType(" + M + "UTF8Type)"},
      {"orders", "note", 1, "static", M + "UTF8Type"},
      {"orders", "pair", 1, "regular", M + "TupleType(" + M + "Int32Type," + M + "UTF8Type)"},
      {"orders", "ship", 1, "regular",
       M + "UserType(shop,61646472,737472656574:" + M + "UTF8Type,7a6970:" + M + "Int32Type)"},
      {"orders", "tags", 1, "regular", M + "SetType(" + M + "UTF8Type)"},
      {"orders", "total", 1, "regular", M + "DecimalType"},
  };
  auto r = named_rows("SELECT * FROM system.schema_columns WHERE keyspace_name = 'shop'");
  ASSERT_EQ(r.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].column);
    EXPECT_EQ(text_of(r[i]["keyspace_name"]), "shop");
    EXPECT_EQ(text_of(r[i]["columnfamily_name"]), expected[i].table);
    EXPECT_EQ(text_of(r[i]["column_name"]), expected[i].column);
    EXPECT_EQ(int_of(r[i]["component_index"]), expected[i].component_index);
    EXPECT_EQ(text_of(r[i]["index_name"]), std::nullopt);
    EXPECT_EQ(text_of(r[i]["index_options"]), "null");
    EXPECT_EQ(text_of(r[i]["index_type"]), std::nullopt);
    EXPECT_EQ(text_of(r[i]["type"]), expected[i].type);
    EXPECT_EQ(text_of(r[i]["validator"]), expected[i].validator);
  }
}

TEST_F(Cassandra22Test, SchemaColumnfamiliesRowsMatchReference) {
  make_shop();
  auto r = named_rows("SELECT * FROM system.schema_columnfamilies WHERE keyspace_name = 'shop'");
  ASSERT_EQ(r.size(), 2u);
  std::map<std::string, Row> by_name;
  for (auto& row : r) by_name[*text_of(row["columnfamily_name"])] = row;
  for (const char* name : {"hits", "orders"}) {
    SCOPED_TRACE(name);
    Row& t = by_name[name];
    EXPECT_EQ(text_of(t["caching"]), R"({"keys":"ALL", "rows_per_partition":"NONE"})");
    EXPECT_EQ(text_of(t["comment"]), "");
    EXPECT_EQ(text_of(t["compaction_strategy_class"]),
              "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy");
    EXPECT_EQ(text_of(t["compaction_strategy_options"]), "{}");
    EXPECT_EQ(text_of(t["compression_parameters"]),
              R"({"sstable_compression":"org.apache.cassandra.io.compress.LZ4Compressor"})");
    EXPECT_EQ(int_of(t["default_time_to_live"]), 0);
    EXPECT_EQ(t["dropped_columns"], std::nullopt);
    EXPECT_EQ(int_of(t["gc_grace_seconds"]), 864000);
    EXPECT_EQ(t["is_dense"], Bytes{0});
    EXPECT_EQ(int_of(t["max_compaction_threshold"]), 32);
    EXPECT_EQ(int_of(t["max_index_interval"]), 2048);
    EXPECT_EQ(int_of(t["memtable_flush_period_in_ms"]), 0);
    EXPECT_EQ(int_of(t["min_compaction_threshold"]), 4);
    EXPECT_EQ(int_of(t["min_index_interval"]), 128);
    EXPECT_EQ(text_of(t["speculative_retry"]), "99.0PERCENTILE");
    EXPECT_EQ(t["subcomparator"], std::nullopt);
    EXPECT_EQ(text_of(t["type"]), "Standard");
    ASSERT_TRUE(t["cf_id"].has_value());
    EXPECT_EQ(t["cf_id"]->size(), 16u);
    Bytes d01, d0, d1;
    ByteWriter(d01).write_double(0.01);
    ByteWriter(d0).write_double(0.0);
    ByteWriter(d1).write_double(0.1);
    EXPECT_EQ(t["bloom_filter_fp_chance"], d01);
    EXPECT_EQ(t["read_repair_chance"], d0);
    EXPECT_EQ(t["local_read_repair_chance"], d1);
  }
  EXPECT_EQ(text_of(by_name["hits"]["comparator"]), M + "CompositeType(" + M + "UTF8Type)");
  EXPECT_EQ(text_of(by_name["hits"]["default_validator"]), M + "CounterColumnType");
  EXPECT_EQ(text_of(by_name["hits"]["key_validator"]), M + "UTF8Type");
  EXPECT_EQ(text_of(by_name["orders"]["comparator"]),
            M + "CompositeType(" + M + "ReversedType(" + M + "TimeUUIDType)," + M + "UTF8Type," +
                M + "ColumnToCollectionType(6974656d73:" + M + "ListType(" + M +
                "UTF8Type),74616773:" + M + "SetType(" + M + "UTF8Type),6174747273:" + M +
                "MapType(" + M + "UTF8Type," + M + "Int32Type)))");
  EXPECT_EQ(text_of(by_name["orders"]["default_validator"]), M + "BytesType");
  EXPECT_EQ(text_of(by_name["orders"]["key_validator"]),
            M + "CompositeType(" + M + "UTF8Type," + M + "SimpleDateType)");
}

TEST_F(Cassandra22Test, SchemaUsertypesRowMatchesReference) {
  make_shop();
  auto r = named_rows("SELECT * FROM system.schema_usertypes WHERE keyspace_name = 'shop'");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(text_of(r[0]["type_name"]), "addr");
  EXPECT_EQ(text_list_of(r[0]["field_names"]), (std::vector<std::string>{"street", "zip"}));
  EXPECT_EQ(text_list_of(r[0]["field_types"]),
            (std::vector<std::string>{M + "UTF8Type", M + "Int32Type"}));
}

TEST_F(Cassandra22Test, SchemaRowsFollowAlterAndDrop) {
  make_shop();
  ok("ALTER TABLE shop.orders ADD extra list<int>");
  auto r = named_rows(
      "SELECT validator, component_index FROM system.schema_columns WHERE keyspace_name = 'shop' "
      "AND columnfamily_name = 'orders' AND column_name = 'extra'");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(text_of(r[0]["validator"]), M + "ListType(" + M + "Int32Type)");
  EXPECT_EQ(int_of(r[0]["component_index"]), 1);
  auto cf = named_rows(
      "SELECT comparator FROM system.schema_columnfamilies WHERE keyspace_name = 'shop' AND "
      "columnfamily_name = 'orders'");
  ASSERT_EQ(cf.size(), 1u);
  EXPECT_NE(text_of(cf[0]["comparator"])->find("6578747261:"), std::string::npos);
  ok("DROP TABLE shop.hits");
  EXPECT_TRUE(rows("SELECT * FROM system.schema_columns WHERE keyspace_name = 'shop' AND "
                   "columnfamily_name = 'hits'")
                  .rows.empty());
  ok("DROP KEYSPACE shop");
  EXPECT_TRUE(
      rows("SELECT * FROM system.schema_keyspaces WHERE keyspace_name = 'shop'").rows.empty());
  EXPECT_TRUE(
      rows("SELECT * FROM system.schema_usertypes WHERE keyspace_name = 'shop'").rows.empty());
}

TEST_F(Cassandra22Test, WritetimeAndTtlRefusedOnEveryCollection) {
  make_shop();
  for (const char* column : {"items", "tags", "attrs", "fl"}) {
    SCOPED_TRACE(column);
    auto wt = error(std::string("SELECT writetime(") + column + ") FROM shop.orders");
    EXPECT_EQ(wt.code, ErrorCode::Invalid);
    EXPECT_EQ(wt.message, "Cannot use selection function writeTime on collections");
    auto ttl = error(std::string("SELECT ttl(") + column + ") FROM shop.orders");
    EXPECT_EQ(ttl.code, ErrorCode::Invalid);
    EXPECT_EQ(ttl.message, "Cannot use selection function ttl on collections");
  }
  ok("INSERT INTO shop.orders (cust, day, id, note, pair, ship, total) VALUES ('c', "
     "'2024-01-02', now(), 'n', (1, 'a'), {street: 's', zip: 1}, 1.5)");
  ok("UPDATE shop.hits SET n = n + 1 WHERE page = 'p'");
  for (const char* column : {"pair", "ship", "note", "total"}) {
    SCOPED_TRACE(column);
    auto r =
        rows(std::string("SELECT writetime(") + column + "), ttl(" + column + ") FROM shop.orders");
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_TRUE(r.rows[0][0].has_value());
  }
  auto counter = rows("SELECT writetime(n), ttl(n) FROM shop.hits");
  ASSERT_EQ(counter.rows.size(), 1u);
  EXPECT_FALSE(counter.rows[0][1].has_value());
}

TEST(Cassandra40Test, WritetimeOnFrozenCollectionStillAccepted) {
  ManualClock time;
  StorageEngine engine{time.clock()};
  QueryProcessor qp{engine, NodeIdentity{}, QueryProcessorOptions{}};
  SessionState session{ProtocolVersion::V4, "", ""};
  ASSERT_TRUE(qp.install_system_tables());
  auto run = [&](const std::string& q) {
    protocol::QueryMessage m;
    m.query = q;
    return qp.process(m, session);
  };
  for (const char* s : kShopSchema) {
    ASSERT_FALSE(std::holds_alternative<ErrorMessage>(run(s))) << s;
  }
  EXPECT_FALSE(std::holds_alternative<ErrorMessage>(run("SELECT writetime(fl) FROM shop.orders")));
  auto r = run("SELECT writetime(items) FROM shop.orders");
  ASSERT_TRUE(std::holds_alternative<ErrorMessage>(r));
  EXPECT_EQ(std::get<ErrorMessage>(r).message,
            "Cannot use selection function writeTime on non-frozen collection items");
  // And 4.0 keeps system_schema and peers_v2, without the 2.2 tables.
  EXPECT_FALSE(std::holds_alternative<ErrorMessage>(run("SELECT * FROM system_schema.tables")));
  EXPECT_FALSE(std::holds_alternative<ErrorMessage>(run("SELECT * FROM system.peers_v2")));
  EXPECT_TRUE(std::holds_alternative<ErrorMessage>(run("SELECT * FROM system.schema_columns")));
}

TEST(LegacyTypeNames, EveryTypeAsCassandra22WritesIt) {
  using protocol::DataType;
  auto s = [](TypeId id) { return DataType::simple(id); };
  const std::vector<std::pair<TypeId, std::string>> simple = {
      {TypeId::Ascii, "AsciiType"},
      {TypeId::Bigint, "LongType"},
      {TypeId::Blob, "BytesType"},
      {TypeId::Boolean, "BooleanType"},
      {TypeId::Counter, "CounterColumnType"},
      {TypeId::Decimal, "DecimalType"},
      {TypeId::Double, "DoubleType"},
      {TypeId::Float, "FloatType"},
      {TypeId::Int, "Int32Type"},
      {TypeId::Timestamp, "TimestampType"},
      {TypeId::Uuid, "UUIDType"},
      {TypeId::Varchar, "UTF8Type"},
      {TypeId::Varint, "IntegerType"},
      {TypeId::Timeuuid, "TimeUUIDType"},
      {TypeId::Inet, "InetAddressType"},
      {TypeId::Date, "SimpleDateType"},
      {TypeId::Time, "TimeType"},
      {TypeId::Smallint, "ShortType"},
      {TypeId::Tinyint, "ByteType"},
  };
  for (const auto& [id, name] : simple) EXPECT_EQ(legacy_type_name(s(id), true), M + name);
  const auto list_int = DataType::list_of(s(TypeId::Int));
  EXPECT_EQ(legacy_type_name(list_int, false), M + "ListType(" + M + "Int32Type)");
  EXPECT_EQ(legacy_type_name(list_int, true),
            M + "FrozenType(" + M + "ListType(" + M + "Int32Type))");
  // A frozen collection inside a non-frozen one is marked; inside a frozen one it is implicit.
  const auto nested = DataType::map_of(s(TypeId::Varchar), list_int);
  EXPECT_EQ(legacy_type_name(nested, false), M + "MapType(" + M + "UTF8Type," + M + "FrozenType(" +
                                                 M + "ListType(" + M + "Int32Type)))");
  EXPECT_EQ(legacy_type_name(nested, true), M + "FrozenType(" + M + "MapType(" + M + "UTF8Type," +
                                                M + "ListType(" + M + "Int32Type)))");
  EXPECT_EQ(legacy_type_name(DataType::tuple_of({s(TypeId::Int), list_int}), true),
            M + "TupleType(" + M + "Int32Type," + M + "ListType(" + M + "Int32Type))");
  EXPECT_EQ(legacy_type_name(s(TypeId::Int), true, /*reversed=*/true),
            M + "ReversedType(" + M + "Int32Type)");
}

TEST(ParseCassandraVersion, AcceptsReleasesAndRejectsOthers) {
  EXPECT_EQ(parse_cassandra_version("2.2"), CassandraVersion::V2_2);
  EXPECT_EQ(parse_cassandra_version("2.2.18"), CassandraVersion::V2_2);
  EXPECT_EQ(parse_cassandra_version("4.0"), CassandraVersion::V4_0);
  EXPECT_EQ(parse_cassandra_version("4.0.11"), CassandraVersion::V4_0);
  for (const char* bad : {"3.11", "2.1", "2.22", "2.2.", "2.2.x", "4", "", "4.0.1a"}) {
    auto r = parse_cassandra_version(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("choose 2.2"), std::string::npos);
  }
}

TEST(Cassandra22Server, ServesV3AndV4AndRefusesV5As22Does) {
  NodeServerOptions options;
  options.listen = net::HostPort{"127.0.0.1", 0};
  options.threads = 1;
  set_cassandra_version(options.identity, CassandraVersion::V2_2);
  NodeServer server(std::move(options));
  ASSERT_TRUE(server.start());
  {
    zdm::testing::CqlTestClient c(server.port());
    protocol::StartupMessage startup;
    startup.options.emplace_back("CQL_VERSION", "3.0.0");
    auto r = c.request(ProtocolVersion::V5, 1, startup);
    ASSERT_TRUE(r.has_value()) << c.error();
    EXPECT_EQ(r->version, ProtocolVersion::V4);  // the highest 2.2 serves
    const auto* e = zdm::testing::error_of(*r);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, ErrorCode::ProtocolError);
    EXPECT_EQ(e->message,
              "Invalid or unsupported protocol version (5); the lowest supported version is 3 "
              "and the greatest is 4");
  }
  for (auto v : {ProtocolVersion::V3, ProtocolVersion::V4}) {
    zdm::testing::CqlTestClient c(server.port());
    auto options_reply = c.request(v, 2, protocol::OptionsMessage{});
    ASSERT_TRUE(options_reply.has_value()) << c.error();
    const auto& supported =
        std::get<protocol::SupportedMessage>(zdm::testing::response_of(*options_reply));
    std::map<std::string, std::vector<std::string>> opts(supported.options.begin(),
                                                         supported.options.end());
    EXPECT_EQ(opts["CQL_VERSION"], (std::vector<std::string>{"3.3.1"}));
    EXPECT_EQ(opts.count("PROTOCOL_VERSIONS"), 0u);
    protocol::StartupMessage startup;
    startup.options.emplace_back("CQL_VERSION", "3.0.0");
    auto r = c.request(v, 1, startup);
    ASSERT_TRUE(r.has_value()) << c.error();
    EXPECT_EQ(r->opcode(), protocol::Opcode::Ready);
  }
  server.stop();
}

}  // namespace
}  // namespace zdm::node::test
