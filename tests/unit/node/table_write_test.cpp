// Write semantics of the node's storage: last-write-wins, TTLs, row markers, tombstones,
// collections, counters and compare-and-set.

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "node/storage/storage_engine.hpp"
#include "node_test_util.hpp"

namespace zdm::node::test {
namespace {

using LwwTest = TableFixture;

TEST_F(LwwTest, HigherTimestampWinsRegardlessOfArrivalOrder) {
  update(1, 1, {ColumnOp::set(v, txt("new"), 200)});
  update(1, 1, {ColumnOp::set(v, txt("old"), 100)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "new");
  EXPECT_EQ(cell(1, 1, v)->timestamp, 200);
  update(1, 1, {ColumnOp::set(v, txt("newer"), 300)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "newer");
}

TEST_F(LwwTest, GreaterValueWinsAtEqualTimestamps) {
  update(1, 1, {ColumnOp::set(v, txt("b"), 100)});
  update(1, 1, {ColumnOp::set(v, txt("a"), 100)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "b");
  update(1, 1, {ColumnOp::set(v, txt("c"), 100)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "c");
  // Values compare as unsigned bytes: 0x80 beats 0x7f.
  update(2, 1, {ColumnOp::set(v, Bytes{0x7f}, 5)});
  update(2, 1, {ColumnOp::set(v, Bytes{0x80}, 5)});
  EXPECT_EQ(cell(2, 1, v)->value, Bytes{0x80});
}

TEST_F(LwwTest, TombstoneWinsAtEqualTimestamp) {
  update(1, 1, {ColumnOp::set(v, txt("x"), 100), ColumnOp::set(w, i32(1), 100)});
  update(1, 1, {ColumnOp::remove(v, 100)});
  EXPECT_FALSE(cell(1, 1, v).has_value());
  // A later live write at the same timestamp does not resurrect it.
  update(1, 1, {ColumnOp::set(v, txt("zzz"), 100)});
  EXPECT_FALSE(cell(1, 1, v).has_value());
  update(1, 1, {ColumnOp::set(v, txt("back"), 101)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "back");
}

TEST_F(LwwTest, ExpiringCellBeatsPlainCellAtEqualTimestamp) {
  // Cassandra (CASSANDRA-14592): at equal timestamps an expiring cell wins over a non-expiring
  // one whatever the values.
  update(1, 1, {ColumnOp::set(v, txt("zzz"), 100)});
  update(1, 1, {ColumnOp::set(v, txt("aaa"), 100, 50)});
  EXPECT_EQ(str(cell(1, 1, v)->value), "aaa");
  // Between two expiring cells the later expiry wins.
  update(2, 1, {ColumnOp::set(v, txt("long"), 100, 100)});
  update(2, 1, {ColumnOp::set(v, txt("short"), 100, 10)});
  EXPECT_EQ(str(cell(2, 1, v)->value), "long");
}

TEST(CellReconcile, FollowsCassandraOrderOfRules) {
  const Cell plain_b = Cell::live(txt("b"), 10);
  const Cell plain_a = Cell::live(txt("a"), 10);
  const Cell older = Cell::live(txt("z"), 9);
  const Cell tomb = Cell::tombstone(10, 1000);
  const Cell expiring = Cell::expiring(txt("a"), 10, 60, 1000);
  EXPECT_TRUE(cell_supersedes(plain_b, plain_a));
  EXPECT_FALSE(cell_supersedes(plain_a, plain_b));
  EXPECT_FALSE(cell_supersedes(plain_b, plain_b));
  EXPECT_FALSE(cell_supersedes(older, plain_a));
  EXPECT_TRUE(cell_supersedes(tomb, plain_b));
  EXPECT_FALSE(cell_supersedes(plain_b, tomb));
  EXPECT_TRUE(cell_supersedes(tomb, expiring));
  EXPECT_TRUE(cell_supersedes(expiring, plain_b));
}

using TtlTest = TableFixture;

TEST_F(TtlTest, CellExpiresWhenInjectedClockPassesTtl) {
  update(1, 1, {ColumnOp::set(v, txt("x"), 100, 10), ColumnOp::set(w, i32(7), 100)});
  auto c = cell(1, 1, v);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ttl_remaining, 10);
  EXPECT_FALSE(cell(1, 1, w)->ttl_remaining.has_value());
  time.advance_seconds(4);
  EXPECT_EQ(cell(1, 1, v)->ttl_remaining, 6);
  time.advance_seconds(6);
  EXPECT_FALSE(cell(1, 1, v).has_value());
  EXPECT_TRUE(row_exists(1, 1));  // w is still live
}

TEST_F(TtlTest, RowWithExpiredMarkerAndCellsDisappears) {
  insert(1, 1, 100, {ColumnOp::set(v, txt("x"), 100, 5)}, 5);
  EXPECT_TRUE(row_exists(1, 1));
  time.advance_seconds(5);
  EXPECT_FALSE(row_exists(1, 1));
  EXPECT_TRUE(read_partition(1).rows.empty());
}

TEST_F(TtlTest, OverwriteWithoutTtlKeepsValueAlive) {
  update(1, 1, {ColumnOp::set(v, txt("x"), 100, 5)});
  update(1, 1, {ColumnOp::set(v, txt("y"), 101)});
  time.advance_seconds(10);
  EXPECT_EQ(str(cell(1, 1, v)->value), "y");
}

using RowMarkerTest = TableFixture;

TEST_F(RowMarkerTest, InsertedRowSurvivesNullingEveryCell) {
  insert(1, 1, 100, {ColumnOp::set(v, txt("x"), 100)});
  update(1, 1, {ColumnOp::remove(v, 200)});
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);
  for (const auto& value : r.rows[0].values) EXPECT_TRUE(value.is_null());
}

TEST_F(RowMarkerTest, UpdatedOnlyRowDisappearsWhenCellsAreDeleted) {
  update(1, 1, {ColumnOp::set(v, txt("x"), 100), ColumnOp::set(w, i32(1), 100)});
  EXPECT_TRUE(row_exists(1, 1));
  update(1, 1, {ColumnOp::remove(v, 200)});
  EXPECT_TRUE(row_exists(1, 1));
  update(1, 1, {ColumnOp::remove(w, 200)});
  EXPECT_FALSE(row_exists(1, 1));
}

TEST_F(RowMarkerTest, RowWithOnlyAMarkerIsReturned) {
  insert(1, 1, 100, {});
  EXPECT_TRUE(row_exists(1, 1));
}

using TombstoneTest = TableFixture;

TEST_F(TombstoneTest, PartitionTombstoneShadowsOlderWritesOnly) {
  update(1, 1, {ColumnOp::set(v, txt("old"), 100)});
  update(1, 2, {ColumnOp::set(v, txt("new"), 300)});
  Mutation del;
  del.partition_key = i32(1);
  del.partition_deletion = 200;
  ASSERT_TRUE(table->apply(del));
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(as_i32(r.rows[0].clustering[0]), 2);
  // A write older than the tombstone stays invisible; a newer one appears.
  update(1, 3, {ColumnOp::set(v, txt("late"), 150)});
  update(1, 4, {ColumnOp::set(v, txt("later"), 201)});
  EXPECT_FALSE(row_exists(1, 3));
  EXPECT_TRUE(row_exists(1, 4));
  // The tombstone's own timestamp is shadowed too (<=).
  update(1, 5, {ColumnOp::set(v, txt("equal"), 200)});
  EXPECT_FALSE(row_exists(1, 5));
}

TEST_F(TombstoneTest, RowTombstoneShadowsMarkerAndCellsUpToItsTimestamp) {
  insert(1, 1, 100, {ColumnOp::set(v, txt("x"), 100), ColumnOp::set(w, i32(1), 300)});
  Mutation del;
  del.partition_key = i32(1);
  del.rows.push_back(RowWrite{{i32(1)}, std::nullopt, 200, {}});
  ASSERT_TRUE(table->apply(del));
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);  // w at 300 survives
  EXPECT_TRUE(r.rows[0].values[0].is_null());
  EXPECT_EQ(as_i32(r.rows[0].values[1].cell->value), 1);
  update(1, 1, {ColumnOp::remove(w, 400)});
  EXPECT_FALSE(row_exists(1, 1));
}

TEST_F(TombstoneTest, RangeTombstoneShadowsOnlyRowsInsideTheSliceAndOlder) {
  for (int ck = 0; ck < 10; ++ck) update(1, ck, {ColumnOp::set(v, txt("x"), 100)});
  update(1, 5, {ColumnOp::set(w, i32(5), 300)});
  Mutation del;  // DELETE ... WHERE pk = 1 AND ck > 2 AND ck <= 6 USING TIMESTAMP 200
  del.partition_key = i32(1);
  del.range_deletions.push_back(
      RangeDeletion{ClusteringSlice{{{i32(2)}, false}, {{i32(6)}, true}}, 200});
  ASSERT_TRUE(table->apply(del));
  std::vector<int32_t> cks;
  for (const auto& row : read_partition(1).rows) cks.push_back(as_i32(row.clustering[0]));
  EXPECT_EQ(cks, (std::vector<int32_t>{0, 1, 2, 5, 7, 8, 9}));
  update(1, 4, {ColumnOp::set(v, txt("y"), 201)});
  EXPECT_TRUE(row_exists(1, 4));
  update(1, 3, {ColumnOp::set(v, txt("y"), 199)});
  EXPECT_FALSE(row_exists(1, 3));
}

TEST_F(TombstoneTest, StaticColumnSurvivesRowDeletionButNotPartitionDeletion) {
  update(1, 1, {ColumnOp::set(s, txt("st"), 100), ColumnOp::set(v, txt("x"), 100)});
  Mutation row_del;
  row_del.partition_key = i32(1);
  row_del.rows.push_back(RowWrite{{i32(1)}, std::nullopt, 200, {}});
  ASSERT_TRUE(table->apply(row_del));
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);  // static-only partition reads as one row
  EXPECT_TRUE(r.rows[0].static_only);
  Mutation part_del;
  part_del.partition_key = i32(1);
  part_del.partition_deletion = 200;
  ASSERT_TRUE(table->apply(part_del));
  EXPECT_TRUE(read_partition(1).rows.empty());
}

using CollectionTest = TableFixture;

std::vector<std::string> list_values(const ColumnValue& value) {
  std::vector<std::string> out;
  for (const auto& e : value.elements) out.push_back(str(e.value));
  return out;
}

std::vector<std::pair<Bytes, Bytes>> values_of(std::initializer_list<const char*> items) {
  std::vector<std::pair<Bytes, Bytes>> out;
  for (const char* item : items) out.emplace_back(Bytes{}, txt(item));
  return out;
}

TEST_F(CollectionTest, ListAppendAndPrependKeepOrder) {
  update(1, 1, {ColumnOp::collection(l, ColumnOpKind::Append, values_of({"c", "d"}), 100)});
  update(1, 1, {ColumnOp::collection(l, ColumnOpKind::Prepend, values_of({"a", "b"}), 100)});
  update(1, 1, {ColumnOp::collection(l, ColumnOpKind::Append, values_of({"e"}), 100)});
  update(1, 1, {ColumnOp::collection(l, ColumnOpKind::Prepend, values_of({"z"}), 100)});
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), 1u);
  const auto* col = r.schema->find_column("l");
  size_t idx = 0;
  while (r.columns[idx] != col) ++idx;
  EXPECT_EQ(list_values(r.rows[0].values[idx]),
            (std::vector<std::string>{"z", "a", "b", "c", "d", "e"}));
}

TEST_F(CollectionTest, ListSetAndRemoveByIndexAndValue) {
  update(1, 1,
         {ColumnOp::collection(l, ColumnOpKind::Append, values_of({"a", "b", "c", "b"}), 100)});
  ColumnOp set_index;
  set_index.column = l;
  set_index.kind = ColumnOpKind::SetIndex;
  set_index.index = 0;
  set_index.value = txt("A");
  set_index.timestamp = 101;
  update(1, 1, {set_index});
  update(1, 1, {ColumnOp::collection(l, ColumnOpKind::RemoveValues, values_of({"b"}), 102)});
  ReadCommand cmd = ReadCommand::partition(i32(1));
  cmd.columns = {l};
  EXPECT_EQ(list_values(read(cmd).rows[0].values[0]), (std::vector<std::string>{"A", "c"}));
  set_index.index = 5;
  Mutation bad;
  bad.partition_key = i32(1);
  bad.rows.push_back(RowWrite{{i32(1)},
                              std::nullopt,
                              std::nullopt,
                              {ColumnOp::set(v, txt("not applied"), 200), set_index}});
  auto result = table->apply(bad);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("out of bound"), std::string::npos);
  EXPECT_FALSE(cell(1, 1, v).has_value());  // nothing of the failed mutation was applied
}

TEST_F(CollectionTest, SetAddRemoveAndOverwriteUseTombstones) {
  auto elems = [](std::initializer_list<int32_t> xs) {
    std::vector<std::pair<Bytes, Bytes>> out;
    for (int32_t x : xs) out.emplace_back(i32(x), Bytes{});
    return out;
  };
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::AddElements, elems({3, -1, 2}), 100)});
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::RemoveElements, elems({2}), 101)});
  // An add older than the removal stays removed.
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::AddElements, elems({2}), 99)});
  ReadCommand cmd = ReadCommand::partition(i32(1));
  cmd.columns = {st};
  auto ints = [&] {
    std::vector<int32_t> out;
    auto r = read(cmd);
    if (r.rows.empty()) return out;
    for (const auto& e : r.rows[0].values[0].elements) out.push_back(as_i32(e.key));
    return out;
  };
  EXPECT_EQ(ints(), (std::vector<int32_t>{-1, 3}));  // int order, not byte order
  // Overwrite at 200: old elements gone, new ones present even at the same timestamp.
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::Overwrite, elems({7, 8}), 200)});
  EXPECT_EQ(ints(), (std::vector<int32_t>{7, 8}));
  // Delete of the whole collection at 300; an element added at 250 is shadowed.
  update(1, 1, {ColumnOp::remove(st, 300)});
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::AddElements, elems({9}), 250)});
  EXPECT_TRUE(ints().empty());
  update(1, 1, {ColumnOp::collection(st, ColumnOpKind::AddElements, elems({9}), 301)});
  EXPECT_EQ(ints(), (std::vector<int32_t>{9}));
}

TEST_F(CollectionTest, MapPutRemoveAndSerializedForm) {
  update(1, 1,
         {ColumnOp::collection(m, ColumnOpKind::AddElements,
                               {{txt("b"), i32(2)}, {txt("a"), i32(1)}}, 100)});
  update(1, 1, {ColumnOp::collection(m, ColumnOpKind::AddElements, {{txt("a"), i32(10)}}, 101)});
  update(1, 1, {ColumnOp::collection(m, ColumnOpKind::RemoveElements, {{txt("b"), {}}}, 101)});
  ReadCommand cmd = ReadCommand::partition(i32(1));
  cmd.columns = {m};
  auto r = read(cmd);
  ASSERT_EQ(r.rows.size(), 1u);
  const auto& value = r.rows[0].values[0];
  ASSERT_EQ(value.elements.size(), 1u);
  EXPECT_EQ(str(value.elements[0].key), "a");
  EXPECT_EQ(as_i32(value.elements[0].value), 10);
  EXPECT_EQ(to_hex(collection_bytes(*r.columns[0], value)), "000000010000000161000000040000000a");
}

TEST(CounterTable, DeltasSumAndDeletionWins) {
  ManualClock time;
  StorageEngine engine(time.clock());
  ASSERT_TRUE(engine.create_keyspace({"ks", {}, true}));
  using protocol::DataType;
  auto t = engine.create_table("ks", "c",
                               {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                                {"hits", DataType::simple(TypeId::Counter)}});
  ASSERT_TRUE(t);
  const ColumnId hits = (*t)->schema()->find_column("hits")->id;
  auto add = [&](int64_t delta, int64_t ts) {
    Mutation mu;
    mu.partition_key = i32(1);
    mu.rows.push_back(
        RowWrite{{}, std::nullopt, std::nullopt, {ColumnOp::counter_add(hits, delta, ts)}});
    return (*t)->apply(mu);
  };
  ASSERT_TRUE(add(5, 10));
  ASSERT_TRUE(add(-2, 5));  // counters add whatever the timestamp
  ASSERT_TRUE(add(10, 20));
  auto r = (*t)->read(ReadCommand::partition(i32(1)));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(decode_counter(r->rows[0].values[0].cell->value), 13);

  Mutation insert;
  insert.partition_key = i32(1);
  insert.rows.push_back(RowWrite{{}, RowMarker{1, 0}, std::nullopt, {}});
  EXPECT_FALSE((*t)->apply(insert));  // no INSERT on counter tables
  Mutation set;
  set.partition_key = i32(1);
  set.rows.push_back(RowWrite{{}, std::nullopt, std::nullopt, {ColumnOp::set(hits, i64(1), 1)}});
  EXPECT_FALSE((*t)->apply(set));

  Mutation del;
  del.partition_key = i32(1);
  del.rows.push_back(RowWrite{{}, std::nullopt, std::nullopt, {ColumnOp::remove(hits, 1)}});
  ASSERT_TRUE((*t)->apply(del));
  ASSERT_TRUE(add(1, 100));
  EXPECT_TRUE((*t)->read(ReadCommand::partition(i32(1)))->rows.empty());
}

TEST(CounterTable, CannotMixCounterAndRegularColumns) {
  StorageEngine engine;
  ASSERT_TRUE(engine.create_keyspace({"ks", {}, true}));
  using protocol::DataType;
  auto t = engine.create_table("ks", "c",
                               {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                                {"hits", DataType::simple(TypeId::Counter)},
                                {"name", DataType::simple(TypeId::Varchar)}});
  EXPECT_FALSE(t);
}

using CasTest = TableFixture;

TEST_F(CasTest, InsertIfNotExistsAppliesOnceAndReturnsCurrentRow) {
  auto if_not_exists = [](const ReadResult& current) { return current.rows.empty(); };
  ReadCommand cond = ReadCommand::partition(i32(1));
  cond.slices.push_back(ClusteringSlice::equal({i32(1)}));
  Mutation first;
  first.partition_key = i32(1);
  first.rows.push_back(
      RowWrite{{i32(1)}, RowMarker{100, 0}, std::nullopt, {ColumnOp::set(v, txt("first"), 100)}});
  auto a = table->compare_and_set(cond, if_not_exists, first);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->applied);
  EXPECT_TRUE(a->current.rows.empty());

  Mutation second = first;
  second.rows[0].ops = {ColumnOp::set(v, txt("second"), 200)};
  auto b = table->compare_and_set(cond, if_not_exists, second);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->applied);
  ASSERT_EQ(b->current.rows.size(), 1u);
  EXPECT_EQ(str(*&b->current.rows[0].values[0].cell->value), "first");
  EXPECT_EQ(str(cell(1, 1, v)->value), "first");
}

TEST_F(CasTest, ConditionalUpdateSeesValueUnderLock) {
  update(1, 1, {ColumnOp::set(w, i32(0), 1)});
  ReadCommand cond = ReadCommand::partition(i32(1));
  cond.slices.push_back(ClusteringSlice::equal({i32(1)}));
  cond.columns = {w};
  // Increment-by-CAS from several threads: every successful CAS moves w by exactly one.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<int64_t> ts{10};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kPerThread;) {
        const auto current = cell(1, 1, w);
        ASSERT_TRUE(current);
        const int32_t seen = as_i32(current->value);
        Mutation inc;
        inc.partition_key = i32(1);
        inc.rows.push_back(RowWrite{{i32(1)},
                                    std::nullopt,
                                    std::nullopt,
                                    {ColumnOp::set(w, i32(seen + 1), ts.fetch_add(1))}});
        auto applied = table->compare_and_set(
            cond,
            [&](const ReadResult& cur) {
              return as_i32(cur.rows.at(0).values.at(0).cell->value) == seen;
            },
            inc);
        ASSERT_TRUE(applied);
        if (applied->applied) ++done;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(as_i32(cell(1, 1, w)->value), kThreads * kPerThread);
}

}  // namespace
}  // namespace zdm::node::test
