// Reads of the node's storage: clustering order, slices, limits, token scans and paging.

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "common/murmur3.hpp"
#include "common/timeuuid.hpp"
#include "node_test_util.hpp"
#include "protocol/value_compare.hpp"

namespace zdm::node::test {
namespace {

using protocol::DataType;
using ReadTest = TableFixture;

std::vector<int32_t> cks(const ReadResult& r) {
  std::vector<int32_t> out;
  for (const auto& row : r.rows)
    out.push_back(row.clustering.empty() ? -999 : as_i32(row.clustering[0]));
  return out;
}

TEST_F(ReadTest, SlicesInListsReversedAndLimits) {
  for (int ck = -5; ck < 10; ++ck) update(1, ck, {ColumnOp::set(w, i32(ck), 1)});
  ReadCommand range = ReadCommand::partition(i32(1));
  range.slices.push_back(ClusteringSlice{{{i32(-2)}, false}, {{i32(3)}, true}});
  EXPECT_EQ(cks(read(range)), (std::vector<int32_t>{-1, 0, 1, 2, 3}));
  range.order = ReadOrder::Reversed;
  EXPECT_EQ(cks(read(range)), (std::vector<int32_t>{3, 2, 1, 0, -1}));
  range.limit = 2;
  EXPECT_EQ(cks(read(range)), (std::vector<int32_t>{3, 2}));

  ReadCommand in = ReadCommand::partition(i32(1));
  for (int32_t ck : {7, -5, 7, 100, 0}) in.slices.push_back(ClusteringSlice::equal({i32(ck)}));
  EXPECT_EQ(cks(read(in)), (std::vector<int32_t>{-5, 0, 7}));  // clustering order, deduplicated

  ReadCommand overlap = ReadCommand::partition(i32(1));
  overlap.slices.push_back(ClusteringSlice{{{i32(0)}, true}, {{i32(4)}, true}});
  overlap.slices.push_back(ClusteringSlice{{{i32(2)}, true}, {{i32(6)}, false}});
  EXPECT_EQ(cks(read(overlap)), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));

  ReadCommand open_end = ReadCommand::partition(i32(1));
  open_end.slices.push_back(ClusteringSlice{{{i32(8)}, true}, {}});
  EXPECT_EQ(cks(read(open_end)), (std::vector<int32_t>{8, 9}));
}

TEST_F(ReadTest, PerPartitionLimitAppliesToEachPartition) {
  for (int pk = 0; pk < 5; ++pk) {
    for (int ck = 0; ck < 4; ++ck) update(pk, ck, {ColumnOp::set(w, i32(ck), 1)});
  }
  ReadCommand scan = ReadCommand::full_scan();
  scan.per_partition_limit = 2;
  auto r = read(scan);
  ASSERT_EQ(r.rows.size(), 10u);
  std::map<Bytes, std::vector<int32_t>> by_partition;
  for (const auto& row : r.rows)
    by_partition[row.partition_key].push_back(as_i32(row.clustering[0]));
  for (const auto& [pk, rows] : by_partition) EXPECT_EQ(rows, (std::vector<int32_t>{0, 1}));
  scan.limit = 3;
  EXPECT_EQ(read(scan).rows.size(), 3u);
}

TEST_F(ReadTest, ResultsCarryWriteTimeAndStaticValues) {
  update(1, 1, {ColumnOp::set(v, txt("a"), 123), ColumnOp::set(s, txt("shared"), 77)});
  update(1, 2, {ColumnOp::set(v, txt("b"), 124)});
  ReadCommand cmd = ReadCommand::partition(i32(1));
  cmd.columns = {v, s};
  auto r = read(cmd);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0].values[0].cell->timestamp, 123);
  EXPECT_EQ(str(r.rows[1].values[1].cell->value), "shared");
  EXPECT_EQ(r.rows[1].values[1].cell->timestamp, 77);
}

// One table per clustering type, rows inserted in random order, read back ASC and DESC.
struct OrderCase {
  DataType type;
  std::vector<Bytes> ascending;
};

std::vector<OrderCase> order_cases() {
  auto h = [](std::string_view x) { return *from_hex(x); };
  auto u = [](const Uuid& id) { return Bytes(id.begin(), id.end()); };
  return {
      {DataType::simple(TypeId::Tinyint), {h("80"), h("ff"), h("00"), h("7f")}},
      {DataType::simple(TypeId::Smallint), {h("8000"), h("ffff"), h("0001")}},
      {DataType::simple(TypeId::Int), {i32(-100), i32(-1), i32(0), i32(5)}},
      {DataType::simple(TypeId::Bigint), {i64(-3), i64(0), i64(INT64_MAX)}},
      {DataType::simple(TypeId::Timestamp), {i64(-86400000), i64(0), i64(1700000000000)}},
      {DataType::simple(TypeId::Time), {i64(0), i64(1), i64(86399999999999)}},
      {DataType::simple(TypeId::Varint), {h("ff00"), h("80"), h("ff"), h("00"), h("0100")}},
      {DataType::simple(TypeId::Decimal),
       {h("00000001f1"), h("0000000000"), h("0000000301"), h("fffffffe01")}},
      {DataType::simple(TypeId::Float), {h("bf800000"), h("00000000"), h("3f800000")}},
      {DataType::simple(TypeId::Double),
       {h("bff0000000000000"), h("0000000000000000"), h("4000000000000000")}},
      {DataType::simple(TypeId::Boolean), {h("00"), h("01")}},
      {DataType::simple(TypeId::Varchar), {txt("A"), txt("a"), txt("ab"), txt("\xc3\xa9")}},
      {DataType::simple(TypeId::Ascii), {txt("0"), txt("Z"), txt("z")}},
      {DataType::simple(TypeId::Blob), {h("00"), h("0000"), h("ff")}},
      {DataType::simple(TypeId::Inet),
       {h("00000000000000000000000000000001"), h("0a000001"), h("7f000001")}},
      {DataType::simple(TypeId::Date), {h("7fffffff"), h("80000000"), h("80004e20")}},
      {DataType::simple(TypeId::Uuid),
       {u(make_timeuuid(5, 0, 0)), u(make_timeuuid(int64_t{1} << 40, 0, 0)),
        h("00000000000040008000000000000000"), h("ffffffffffff4fff8000000000000000")}},
      {DataType::simple(TypeId::Timeuuid),
       {u(make_timeuuid(0xFFFF, 0, 0x800000000000)), u(make_timeuuid(0xFFFF, 0, 0x010000000000)),
        u(make_timeuuid(int64_t{1} << 50, 0, 0))}},
  };
}

TEST(ClusteringOrderTest, RowsComeBackInTypeOrderAscAndDesc) {
  ManualClock time;
  StorageEngine engine(time.clock());
  ASSERT_TRUE(engine.create_keyspace({"ks", {}, true}));
  std::mt19937 rng(7);
  int n = 0;
  for (const auto& c : order_cases()) {
    for (auto order : {ClusteringOrder::Asc, ClusteringOrder::Desc}) {
      SCOPED_TRACE(::testing::Message() << "type " << static_cast<int>(c.type.id) << " order "
                                        << static_cast<int>(order));
      auto t = engine.create_table("ks", "t" + std::to_string(n++),
                                   {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                                    {"ck", c.type, ColumnKind::Clustering, order},
                                    {"v", DataType::simple(TypeId::Int)}});
      ASSERT_TRUE(t);
      const ColumnId v = (*t)->schema()->find_column("v")->id;
      std::vector<Bytes> shuffled = c.ascending;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      for (const auto& ck : shuffled) {
        Mutation mu;
        mu.partition_key = i32(1);
        mu.rows.push_back(
            RowWrite{{ck}, RowMarker{1, 0}, std::nullopt, {ColumnOp::set(v, i32(1), 1)}});
        ASSERT_TRUE((*t)->apply(mu));
      }
      std::vector<Bytes> expected = c.ascending;
      if (order == ClusteringOrder::Desc) std::reverse(expected.begin(), expected.end());
      auto r = (*t)->read(ReadCommand::partition(i32(1)));
      ASSERT_TRUE(r);
      std::vector<Bytes> got;
      for (const auto& row : r->rows) got.push_back(row.clustering[0]);
      EXPECT_EQ(got, expected);
      ReadCommand reversed = ReadCommand::partition(i32(1));
      reversed.order = ReadOrder::Reversed;
      std::reverse(expected.begin(), expected.end());
      got.clear();
      auto rr = (*t)->read(reversed);
      ASSERT_TRUE(rr);
      for (const auto& row : rr->rows) got.push_back(row.clustering[0]);
      EXPECT_EQ(got, expected);
    }
  }
}

TEST(ClusteringOrderTest, CompoundKeysMixAscAndDesc) {
  StorageEngine engine;
  ASSERT_TRUE(engine.create_keyspace({"ks", {}, true}));
  auto t = engine.create_table(
      "ks", "t",
      {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
       {"a", DataType::simple(TypeId::Int), ColumnKind::Clustering, ClusteringOrder::Asc},
       {"b", DataType::simple(TypeId::Varchar), ColumnKind::Clustering, ClusteringOrder::Desc}});
  ASSERT_TRUE(t);
  for (int a : {2, 1}) {
    for (const char* b : {"x", "z", "y"}) {
      Mutation mu;
      mu.partition_key = i32(1);
      mu.rows.push_back(RowWrite{{i32(a), txt(b)}, RowMarker{1, 0}, std::nullopt, {}});
      ASSERT_TRUE((*t)->apply(mu));
    }
  }
  ReadCommand cmd = ReadCommand::partition(i32(1));
  std::vector<std::string> got;
  auto all = (*t)->read(cmd);
  ASSERT_TRUE(all);
  for (const auto& row : all->rows) {
    got.push_back(std::to_string(as_i32(row.clustering[0])) + str(row.clustering[1]));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"1z", "1y", "1x", "2z", "2y", "2x"}));
  // Prefix equality selects a = 2 only; a range on the DESC component follows its order.
  cmd.slices = {ClusteringSlice::equal({i32(2)})};
  EXPECT_EQ((*t)->read(cmd)->rows.size(), 3u);
  cmd.slices = {ClusteringSlice{{{i32(1), txt("y")}, true}, {{i32(2), txt("z")}, true}}};
  got.clear();
  auto ranged = (*t)->read(cmd);
  ASSERT_TRUE(ranged);
  for (const auto& row : ranged->rows) {
    got.push_back(std::to_string(as_i32(row.clustering[0])) + str(row.clustering[1]));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"1y", "1x", "2z"}));
}

TEST_F(ReadTest, TokenRangesCoverEveryPartitionOnceInTokenOrder) {
  constexpr int kPartitions = 500;
  for (int pk = 0; pk < kPartitions; ++pk) update(pk, 0, {ColumnOp::set(w, i32(pk), 1)});
  // Split the ring into 7 uneven ranges (start exclusive, end inclusive).
  const std::vector<int64_t> bounds = {INT64_MIN,
                                       -6'000'000'000'000'000'000,
                                       -1'000'000'000,
                                       0,
                                       17,
                                       3'000'000'000'000'000'000,
                                       8'000'000'000'000'000'000,
                                       INT64_MAX};
  std::vector<int64_t> tokens;
  std::set<int32_t> seen;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    auto r = read(ReadCommand::token_range(bounds[i], bounds[i + 1]));
    for (const auto& row : r.rows) {
      EXPECT_GT(row.token, bounds[i]);
      EXPECT_LE(row.token, bounds[i + 1]);
      EXPECT_EQ(row.token, murmur3_token(row.partition_key).value);
      tokens.push_back(row.token);
      EXPECT_TRUE(seen.insert(as_i32(row.partition_key)).second);
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kPartitions));
  EXPECT_TRUE(std::is_sorted(tokens.begin(), tokens.end()));
  EXPECT_TRUE(read(ReadCommand::token_range(5, 5)).rows.empty());
  EXPECT_TRUE(read(ReadCommand::token_range(10, -10)).rows.empty());
}

TEST_F(ReadTest, PagingThroughTenThousandRowsReturnsEachOnce) {
  // 100 partitions x 100 rows, page size 100 (pages straddle partitions only via the state).
  for (int pk = 0; pk < 100; ++pk) {
    for (int ck = 0; ck < 100; ++ck) update(pk, ck, {ColumnOp::set(w, i32(pk * 1000 + ck), 1)});
  }
  // Plus a partition holding many rows read alone, paged reversed.
  for (int ck = 0; ck < 10000; ++ck) update(100000, ck, {ColumnOp::set(w, i32(ck), 1)});
  ReadCommand scan = ReadCommand::full_scan();
  scan.page_size = 100;
  std::set<std::pair<int32_t, int32_t>> seen;
  int pages = 0;
  int64_t last_token = INT64_MIN;
  for (;;) {
    auto r = read(scan);
    ++pages;
    ASSERT_LE(r.rows.size(), 100u);
    for (const auto& row : r.rows) {
      EXPECT_GE(row.token, last_token);
      last_token = row.token;
      EXPECT_TRUE(seen.insert({as_i32(row.partition_key), as_i32(row.clustering[0])}).second);
    }
    if (!r.paging_state) break;
    scan.paging_state = r.paging_state;
    ASSERT_LT(pages, 1000);
  }
  EXPECT_EQ(seen.size(), 20000u);

  ReadCommand one = ReadCommand::partition(i32(100000));
  one.page_size = 100;
  one.order = ReadOrder::Reversed;
  std::vector<int32_t> got;
  for (int i = 0; i < 200; ++i) {
    auto r = read(one);
    for (const auto& row : r.rows) got.push_back(as_i32(row.clustering[0]));
    if (!r.paging_state) break;
    one.paging_state = r.paging_state;
  }
  ASSERT_EQ(got.size(), 10000u);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], 9999 - i);
}

TEST_F(ReadTest, PagingKeepsLimitAndPerPartitionLimitAcrossPages) {
  for (int pk = 0; pk < 10; ++pk) {
    for (int ck = 0; ck < 10; ++ck) update(pk, ck, {ColumnOp::set(w, i32(ck), 1)});
  }
  ReadCommand scan = ReadCommand::full_scan();
  scan.page_size = 3;
  scan.limit = 20;
  scan.per_partition_limit = 4;
  size_t total = 0;
  std::map<Bytes, int> per_partition;
  for (int i = 0; i < 100; ++i) {
    auto r = read(scan);
    total += r.rows.size();
    for (const auto& row : r.rows) ++per_partition[row.partition_key];
    if (!r.paging_state) break;
    scan.paging_state = r.paging_state;
  }
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(per_partition.size(), 5u);
  for (const auto& [pk, n] : per_partition) EXPECT_EQ(n, 4);
}

TEST_F(ReadTest, RejectsMalformedPagingState) {
  ReadCommand cmd = ReadCommand::full_scan();
  cmd.paging_state = Bytes{0x00, 0x00, 0x00, 0x10, 0x01};
  auto r = table->read(cmd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Truncated);
  cmd.paging_state =
      Bytes{0, 0, 0, 1, 0x01, 0x07, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  r = table->read(cmd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Malformed);
}

TEST_F(ReadTest, StaticOnlyPartitionIsOneRowWithoutClusteringRestriction) {
  update(1, 0, {ColumnOp::set(s, txt("st"), 1)});
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_TRUE(r.rows[0].static_only);
  ReadCommand restricted = ReadCommand::partition(i32(1));
  restricted.slices.push_back(ClusteringSlice::equal({i32(0)}));
  EXPECT_TRUE(read(restricted).rows.empty());
}

TEST_F(ReadTest, DroppedColumnDataDoesNotReturnWhenReAdded) {
  update(1, 1, {ColumnOp::set(v, txt("before drop"), 1)});
  ASSERT_TRUE(engine.drop_column("ks", "t", "v"));
  EXPECT_FALSE(row_exists(1, 1));  // v was the row's only data
  ASSERT_TRUE(engine.add_column("ks", "t", {"v", DataType::simple(TypeId::Varchar)}));
  EXPECT_FALSE(row_exists(1, 1));
}

}  // namespace
}  // namespace zdm::node::test
