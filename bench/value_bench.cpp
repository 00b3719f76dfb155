// Decode and re-encode a row-like mix of CQL values: int, text, timestamp, uuid, list<text>.
#include <cstdlib>
#include <vector>

#include <benchmark/benchmark.h>

#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

namespace {

using namespace zdm;
using namespace zdm::protocol;

struct Row {
  std::vector<DataType> types;
  std::vector<Bytes> cells;
};

Row make_row() {
  Row row;
  row.types = {DataType::simple(TypeId::Int), DataType::simple(TypeId::Varchar),
               DataType::simple(TypeId::Timestamp), DataType::simple(TypeId::Uuid),
               DataType::list_of(DataType::simple(TypeId::Varchar))};
  Uuid id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i * 17);
  const Value values[] = {
      Value::int32(123456),
      Value::text("a customer name of typical length"),
      Value::int64(1'700'000'000'123),
      Value::uuid(id),
      Value::elements({Value::text("red"), Value::text("green"), Value::text("blue"),
                       Value::text("a somewhat longer tag value")}),
  };
  for (size_t i = 0; i < row.types.size(); ++i) {
    Bytes cell;
    if (!encode_value(row.types[i], values[i], cell, ProtocolVersion::V4)) std::abort();
    row.cells.push_back(std::move(cell));
  }
  return row;
}

void BM_ValueDecodeRow(benchmark::State& state) {
  Row row = make_row();
  size_t bytes = 0;
  for (const auto& c : row.cells) bytes += c.size();
  for (auto _ : state) {
    for (size_t i = 0; i < row.types.size(); ++i) {
      auto v = decode_value(row.types[i], row.cells[i], ProtocolVersion::V4);
      benchmark::DoNotOptimize(v);
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ValueDecodeRow);

void BM_ValueDecodeEncodeRow(benchmark::State& state) {
  Row row = make_row();
  Bytes out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    for (size_t i = 0; i < row.types.size(); ++i) {
      auto v = decode_value(row.types[i], row.cells[i], ProtocolVersion::V4);
      if (!v || !encode_value(row.types[i], *v, out, ProtocolVersion::V4)) std::abort();
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ValueDecodeEncodeRow);

void BM_ValueDecodeVectorFloat768(benchmark::State& state) {
  DataType type = vector_type(DataType::simple(TypeId::Float), 768);
  Value::Elements elements;
  for (int i = 0; i < 768; ++i) elements.push_back(Value::float32(static_cast<float>(i) * 0.5f));
  Bytes cell;
  if (!encode_value(type, Value::elements(std::move(elements)), cell, ProtocolVersion::V5))
    std::abort();
  for (auto _ : state) {
    auto v = decode_value(type, cell, ProtocolVersion::V5);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(cell.size()));
}
BENCHMARK(BM_ValueDecodeVectorFloat768);

}  // namespace
