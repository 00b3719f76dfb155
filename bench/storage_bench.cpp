// Node storage: single-row upsert and point read on a small row (int key, int clustering, text).

#include <memory>

#include <benchmark/benchmark.h>

#include "node/storage/storage_engine.hpp"

namespace {

using namespace zdm;
using namespace zdm::node;

Bytes be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

struct BenchTable {
  StorageEngine engine;
  std::shared_ptr<Table> table;
  ColumnId value = 0;

  BenchTable() {
    using protocol::DataType;
    (void)engine.create_keyspace({"ks", {}, true});
    table = *engine.create_table(
        "ks", "t",
        {{"pk", DataType::simple(protocol::TypeId::Int), ColumnKind::PartitionKey},
         {"ck", DataType::simple(protocol::TypeId::Int), ColumnKind::Clustering},
         {"v", DataType::simple(protocol::TypeId::Varchar)}});
    value = table->schema()->find_column("v")->id;
  }
};

constexpr uint32_t kPartitions = 10000;

void BM_StorageUpsertSingleRow(benchmark::State& state) {
  BenchTable t;
  Mutation m;
  m.rows.resize(1);
  m.rows[0].clustering = {be32(1)};
  m.rows[0].marker = RowMarker{0, 0};
  const Bytes payload(32, 'x');
  int64_t ts = 1;
  uint32_t i = 0;
  for (auto _ : state) {
    m.partition_key = be32(i++ % kPartitions);
    m.rows[0].marker->timestamp = ts;
    m.rows[0].ops.assign(1, ColumnOp::set(t.value, payload, ts++));
    benchmark::DoNotOptimize(t.table->apply(m));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StorageUpsertSingleRow);

void BM_StoragePointRead(benchmark::State& state) {
  BenchTable t;
  for (uint32_t i = 0; i < kPartitions; ++i) {
    Mutation m;
    m.partition_key = be32(i);
    m.rows.push_back(RowWrite{
        {be32(1)}, RowMarker{1, 0}, std::nullopt, {ColumnOp::set(t.value, Bytes(32, 'x'), 1)}});
    (void)t.table->apply(m);
  }
  ReadCommand cmd = ReadCommand::partition({});
  cmd.slices.push_back(ClusteringSlice::equal({be32(1)}));
  uint32_t i = 0;
  for (auto _ : state) {
    cmd.partition_key = be32(i++ % kPartitions);
    auto r = t.table->read(cmd);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoragePointRead);

// Upsert then read back the same row: the pair the node's throughput target is stated in.
void BM_StorageUpsertThenRead(benchmark::State& state) {
  BenchTable t;
  Mutation m;
  m.rows.resize(1);
  m.rows[0].clustering = {be32(1)};
  const Bytes payload(32, 'x');
  ReadCommand cmd = ReadCommand::partition({});
  cmd.slices.push_back(ClusteringSlice::equal({be32(1)}));
  int64_t ts = 1;
  uint32_t i = 0;
  for (auto _ : state) {
    m.partition_key = be32(i++ % kPartitions);
    m.rows[0].ops.assign(1, ColumnOp::set(t.value, payload, ts++));
    benchmark::DoNotOptimize(t.table->apply(m));
    cmd.partition_key = m.partition_key;
    auto r = t.table->read(cmd);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StorageUpsertThenRead);

}  // namespace
