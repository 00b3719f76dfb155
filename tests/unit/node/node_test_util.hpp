#pragma once
// Helpers shared by the node storage tests: value encoders, a manual clock, a standard table.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "node/storage/storage_engine.hpp"

namespace zdm::node::test {

inline Bytes i32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
          static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
}
inline Bytes i64(int64_t v) {
  Bytes out(8);
  auto u = static_cast<uint64_t>(v);
  for (size_t i = 8; i-- > 0;) {
    out[i] = static_cast<uint8_t>(u);
    u >>= 8;
  }
  return out;
}
inline Bytes txt(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }
inline int32_t as_i32(const Bytes& b) { return static_cast<int32_t>(load_be32(b.data())); }

// A clock the test moves by hand (microseconds since the epoch).
struct ManualClock {
  std::shared_ptr<std::atomic<int64_t>> micros =
      std::make_shared<std::atomic<int64_t>>(1'700'000'000'000'000);
  Clock clock() const {
    auto m = micros;
    return [m] { return m->load(); };
  }
  void advance_seconds(int64_t s) { *micros += s * 1'000'000; }
};

// ks.t (pk int, ck int, v text, w int, s text static, l list<text>, st set<int>,
//       m map<text, int>, PRIMARY KEY (pk, ck))
struct TableFixture : ::testing::Test {
  ManualClock time;
  StorageEngine engine{time.clock()};
  std::shared_ptr<Table> table;
  ColumnId v = 0, w = 0, s = 0, l = 0, st = 0, m = 0;

  void SetUp() override {
    ASSERT_TRUE(engine.create_keyspace({"ks", {{"class", "SimpleStrategy"}}, true}));
    using protocol::DataType;
    auto created = engine.create_table(
        "ks", "t",
        {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
         {"ck", DataType::simple(TypeId::Int), ColumnKind::Clustering},
         {"v", DataType::simple(TypeId::Varchar)},
         {"w", DataType::simple(TypeId::Int)},
         {"s", DataType::simple(TypeId::Varchar), ColumnKind::Static},
         {"l", DataType::list_of(DataType::simple(TypeId::Varchar)), ColumnKind::Regular,
          ClusteringOrder::Asc, CellLayout::MultiCell},
         {"st", DataType::set_of(DataType::simple(TypeId::Int)), ColumnKind::Regular,
          ClusteringOrder::Asc, CellLayout::MultiCell},
         {"m", DataType::map_of(DataType::simple(TypeId::Varchar), DataType::simple(TypeId::Int)),
          ColumnKind::Regular, ClusteringOrder::Asc, CellLayout::MultiCell}});
    ASSERT_TRUE(created) << created.error().to_string();
    table = *created;
    auto schema = table->schema();
    v = schema->find_column("v")->id;
    w = schema->find_column("w")->id;
    s = schema->find_column("s")->id;
    l = schema->find_column("l")->id;
    st = schema->find_column("st")->id;
    m = schema->find_column("m")->id;
  }

  // UPDATE ks.t SET <ops> WHERE pk = ? AND ck = ?
  void update(int32_t pk, int32_t ck, std::vector<ColumnOp> ops) {
    Mutation mu;
    mu.partition_key = i32(pk);
    mu.rows.push_back(RowWrite{{i32(ck)}, std::nullopt, std::nullopt, std::move(ops)});
    auto ok = table->apply(mu);
    ASSERT_TRUE(ok) << ok.error().to_string();
  }
  // INSERT INTO ks.t (pk, ck, <ops>) VALUES (...) USING TIMESTAMP ts AND TTL ttl
  void insert(int32_t pk, int32_t ck, int64_t ts, std::vector<ColumnOp> ops, int32_t ttl = 0) {
    Mutation mu;
    mu.partition_key = i32(pk);
    mu.rows.push_back(RowWrite{{i32(ck)}, RowMarker{ts, ttl}, std::nullopt, std::move(ops)});
    auto ok = table->apply(mu);
    ASSERT_TRUE(ok) << ok.error().to_string();
  }

  ReadResult read(ReadCommand cmd) {
    auto r = table->read(cmd);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? std::move(*r) : ReadResult{};
  }
  ReadResult read_partition(int32_t pk) { return read(ReadCommand::partition(i32(pk))); }

  // The value of column `id` in the row (pk, ck), or nullopt when the row or cell is absent.
  std::optional<CellValue> cell(int32_t pk, int32_t ck, ColumnId id) {
    ReadCommand cmd = ReadCommand::partition(i32(pk));
    cmd.slices.push_back(ClusteringSlice::equal({i32(ck)}));
    cmd.columns = {id};
    auto r = read(cmd);
    if (r.rows.empty()) return std::nullopt;
    return r.rows[0].values[0].cell;
  }
  bool row_exists(int32_t pk, int32_t ck) {
    ReadCommand cmd = ReadCommand::partition(i32(pk));
    cmd.slices.push_back(ClusteringSlice::equal({i32(ck)}));
    return !read(cmd).rows.empty();
  }
};

}  // namespace zdm::node::test
