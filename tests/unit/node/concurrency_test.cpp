// Concurrent use of one table from many threads.

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "node_test_util.hpp"

namespace zdm::node::test {
namespace {

using ConcurrencyTest = TableFixture;

TEST_F(ConcurrencyTest, ConcurrentWritersLoseNoDistinctCells) {
  constexpr int kThreads = 8;
  constexpr int kRowsPerThread = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRowsPerThread; ++i) {
        // Threads share partitions (i % 10) and even rows; each writes its own set element.
        Mutation mu;
        mu.partition_key = i32(i % 10);
        std::vector<std::pair<Bytes, Bytes>> element{{i32(t), {}}};
        mu.rows.push_back(
            RowWrite{{i32(i)},
                     std::nullopt,
                     std::nullopt,
                     {ColumnOp::collection(st, ColumnOpKind::AddElements, element, 1)}});
        ASSERT_TRUE(table->apply(mu));
        if (i % 7 == 0) {
          ASSERT_TRUE(table->read(ReadCommand::partition(i32(i % 10))));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ReadCommand scan = ReadCommand::full_scan();
  scan.columns = {st};
  auto r = read(scan);
  ASSERT_EQ(r.rows.size(), static_cast<size_t>(kRowsPerThread));
  for (const auto& row : r.rows)
    EXPECT_EQ(row.values[0].elements.size(), static_cast<size_t>(kThreads));
}

TEST_F(ConcurrencyTest, ConflictingWritersConvergeOnTheLwwWinner) {
  // Every thread writes every row with its own timestamp/value; the winner is decided by the
  // data (highest timestamp, then greatest value), not by thread scheduling.
  constexpr int kThreads = 6;
  constexpr int kRows = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRows; ++i) {
        const int64_t ts = (i + t) % 3;  // ties on timestamp happen often
        Mutation mu;
        mu.partition_key = i32(1);
        mu.rows.push_back(
            RowWrite{{i32(i)}, std::nullopt, std::nullopt, {ColumnOp::set(w, i32(t), ts)}});
        ASSERT_TRUE(table->apply(mu));
      }
    });
  }
  for (auto& th : threads) th.join();
  auto r = read_partition(1);
  ASSERT_EQ(r.rows.size(), static_cast<size_t>(kRows));
  for (int i = 0; i < kRows; ++i) {
    int best_t = -1;
    int64_t best_ts = -1;
    for (int t = 0; t < kThreads; ++t) {
      const int64_t ts = (i + t) % 3;
      if (ts > best_ts || (ts == best_ts && t > best_t)) {
        best_ts = ts;
        best_t = t;
      }
    }
    const auto& value = r.rows[static_cast<size_t>(i)].values[1];
    ASSERT_TRUE(value.cell);
    EXPECT_EQ(as_i32(value.cell->value), best_t) << "row " << i;
    EXPECT_EQ(value.cell->timestamp, best_ts);
  }
}

}  // namespace
}  // namespace zdm::node::test
