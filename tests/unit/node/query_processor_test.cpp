// The CQL executor driven through QueryProcessor::process with protocol messages.

#include "node/cql/query_processor.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "common/murmur3.hpp"
#include "node/cql/system_tables.hpp"
#include "node/storage/storage_engine.hpp"
#include "node_test_util.hpp"

namespace zdm::node::test {
namespace {

using protocol::BoundValue;
using protocol::ErrorCode;
using protocol::ErrorMessage;
using protocol::ResultMessage;
using protocol::RowsResult;

struct QueryProcessorTest : ::testing::Test {
  ManualClock time;
  StorageEngine engine{time.clock()};
  QueryProcessor qp{engine, NodeIdentity{}, QueryProcessorOptions{}};
  SessionState session{protocol::ProtocolVersion::V4, "", ""};
  std::vector<protocol::SchemaChange> changes;

  void SetUp() override {
    ASSERT_TRUE(qp.install_system_tables());
    qp.set_schema_change_listener(
        [this](const protocol::SchemaChange& c) { changes.push_back(c); });
  }

  protocol::ResponseBody query(const std::string& q, std::vector<BoundValue> values = {},
                               std::optional<int32_t> page_size = {},
                               std::optional<Bytes> paging_state = {}) {
    protocol::QueryMessage m;
    m.query = q;
    if (!values.empty()) m.parameters.values = std::move(values);
    m.parameters.page_size = page_size;
    m.parameters.paging_state = std::move(paging_state);
    return qp.process(m, session);
  }

  // Runs a statement that must succeed.
  ResultMessage ok(const std::string& q, std::vector<BoundValue> values = {}) {
    auto r = query(q, std::move(values));
    if (auto* e = std::get_if<ErrorMessage>(&r)) {
      ADD_FAILURE() << q << " -> " << e->message;
      return {};
    }
    return std::get<ResultMessage>(r);
  }

  RowsResult rows(const std::string& q, std::vector<BoundValue> values = {}) {
    auto r = ok(q, std::move(values));
    if (auto* rr = std::get_if<RowsResult>(&r.result)) return *rr;
    ADD_FAILURE() << q << " did not return rows";
    return {};
  }

  ErrorMessage error(const std::string& q, std::vector<BoundValue> values = {}) {
    auto r = query(q, std::move(values));
    if (auto* e = std::get_if<ErrorMessage>(&r)) return *e;
    ADD_FAILURE() << q << " unexpectedly succeeded";
    return {};
  }

  protocol::PreparedResult prepare(const std::string& q) {
    auto r = qp.process(protocol::PrepareMessage{q, std::nullopt}, session);
    if (auto* e = std::get_if<ErrorMessage>(&r)) {
      ADD_FAILURE() << q << " -> " << e->message;
      return {};
    }
    return std::get<protocol::PreparedResult>(std::get<ResultMessage>(r).result);
  }

  protocol::ResponseBody execute(const Bytes& id, std::vector<BoundValue> values,
                                 std::optional<int32_t> page_size = {},
                                 std::optional<Bytes> paging_state = {}) {
    protocol::ExecuteMessage m;
    m.id = id;
    m.parameters.values = std::move(values);
    m.parameters.page_size = page_size;
    m.parameters.paging_state = std::move(paging_state);
    return qp.process(m, session);
  }

  void make_table() {
    ok("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': "
       "1}");
    ok("USE ks");
    ok("CREATE TABLE t (pk int, ck int, v text, n int, s text static, l list<int>, st set<text>, "
       "m map<text, int>, PRIMARY KEY (pk, ck))");
  }
};

BoundValue bv(Bytes b) { return BoundValue::set(std::move(b)); }

std::string cell_text(const std::optional<Bytes>& b) { return b ? str(*b) : "<null>"; }

TEST_F(QueryProcessorTest, SystemLocalLooksLikeCassandra) {
  auto r = rows("SELECT * FROM system.local WHERE key='local'");
  ASSERT_EQ(r.rows.size(), 1u);
  std::map<std::string, std::optional<Bytes>> row;
  for (size_t i = 0; i < r.metadata.columns.size(); ++i)
    row[r.metadata.columns[i].name] = r.rows[0][i];
  EXPECT_EQ(cell_text(row["key"]), "local");
  EXPECT_EQ(cell_text(row["cluster_name"]), "zdm");
  EXPECT_EQ(cell_text(row["data_center"]), "dc1");
  EXPECT_EQ(cell_text(row["release_version"]), "4.0.11");
  EXPECT_EQ(cell_text(row["partitioner"]), "org.apache.cassandra.dht.Murmur3Partitioner");
  ASSERT_TRUE(row["tokens"].has_value());
  ASSERT_TRUE(row["schema_version"].has_value());
  EXPECT_EQ(row["schema_version"]->size(), 16u);
  EXPECT_EQ(r.metadata.columns[0].name, "key");

  auto peers = rows("SELECT * FROM system.peers");
  EXPECT_TRUE(peers.rows.empty());
  auto peers_v2 = rows("SELECT * FROM system.peers_v2");
  EXPECT_TRUE(peers_v2.rows.empty());
  auto v = rows("SELECT schema_version FROM system.local WHERE key='local'");
  ASSERT_EQ(v.rows.size(), 1u);
}

TEST(SystemPeers, ListConfiguredPeersWithAddressDerivedIds) {
  ManualClock time;
  StorageEngine engine{time.clock()};
  NodeIdentity identity;
  identity.listen_address = "127.0.0.2";
  identity.native_port = 9142;
  identity.peers = {"127.0.0.3"};
  QueryProcessor qp{engine, identity, QueryProcessorOptions{}};
  ASSERT_TRUE(qp.install_system_tables());
  SessionState session{protocol::ProtocolVersion::V4, "", ""};
  auto select = [&](const std::string& q) {
    protocol::QueryMessage m;
    m.query = q;
    auto r = qp.process(m, session);
    return std::get<RowsResult>(std::get<ResultMessage>(r).result);
  };
  // This node's id is what its peers say about it; the peer's is derived the same way.
  EXPECT_EQ(qp.identity().host_id, peer_host_id("127.0.0.2"));
  auto peers = select("SELECT peer, rpc_address, host_id, data_center, tokens FROM system.peers");
  ASSERT_EQ(peers.rows.size(), 1u);
  const Bytes address{127, 0, 0, 3};
  EXPECT_EQ(peers.rows[0][0], address);
  EXPECT_EQ(peers.rows[0][1], address);
  const Uuid id = peer_host_id("127.0.0.3");
  EXPECT_EQ(peers.rows[0][2], Bytes(id.begin(), id.end()));
  EXPECT_EQ(cell_text(peers.rows[0][3]), "dc1");
  ASSERT_TRUE(peers.rows[0][4].has_value());
  auto v2 = select("SELECT native_address, native_port FROM system.peers_v2");
  ASSERT_EQ(v2.rows.size(), 1u);
  EXPECT_EQ(v2.rows[0][0], address);
  EXPECT_NE(peer_host_id("127.0.0.2"), peer_host_id("127.0.0.3"));
  EXPECT_NE(peer_token("127.0.0.2"), peer_token("127.0.0.3"));
}

TEST_F(QueryProcessorTest, SchemaTablesFollowDdl) {
  make_table();
  auto ks = rows("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = 'ks'");
  ASSERT_EQ(ks.rows.size(), 1u);
  auto cols = rows(
      "SELECT column_name, kind, position, clustering_order, type FROM system_schema.columns "
      "WHERE keyspace_name = 'ks' AND table_name = 't'");
  std::map<std::string, std::vector<std::string>> by_name;
  for (const auto& r : cols.rows) {
    by_name[str(*r[0])] = {str(*r[1]), std::to_string(as_i32(*r[2])), str(*r[3]), str(*r[4])};
  }
  EXPECT_EQ(by_name["pk"], (std::vector<std::string>{"partition_key", "0", "none", "int"}));
  EXPECT_EQ(by_name["ck"], (std::vector<std::string>{"clustering", "0", "asc", "int"}));
  EXPECT_EQ(by_name["s"], (std::vector<std::string>{"static", "-1", "none", "text"}));
  EXPECT_EQ(by_name["l"], (std::vector<std::string>{"regular", "-1", "none", "list<int>"}));
  auto tables =
      rows("SELECT table_name, flags FROM system_schema.tables WHERE keyspace_name = 'ks'");
  ASSERT_EQ(tables.rows.size(), 1u);

  ok("CREATE TABLE f (k int PRIMARY KEY, x frozen<list<int>>)");
  auto fc = rows(
      "SELECT type FROM system_schema.columns WHERE keyspace_name = 'ks' AND "
      "table_name = 'f' AND column_name = 'x'");
  ASSERT_EQ(fc.rows.size(), 1u);
  EXPECT_EQ(str(*fc.rows[0][0]), "frozen<list<int>>");

  ok("DROP TABLE f");
  EXPECT_TRUE(
      rows("SELECT * FROM system_schema.columns WHERE keyspace_name = 'ks' AND table_name = 'f'")
          .rows.empty());
  ok("DROP KEYSPACE ks");
  EXPECT_TRUE(
      rows("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = 'ks'").rows.empty());
  EXPECT_FALSE(
      rows("SELECT * FROM system_schema.keyspaces WHERE keyspace_name = 'system'").rows.empty());
}

TEST_F(QueryProcessorTest, DdlErrorsAndSchemaChanges) {
  auto r = ok(
      "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  ASSERT_TRUE(std::holds_alternative<protocol::SchemaChangeResult>(r.result));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].keyspace, "ks");
  auto e = error(
      "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  EXPECT_EQ(e.code, ErrorCode::AlreadyExists);
  ok("CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', "
     "'replication_factor': 1}");
  EXPECT_EQ(error("CREATE TABLE nope.t (k int PRIMARY KEY)").message,
            "Keyspace nope does not exist");
  ok("CREATE TABLE ks.t (k int PRIMARY KEY, v int)");
  auto te = error("CREATE TABLE ks.t (k int PRIMARY KEY)");
  EXPECT_EQ(te.code, ErrorCode::AlreadyExists);
  auto info = std::get<protocol::AlreadyExistsInfo>(te.detail);
  EXPECT_EQ(info.keyspace, "ks");
  EXPECT_EQ(info.table, "t");
  EXPECT_EQ(error("SELECT * FROM ks.missing").message, "unconfigured table missing");
  EXPECT_EQ(error("SELEC * FROM ks.t").code, ErrorCode::SyntaxError);
  EXPECT_EQ(error("INSERT INTO system.local (key) VALUES ('x')").code, ErrorCode::Unauthorized);
  EXPECT_EQ(error("SELECT * FROM t").code, ErrorCode::Invalid);  // no keyspace
  auto use = ok("USE ks");
  EXPECT_TRUE(std::holds_alternative<protocol::SetKeyspaceResult>(use.result));
  EXPECT_EQ(session.keyspace, "ks");
  ok("ALTER TABLE t ADD w text");
  ok("INSERT INTO t (k, w) VALUES (1, 'x')");
  ok("ALTER TABLE t DROP w");
  EXPECT_EQ(error("INSERT INTO t (k, w) VALUES (1, 'x')").code, ErrorCode::Invalid);
  EXPECT_EQ(error("CREATE INDEX ON t (v)").code, ErrorCode::Invalid);
  ok("DROP TABLE t");
  ok("DROP TABLE IF EXISTS t");
  EXPECT_EQ(error("DROP TABLE t").code, ErrorCode::Invalid);
}

TEST_F(QueryProcessorTest, InsertSelectUpdateDelete) {
  make_table();
  ok("INSERT INTO t (pk, ck, v, n) VALUES (1, 1, 'a', 10)");
  ok("INSERT INTO t (pk, ck, v, n) VALUES (1, 2, 'b', 20)");
  ok("INSERT INTO t (pk, ck, v) VALUES (2, 1, 'c')");
  auto r = rows("SELECT pk, ck, v, n FROM t WHERE pk = 1");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(str(*r.rows[1][2]), "b");
  EXPECT_EQ(as_i32(*r.rows[1][3]), 20);

  ok("UPDATE t SET v = 'z', n = 5 WHERE pk = 1 AND ck = 2");
  r = rows("SELECT v, n FROM t WHERE pk = 1 AND ck = 2");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(str(*r.rows[0][0]), "z");

  ok("DELETE n FROM t WHERE pk = 1 AND ck = 2");
  r = rows("SELECT v, n FROM t WHERE pk = 1 AND ck = 2");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_FALSE(r.rows[0][1].has_value());

  ok("DELETE FROM t WHERE pk = 1 AND ck = 2");
  EXPECT_TRUE(rows("SELECT * FROM t WHERE pk = 1 AND ck = 2").rows.empty());
  ok("DELETE FROM t WHERE pk = 2");
  EXPECT_TRUE(rows("SELECT * FROM t WHERE pk = 2").rows.empty());

  // IN, ranges, ORDER BY, LIMIT
  for (int i = 0; i < 10; ++i) {
    ok("INSERT INTO t (pk, ck, v) VALUES (5, " + std::to_string(i) + ", 'x')");
  }
  EXPECT_EQ(rows("SELECT ck FROM t WHERE pk = 5 AND ck > 3 AND ck <= 7").rows.size(), 4u);
  EXPECT_EQ(rows("SELECT ck FROM t WHERE pk = 5 AND ck IN (1, 3, 99)").rows.size(), 2u);
  auto desc = rows("SELECT ck FROM t WHERE pk = 5 ORDER BY ck DESC LIMIT 3");
  ASSERT_EQ(desc.rows.size(), 3u);
  EXPECT_EQ(as_i32(*desc.rows[0][0]), 9);
  EXPECT_EQ(rows("SELECT ck FROM t WHERE pk IN (1, 5)").rows.size(), 11u);
  auto cnt = rows("SELECT count(*) FROM t WHERE pk = 5");
  ASSERT_EQ(cnt.rows.size(), 1u);
  EXPECT_EQ(cnt.metadata.columns[0].name, "count");
  EXPECT_EQ(cnt.rows[0][0], i64(10));
  ok("DELETE FROM t WHERE pk = 5 AND ck >= 2 AND ck < 8");
  EXPECT_EQ(rows("SELECT ck FROM t WHERE pk = 5").rows.size(), 4u);

  EXPECT_EQ(error("SELECT * FROM t WHERE v = 'x'").code, ErrorCode::Invalid);
  EXPECT_EQ(rows("SELECT * FROM t WHERE v = 'x' ALLOW FILTERING").rows.size(), 4u);
  EXPECT_EQ(error("INSERT INTO t (pk, v) VALUES (1, 'x')").message,
            "Some clustering keys are missing: ck");
  EXPECT_EQ(error("SELECT nope FROM t").message, "Undefined column name nope");
}

TEST_F(QueryProcessorTest, CollectionsAndStatics) {
  make_table();
  ok("INSERT INTO t (pk, ck, l, st, m, s) VALUES (1, 1, [1, 2], {'a'}, {'x': 1}, 'static')");
  ok("UPDATE t SET l = l + [3], st = st + {'b'}, m['y'] = 2 WHERE pk = 1 AND ck = 1");
  ok("UPDATE t SET l = [0] + l WHERE pk = 1 AND ck = 1");
  ok("INSERT INTO t (pk, ck) VALUES (1, 2)");
  auto r = rows("SELECT l, st, m, s FROM t WHERE pk = 1 AND ck = 1");
  ASSERT_EQ(r.rows.size(), 1u);
  Bytes expected_list;
  ByteWriter w(expected_list);
  w.write_i32(4);
  for (int i = 0; i < 4; ++i) w.write_bytes(ByteView(i32(i)));
  EXPECT_EQ(*r.rows[0][0], expected_list);
  auto r2 = rows("SELECT s FROM t WHERE pk = 1 AND ck = 2");
  ASSERT_EQ(r2.rows.size(), 1u);
  EXPECT_EQ(str(*r2.rows[0][0]), "static");
  ok("DELETE m['x'] FROM t WHERE pk = 1 AND ck = 1");
  ok("UPDATE t SET st = st - {'a'} WHERE pk = 1 AND ck = 1");
  r = rows("SELECT st, m FROM t WHERE pk = 1 AND ck = 1");
  Bytes expected_set;
  ByteWriter ws(expected_set);
  ws.write_i32(1);
  ws.write_bytes(as_bytes("b"));
  EXPECT_EQ(*r.rows[0][0], expected_set);
  EXPECT_EQ(error("UPDATE t SET n = n + 1 WHERE pk = 1 AND ck = 1").code, ErrorCode::Invalid);
}

TEST_F(QueryProcessorTest, CountersAndBatches) {
  make_table();
  ok("CREATE TABLE c (k int PRIMARY KEY, hits counter)");
  ok("UPDATE c SET hits = hits + 5 WHERE k = 1");
  ok("UPDATE c SET hits = hits - 2 WHERE k = 1");
  auto r = rows("SELECT hits FROM c WHERE k = 1");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(*r.rows[0][0], i64(3));
  EXPECT_EQ(error("INSERT INTO c (k, hits) VALUES (1, 1)").code, ErrorCode::Invalid);

  ok("BEGIN BATCH INSERT INTO t (pk, ck, v) VALUES (7, 1, 'a'); "
     "INSERT INTO t (pk, ck, v) VALUES (7, 2, 'b'); UPDATE t SET v = 'c' WHERE pk = 8 AND ck = 1; "
     "APPLY BATCH");
  EXPECT_EQ(rows("SELECT * FROM t WHERE pk IN (7, 8)").rows.size(), 3u);
  auto wt = rows("SELECT writetime(v) FROM t WHERE pk IN (7, 8)");
  ASSERT_EQ(wt.rows.size(), 3u);
  EXPECT_EQ(wt.rows[0][0], wt.rows[1][0]);
  EXPECT_EQ(wt.rows[0][0], wt.rows[2][0]);
  ok("BEGIN COUNTER BATCH UPDATE c SET hits = hits + 1 WHERE k = 1; APPLY BATCH");
  EXPECT_EQ(*rows("SELECT hits FROM c WHERE k = 1").rows[0][0], i64(4));

  // A protocol BATCH with a prepared statement.
  auto p = prepare("INSERT INTO t (pk, ck, v) VALUES (?, ?, ?)");
  protocol::BatchMessage b;
  b.type = protocol::BatchType::Unlogged;
  for (int i = 0; i < 3; ++i) {
    protocol::BatchStatement st;
    st.kind = protocol::BatchStatement::Kind::Prepared;
    st.id = p.id;
    st.values = {bv(i32(9)), bv(i32(i)), bv(txt("v"))};
    b.statements.push_back(st);
  }
  auto res = qp.process(b, session);
  ASSERT_TRUE(std::holds_alternative<ResultMessage>(res));
  EXPECT_EQ(rows("SELECT * FROM t WHERE pk = 9").rows.size(), 3u);
}

TEST_F(QueryProcessorTest, LightweightTransactions) {
  make_table();
  auto r = rows("INSERT INTO t (pk, ck, v) VALUES (1, 1, 'a') IF NOT EXISTS");
  EXPECT_EQ(r.metadata.columns[0].name, "[applied]");
  EXPECT_EQ(*r.rows[0][0], Bytes{1});
  r = rows("INSERT INTO t (pk, ck, v) VALUES (1, 1, 'b') IF NOT EXISTS");
  EXPECT_EQ(*r.rows[0][0], Bytes{0});
  ASSERT_GT(r.metadata.columns.size(), 1u);
  bool saw_v = false;
  for (size_t i = 0; i < r.metadata.columns.size(); ++i) {
    if (r.metadata.columns[i].name == "v") {
      saw_v = true;
      EXPECT_EQ(str(*r.rows[0][i]), "a");
    }
  }
  EXPECT_TRUE(saw_v);
  r = rows("UPDATE t SET v = 'c' WHERE pk = 1 AND ck = 1 IF v = 'x'");
  EXPECT_EQ(*r.rows[0][0], Bytes{0});
  ASSERT_EQ(r.metadata.columns.size(), 2u);
  EXPECT_EQ(str(*r.rows[0][1]), "a");
  r = rows("UPDATE t SET v = 'c' WHERE pk = 1 AND ck = 1 IF v = 'a'");
  EXPECT_EQ(*r.rows[0][0], Bytes{1});
  r = rows("DELETE FROM t WHERE pk = 1 AND ck = 2 IF EXISTS");
  EXPECT_EQ(*r.rows[0][0], Bytes{0});
  r = rows("DELETE FROM t WHERE pk = 1 AND ck = 1 IF EXISTS");
  EXPECT_EQ(*r.rows[0][0], Bytes{1});
  EXPECT_TRUE(rows("SELECT * FROM t WHERE pk = 1").rows.empty());
}

TEST_F(QueryProcessorTest, TtlExpiresWithTheClockAndWritetimeIsReported) {
  make_table();
  ok("INSERT INTO t (pk, ck, v) VALUES (1, 1, 'a') USING TTL 10 AND TIMESTAMP 12345");
  auto r = rows("SELECT ttl(v), writetime(v) FROM t WHERE pk = 1");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(as_i32(*r.rows[0][0]), 10);
  EXPECT_EQ(*r.rows[0][1], i64(12345));
  time.advance_seconds(11);
  EXPECT_TRUE(rows("SELECT * FROM t WHERE pk = 1").rows.empty());

  ok("CREATE TABLE d (k int PRIMARY KEY, v int) WITH default_time_to_live = 5");
  ok("INSERT INTO d (k, v) VALUES (1, 1)");
  EXPECT_EQ(rows("SELECT * FROM d").rows.size(), 1u);
  time.advance_seconds(6);
  EXPECT_TRUE(rows("SELECT * FROM d").rows.empty());
  EXPECT_EQ(error("INSERT INTO d (k, v) VALUES (1, 1) USING TTL -1").code, ErrorCode::Invalid);
}

TEST_F(QueryProcessorTest, PreparedStatementsBindAndReportMetadata) {
  make_table();
  auto ins = prepare("INSERT INTO t (pk, ck, v) VALUES (?, ?, ?)");
  EXPECT_EQ(ins.id.size(), 16u);
  ASSERT_EQ(ins.metadata.columns.size(), 3u);
  EXPECT_EQ(ins.metadata.columns[0].name, "pk");
  EXPECT_EQ(ins.metadata.pk_indexes, (std::vector<uint16_t>{0}));
  auto res = execute(ins.id, {bv(i32(3)), bv(i32(4)), bv(txt("hello"))});
  ASSERT_TRUE(std::holds_alternative<ResultMessage>(res));

  auto sel = prepare("SELECT v FROM t WHERE pk = :key AND ck = ?");
  EXPECT_EQ(sel.metadata.columns[0].name, "key");
  EXPECT_EQ(sel.result_metadata.columns.size(), 1u);
  auto out = execute(sel.id, {bv(i32(3)), bv(i32(4))});
  auto& rr = std::get<RowsResult>(std::get<ResultMessage>(out).result);
  ASSERT_EQ(rr.rows.size(), 1u);
  EXPECT_EQ(str(*rr.rows[0][0]), "hello");

  // Wrong value size is Invalid, not a crash.
  auto bad = execute(ins.id, {bv(Bytes{1, 2}), bv(i32(4)), bv(txt("x"))});
  EXPECT_EQ(std::get<ErrorMessage>(bad).code, ErrorCode::Invalid);

  // Same text prepares to the same id; unknown ids are Unprepared.
  EXPECT_EQ(prepare("INSERT INTO t (pk, ck, v) VALUES (?, ?, ?)").id, ins.id);
  qp.clear_prepared();
  auto un = execute(ins.id, {bv(i32(3)), bv(i32(4)), bv(txt("x"))});
  auto& err = std::get<ErrorMessage>(un);
  EXPECT_EQ(err.code, ErrorCode::Unprepared);
  EXPECT_EQ(std::get<protocol::UnpreparedInfo>(err.detail).id, ins.id);

  // A schema change recompiles the prepared plan.
  auto sel2 = prepare("SELECT * FROM t WHERE pk = ?");
  ok("ALTER TABLE t ADD extra int");
  auto after = execute(sel2.id, {bv(i32(3))});
  auto& ar = std::get<RowsResult>(std::get<ResultMessage>(after).result);
  bool has_extra = false;
  for (const auto& c : ar.metadata.columns) has_extra |= c.name == "extra";
  EXPECT_TRUE(has_extra);
}

TEST_F(QueryProcessorTest, PagesTenThousandRowsExactlyOnce) {
  make_table();
  auto ins = prepare("INSERT INTO t (pk, ck, v) VALUES (?, ?, 'x')");
  for (int i = 0; i < 10000; ++i) {
    auto r = execute(ins.id, {bv(i32(i % 50)), bv(i32(i))});
    ASSERT_TRUE(std::holds_alternative<ResultMessage>(r));
  }
  auto sel = prepare("SELECT pk, ck FROM t");
  std::set<int> seen;
  std::optional<Bytes> state;
  int pages = 0;
  for (; pages < 200; ++pages) {
    auto r = execute(sel.id, {}, 100, state);
    auto& rr = std::get<RowsResult>(std::get<ResultMessage>(r).result);
    EXPECT_LE(rr.rows.size(), 100u);
    for (const auto& row : rr.rows) EXPECT_TRUE(seen.insert(as_i32(*row[1])).second);
    state = rr.metadata.paging_state;
    if (!state) break;
  }
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_LE(pages, 100);  // the last full page may be followed by an empty one
}

TEST_F(QueryProcessorTest, TokenRangesCoverEveryRowOnce) {
  make_table();
  for (int i = 0; i < 300; ++i) {
    ok("INSERT INTO t (pk, ck, v) VALUES (" + std::to_string(i) + ", 0, 'x')");
  }
  // Split the ring into 7 ranges, the last one wrapping past the end.
  std::vector<int64_t> bounds;
  const uint64_t step = UINT64_MAX / 7;
  for (uint64_t i = 0; i < 7; ++i) {
    bounds.push_back(static_cast<int64_t>(static_cast<uint64_t>(INT64_MIN) + step / 3 + i * step));
  }
  std::multiset<int> seen;
  auto sel = prepare("SELECT pk, token(pk) FROM t WHERE token(pk) > ? AND token(pk) <= ?");
  for (size_t i = 0; i < bounds.size(); ++i) {
    const int64_t start = bounds[i];
    const int64_t end = bounds[(i + 1) % bounds.size()];  // the last one wraps
    auto r = execute(sel.id, {bv(i64(start)), bv(i64(end))});
    auto& rr = std::get<RowsResult>(std::get<ResultMessage>(r).result);
    for (const auto& row : rr.rows) seen.insert(as_i32(*row[0]));
  }
  EXPECT_EQ(seen.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
}

TEST_F(QueryProcessorTest, JsonAndFunctions) {
  make_table();
  ok("INSERT INTO t JSON '{\"pk\": 1, \"ck\": 2, \"v\": \"hi\", \"l\": [1, 2]}'");
  auto r = rows("SELECT JSON pk, v, l FROM t WHERE pk = 1");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(str(*r.rows[0][0]), "{\"pk\": 1, \"v\": \"hi\", \"l\": [1, 2]}");
  ok("CREATE TABLE e (k timeuuid PRIMARY KEY, ts timestamp, d date)");
  ok("INSERT INTO e (k, ts, d) VALUES (now(), toTimestamp(now()), '2020-01-31')");
  auto e = rows("SELECT k, ts, d FROM e");
  ASSERT_EQ(e.rows.size(), 1u);
  EXPECT_EQ(e.rows[0][0]->size(), 16u);
  EXPECT_EQ(e.rows[0][1]->size(), 8u);
  EXPECT_EQ(as_i32(*e.rows[0][2]), static_cast<int32_t>(0x80000000u + 18292u));
  ok("INSERT INTO e (k, ts) VALUES (50554d6e-29bb-11e5-b345-feff819cdc9f, '2011-02-03 "
     "04:05:00+0000')");
  auto t = rows("SELECT ts FROM e WHERE k = 50554d6e-29bb-11e5-b345-feff819cdc9f");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(*t.rows[0][0], i64(1296705900000));
}

TEST_F(QueryProcessorTest, V5ResultMetadataIdSignalsChangedMetadata) {
  make_table();
  session.version = protocol::ProtocolVersion::V5;
  auto sel = prepare("SELECT * FROM t WHERE pk = ?");
  ASSERT_EQ(sel.result_metadata_id.size(), 16u);
  protocol::ExecuteMessage m;
  m.id = sel.id;
  m.result_metadata_id = sel.result_metadata_id;
  m.parameters.values = std::vector<BoundValue>{bv(i32(1))};
  m.parameters.skip_metadata = true;
  auto same = std::get<RowsResult>(std::get<ResultMessage>(qp.process(m, session)).result);
  EXPECT_FALSE(same.metadata.new_metadata_id.has_value());
  EXPECT_TRUE(same.metadata.no_metadata);
  ok("ALTER TABLE t ADD extra int");
  auto changed = std::get<RowsResult>(std::get<ResultMessage>(qp.process(m, session)).result);
  ASSERT_TRUE(changed.metadata.new_metadata_id.has_value());
  EXPECT_NE(*changed.metadata.new_metadata_id, sel.result_metadata_id);
  EXPECT_FALSE(changed.metadata.no_metadata);
}

}  // namespace
}  // namespace zdm::node::test
