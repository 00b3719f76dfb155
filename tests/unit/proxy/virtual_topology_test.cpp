#include "proxy/cluster/virtual_topology.hpp"

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/md5.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {
namespace {

using protocol::ErrorCode;

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

ClusterLocalInfo real_cluster(
    std::string partitioner = "org.apache.cassandra.dht.Murmur3Partitioner") {
  ClusterLocalInfo info;
  info.datacenter = "dc-east";
  info.local_row["cluster_name"] = text("Origin Cluster");
  info.local_row["release_version"] = text("4.0.11");
  info.local_row["cql_version"] = text("3.4.5");
  info.local_row["native_protocol_version"] = text("5");
  info.local_row["partitioner"] = text(partitioner);
  info.local_row["schema_version"] = Bytes{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x47, 0x88,
                                           0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00};
  info.local_row["data_center"] = text("ignored-real-dc");
  info.local_row["rack"] = text("ignored-real-rack");
  return info;
}

VirtualTopology make_topology(size_t index = 0) {
  VirtualTopologyConfig config;
  config.addresses = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};
  config.index = index;
  config.num_tokens = 8;
  config.native_port = 9044;
  auto topology = VirtualTopology::create(config, real_cluster());
  EXPECT_TRUE(topology) << topology.error().message;
  return std::move(*topology);
}

// By value: callers pass temporaries.
protocol::RowsResult rows_of(const protocol::ResponseBody& body) {
  const auto* result = std::get_if<protocol::ResultMessage>(&body);
  if (result == nullptr) {
    const auto* error = std::get_if<protocol::ErrorMessage>(&body);
    ADD_FAILURE() << "expected rows, got error: " << (error ? error->message : "?");
    return {};
  }
  return std::get<protocol::RowsResult>(result->result);
}

protocol::ErrorMessage error_of(const protocol::ResponseBody& body) {
  const auto* error = std::get_if<protocol::ErrorMessage>(&body);
  if (error == nullptr) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  return *error;
}

std::vector<std::string> column_names(const protocol::RowsResult& rows) {
  std::vector<std::string> out;
  for (const auto& c : rows.metadata.columns) out.push_back(c.name);
  return out;
}

// Decodes a set<text> cell.
std::vector<std::string> decode_text_set(const Bytes& cell) {
  ByteReader reader(cell);
  std::vector<std::string> out;
  const int32_t n = *reader.read_i32();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t len = *reader.read_i32();
    auto raw = *reader.read_raw(static_cast<size_t>(len));
    out.emplace_back(as_chars(raw));
  }
  EXPECT_TRUE(reader.empty());
  return out;
}

int64_t decode_bigint(const Bytes& cell) {
  ByteReader reader(cell);
  return *reader.read_i64();
}

std::string uuid_text(const Uuid& u) {
  const std::string hex = to_hex(ByteView(u.data(), u.size()));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

TEST(VirtualTokens, ThreeHostsEightTokensAreDisjointAndInterleaved) {
  constexpr size_t kHosts = 3;
  constexpr size_t kTokens = 8;
  std::vector<std::pair<int64_t, size_t>> all;  // token, owner
  for (size_t i = 0; i < kHosts; ++i) {
    const auto tokens = virtual_tokens(i, kHosts, kTokens);
    ASSERT_EQ(tokens.size(), kTokens);
    for (size_t t = 0; t < kTokens; ++t) {
      // Independent check in 128-bit arithmetic: floor(2^64/(T*N)) * (t*N+i) - 2^63.
      __extension__ typedef __int128 i128;
      const i128 step = (static_cast<i128>(1) << 64) / static_cast<i128>(kTokens * kHosts);
      const i128 expected = step * static_cast<i128>(t * kHosts + i) - (static_cast<i128>(1) << 63);
      EXPECT_EQ(static_cast<i128>(tokens[t]), expected) << "host " << i << " token " << t;
      all.emplace_back(tokens[t], i);
    }
  }
  std::sort(all.begin(), all.end());
  std::set<int64_t> distinct;
  for (size_t k = 0; k < all.size(); ++k) {
    distinct.insert(all[k].first);
    EXPECT_EQ(all[k].second, k % kHosts) << "ring position " << k;
  }
  EXPECT_EQ(distinct.size(), kHosts * kTokens);
  EXPECT_EQ(all.front().first, INT64_MIN);
}

TEST(VirtualTokens, ExtremeSizesStayInRange) {
  const auto one = virtual_tokens(0, 1, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], INT64_MIN);
  const auto big = virtual_tokens(99, 100, 256);
  ASSERT_EQ(big.size(), 256u);
  EXPECT_TRUE(std::is_sorted(big.begin(), big.end()));
  EXPECT_LT(big.back(), INT64_MAX);
  EXPECT_GT(big.back(), 0);
}

TEST(VirtualHostId, IsTheReferenceNameBasedUuid) {
  // Expected values computed independently with Python's hashlib (SHA-1 over the nil namespace
  // and the IPv4-mapped address, version 5).
  auto a = virtual_host_id("127.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(uuid_text(*a), "70ce2f37-9d6d-5010-98d8-80fe51a498ed");
  auto b = virtual_host_id("10.0.0.2");
  ASSERT_TRUE(b);
  EXPECT_EQ(uuid_text(*b), "56512bed-55b0-502e-b704-b6881397589a");
  EXPECT_FALSE(virtual_host_id("not-an-ip"));
  auto v6 = virtual_host_id("::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ((*v6)[6] >> 4, 5);
}

TEST(VirtualTopology, SystemLocalHasCassandra40ColumnsAndTheProxyIdentity) {
  const VirtualTopology topology = make_topology(1);
  const auto& rows = rows_of(topology.query("SELECT * FROM system.local", ""));
  EXPECT_EQ(column_names(rows), (std::vector<std::string>{"key",
                                                          "bootstrapped",
                                                          "broadcast_address",
                                                          "broadcast_port",
                                                          "cluster_name",
                                                          "cql_version",
                                                          "data_center",
                                                          "gossip_generation",
                                                          "host_id",
                                                          "listen_address",
                                                          "listen_port",
                                                          "native_protocol_version",
                                                          "partitioner",
                                                          "rack",
                                                          "release_version",
                                                          "rpc_address",
                                                          "rpc_port",
                                                          "schema_version",
                                                          "tokens",
                                                          "truncated_at"}));
  EXPECT_EQ(rows.metadata.global_keyspace, "system");
  EXPECT_EQ(rows.metadata.global_table, "local");
  ASSERT_EQ(rows.rows.size(), 1u);
  const protocol::Row& row = rows.rows[0];
  auto cell = [&](std::string_view name) -> const std::optional<Bytes>& {
    for (size_t i = 0; i < rows.metadata.columns.size(); ++i) {
      if (rows.metadata.columns[i].name == name) return row[i];
    }
    static const std::optional<Bytes> none;
    ADD_FAILURE() << "no column " << name;
    return none;
  };
  EXPECT_EQ(*cell("key"), text("local"));
  EXPECT_EQ(*cell("rpc_address"), (Bytes{10, 0, 0, 2}));
  EXPECT_EQ(*cell("broadcast_address"), (Bytes{10, 0, 0, 2}));
  EXPECT_EQ(*cell("rpc_port"), (Bytes{0, 0, 0x23, 0x54}));  // 9044
  EXPECT_EQ(*cell("data_center"), text("dc-east"));
  EXPECT_EQ(*cell("rack"), text("rack0"));
  EXPECT_EQ(*cell("cluster_name"), text("Origin Cluster"));
  EXPECT_EQ(*cell("release_version"), text("4.0.11"));
  EXPECT_EQ(*cell("partitioner"), text("org.apache.cassandra.dht.Murmur3Partitioner"));
  EXPECT_EQ(cell("schema_version")->size(), 16u);
  EXPECT_FALSE(cell("truncated_at").has_value());
  const auto host_id = *virtual_host_id("10.0.0.2");
  EXPECT_EQ(*cell("host_id"), Bytes(host_id.begin(), host_id.end()));
  std::vector<std::string> expected_tokens;
  for (int64_t t : virtual_tokens(1, 3, 8)) expected_tokens.push_back(std::to_string(t));
  EXPECT_EQ(decode_text_set(*cell("tokens")), expected_tokens);

  // Types drivers check.
  EXPECT_EQ(rows.metadata.columns[18].type,
            protocol::DataType::set_of(protocol::DataType::simple(protocol::TypeId::Varchar)));
  EXPECT_EQ(rows.metadata.columns[8].type.id, protocol::TypeId::Uuid);
  EXPECT_EQ(rows.metadata.columns[2].type.id, protocol::TypeId::Inet);
}

TEST(VirtualTopology, SystemPeersListsTheOtherProxies) {
  const VirtualTopology topology = make_topology(0);
  const auto& rows = rows_of(topology.query("select * from system.peers", ""));
  EXPECT_EQ(column_names(rows), (std::vector<std::string>{
                                    "peer", "data_center", "host_id", "preferred_ip", "rack",
                                    "release_version", "rpc_address", "schema_version", "tokens"}));
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(*rows.rows[0][0], (Bytes{10, 0, 0, 2}));
  EXPECT_EQ(*rows.rows[1][0], (Bytes{10, 0, 0, 3}));
  EXPECT_EQ(*rows.rows[1][6], (Bytes{10, 0, 0, 3}));
  EXPECT_EQ(*rows.rows[0][1], text("dc-east"));
  std::vector<std::string> expected_tokens;
  for (int64_t t : virtual_tokens(2, 3, 8)) expected_tokens.push_back(std::to_string(t));
  EXPECT_EQ(decode_text_set(*rows.rows[1][8]), expected_tokens);
}

TEST(VirtualTopology, HonoursColumnListsAliasesAndCount) {
  const VirtualTopology topology = make_topology(0);
  const auto& rows = rows_of(topology.query(
      "SELECT rpc_address, \"host_id\" AS id, data_center as dc FROM system.peers", ""));
  EXPECT_EQ(column_names(rows), (std::vector<std::string>{"rpc_address", "id", "dc"}));
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(rows.rows[0].size(), 3u);

  const auto& count = rows_of(topology.query("SELECT count(*) FROM system.peers", ""));
  EXPECT_EQ(column_names(count), std::vector<std::string>{"count"});
  ASSERT_EQ(count.rows.size(), 1u);
  EXPECT_EQ(decode_bigint(*count.rows[0][0]), 2);
  EXPECT_EQ(count.metadata.columns[0].type.id, protocol::TypeId::Bigint);

  const auto& aliased = rows_of(topology.query("SELECT COUNT(1) AS n FROM system.local", ""));
  EXPECT_EQ(column_names(aliased), std::vector<std::string>{"n"});
  EXPECT_EQ(decode_bigint(*aliased.rows[0][0]), 1);
}

TEST(VirtualTopology, WhereKeyAndLimit) {
  const VirtualTopology topology = make_topology(0);
  EXPECT_EQ(
      rows_of(topology.query("SELECT key FROM system.local WHERE key='local'", "")).rows.size(),
      1u);
  EXPECT_EQ(
      rows_of(topology.query("SELECT key FROM system.local WHERE key = 'other'", "")).rows.size(),
      0u);
  const auto& one_peer =
      rows_of(topology.query("SELECT peer FROM system.peers WHERE peer = '10.0.0.3';", ""));
  ASSERT_EQ(one_peer.rows.size(), 1u);
  EXPECT_EQ(*one_peer.rows[0][0], (Bytes{10, 0, 0, 3}));
  EXPECT_EQ(rows_of(topology.query("SELECT * FROM system.peers LIMIT 1", "")).rows.size(), 1u);
  EXPECT_EQ(error_of(topology.query("SELECT * FROM system.peers LIMIT 0", "")).code,
            ErrorCode::Invalid);
}

TEST(VirtualTopology, UnqualifiedTablesUseTheSessionKeyspace) {
  const VirtualTopology topology = make_topology(0);
  EXPECT_EQ(rows_of(topology.query("SELECT * FROM local", "system")).rows.size(), 1u);
  EXPECT_EQ(error_of(topology.query("SELECT * FROM local", "ks1")).code, ErrorCode::Invalid);
}

TEST(VirtualTopology, AnswersCassandraErrors) {
  const VirtualTopology topology = make_topology(0);
  auto unknown = error_of(topology.query("SELECT nope FROM system.local", ""));
  EXPECT_EQ(unknown.code, ErrorCode::Invalid);
  EXPECT_EQ(unknown.message, "Undefined column name nope");

  auto v2 = error_of(topology.query("SELECT * FROM system.peers_v2", ""));
  EXPECT_EQ(v2.code, ErrorCode::Invalid);
  EXPECT_EQ(v2.message, "unconfigured table peers_v2");

  auto where_unknown = error_of(topology.query("SELECT * FROM system.local WHERE peer = 'x'", ""));
  EXPECT_EQ(where_unknown.message, "Undefined column name peer");

  EXPECT_EQ(error_of(topology.query("SELECT * system.local", "")).code, ErrorCode::SyntaxError);
  EXPECT_EQ(error_of(topology.query("SELECT * FROM system.local garbage", "")).code,
            ErrorCode::SyntaxError);
  EXPECT_EQ(error_of(topology.query("SELECT * FROM system.local WHERE key = 'local", "")).code,
            ErrorCode::SyntaxError);
  EXPECT_EQ(error_of(topology.query("SELECT writetime(key) FROM system.local", "")).code,
            ErrorCode::Invalid);
  EXPECT_EQ(error_of(topology.query("SELECT JSON * FROM system.local", "")).code,
            ErrorCode::Invalid);
}

TEST(VirtualTopology, PreparedFormAnswersExecuteLocally) {
  const VirtualTopology topology = make_topology(0);
  const std::string cql = "SELECT * FROM system.local WHERE key = ?";
  auto prepared = prepare_system_select(cql, "ks1", protocol::ProtocolVersion::V5);
  ASSERT_TRUE(prepared) << prepared.error().message;
  // Id = MD5(query text + keyspace); expected value from Python's hashlib.
  EXPECT_EQ(to_hex(prepared->result.id), "0115faec7496d3ebd3e32250cd3157f1");
  ASSERT_EQ(prepared->result.metadata.columns.size(), 1u);
  EXPECT_EQ(prepared->result.metadata.columns[0].name, "key");
  EXPECT_EQ(prepared->result.metadata.pk_indexes, std::vector<uint16_t>{0});
  EXPECT_EQ(prepared->result.result_metadata.columns.size(), 20u);
  EXPECT_EQ(prepared->result.result_metadata_id.size(), 16u);

  std::vector<protocol::BoundValue> values{protocol::BoundValue::set(text("local"))};
  EXPECT_EQ(rows_of(topology.execute(prepared->select, values)).rows.size(), 1u);
  values[0] = protocol::BoundValue::set(text("remote"));
  EXPECT_EQ(rows_of(topology.execute(prepared->select, values)).rows.size(), 0u);
  values[0] = protocol::BoundValue::null();
  EXPECT_EQ(error_of(topology.execute(prepared->select, values)).code, ErrorCode::Invalid);
  EXPECT_EQ(error_of(topology.execute(prepared->select, {})).code, ErrorCode::Invalid);

  auto named = prepare_system_select("SELECT peer FROM system.peers WHERE peer = :p LIMIT ?", "",
                                     protocol::ProtocolVersion::V4);
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->result.metadata.columns.size(), 2u);
  EXPECT_TRUE(named->result.result_metadata_id.empty());  // v4 has none
  std::vector<protocol::BoundValue> peer_values{protocol::BoundValue::set(Bytes{10, 0, 0, 2}),
                                                protocol::BoundValue::set(Bytes{0, 0, 0, 5})};
  EXPECT_EQ(rows_of(topology.execute(named->select, peer_values)).rows.size(), 1u);

  EXPECT_FALSE(
      prepare_system_select("SELECT * FROM system.peers_v2", "", protocol::ProtocolVersion::V4));
}

TEST(VirtualTopology, ResultsEncodeAndDecodeAsProtocolMessages) {
  const VirtualTopology topology = make_topology(2);
  for (auto version : {protocol::ProtocolVersion::V3, protocol::ProtocolVersion::V4,
                       protocol::ProtocolVersion::V5}) {
    auto body = topology.query("SELECT * FROM system.peers", "");
    const protocol::Message message =
        protocol::make_response(version, protocol::StreamId{7}, std::move(body));
    const Bytes encoded = protocol::encode_message(message);
    protocol::FrameHeader header;
    header.version = version;
    header.direction = protocol::Direction::Response;
    header.opcode = protocol::Opcode::Result;
    header.stream = protocol::StreamId{7};
    header.flags = protocol::envelope_flags(message);
    header.body_length = static_cast<uint32_t>(encoded.size());
    auto decoded = protocol::decode_message(header, encoded);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(*decoded, message);
  }
}

TEST(VirtualTopology, PartitionerRules) {
  VirtualTopologyConfig config;
  config.addresses = {"127.0.0.1"};
  auto random =
      VirtualTopology::create(config, real_cluster("org.apache.cassandra.dht.RandomPartitioner"));
  ASSERT_TRUE(random);
  const auto& rows = rows_of(random->query("SELECT partitioner FROM system.local", ""));
  EXPECT_EQ(*rows.rows[0][0], text("org.apache.cassandra.dht.Murmur3Partitioner"));
  EXPECT_FALSE(VirtualTopology::create(
      config, real_cluster("org.apache.cassandra.dht.ByteOrderedPartitioner")));
  EXPECT_TRUE(rows_of(random->query("SELECT * FROM system.peers", "")).rows.empty());
}

TEST(VirtualTopology, RejectsBadConfiguration) {
  VirtualTopologyConfig config;
  config.addresses = {"10.0.0.1", "10.0.0.2"};
  config.index = 2;
  EXPECT_FALSE(VirtualTopology::create(config, real_cluster()));
  config.index = 0;
  config.num_tokens = 0;
  EXPECT_FALSE(VirtualTopology::create(config, real_cluster()));
  config.num_tokens = 8;
  config.addresses = {"proxy-a"};
  EXPECT_FALSE(VirtualTopology::create(config, real_cluster()));
  config.addresses = {};
  EXPECT_FALSE(VirtualTopology::create(config, real_cluster()));
}

}  // namespace
}  // namespace zdm::proxy
