// Live read comparison (proxy/read_comparison.hpp): what a sampled read costs the proxy on top of
// the async copy: digesting both answers and comparing them, per request.
#include <benchmark/benchmark.h>

#include "common/metrics.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/message_codec.hpp"
#include "proxy/session/read_comparison.hpp"

namespace {

using namespace zdm;
using namespace zdm::proxy;

// A v5 ROWS answer of `rows` rows (key bigint, value blob of 100 bytes), as `zdm bench` reads.
struct Answer {
  protocol::FrameHeader header;
  Bytes body;
};

Answer kv_rows(int rows) {
  protocol::RowsResult r{};
  r.metadata.global_table_spec = true;
  r.metadata.global_keyspace = std::string("zdm_bench");
  r.metadata.global_table = std::string("kv");
  r.metadata.columns = {
      {"zdm_bench", "kv", "key", protocol::DataType::simple(protocol::TypeId::Bigint)},
      {"zdm_bench", "kv", "value", protocol::DataType::simple(protocol::TypeId::Blob)}};
  r.metadata.column_count = 2;
  for (int i = 0; i < rows; ++i) {
    Bytes key(8, 0);
    key[7] = static_cast<uint8_t>(i);
    r.rows.push_back({key, Bytes(100, static_cast<uint8_t>(i))});
  }
  protocol::ResultMessage result;
  result.result = std::move(r);
  Bytes frame = protocol::encode_frame(protocol::make_response(
      protocol::ProtocolVersion::V5, protocol::StreamId{1}, protocol::ResponseBody(result)));
  auto h = protocol::decode_frame_header(frame);
  return {*h, Bytes(frame.begin() + protocol::kFrameHeaderSize, frame.end())};
}

void BM_RowsDigest(benchmark::State& state) {
  const auto answer = kv_rows(static_cast<int>(state.range(0)));
  const auto peek = peek_response(answer.header, answer.body);
  RowsDigest d;
  for (auto _ : state) {
    d.add_response(protocol::ProtocolVersion::V5, *peek);
    benchmark::DoNotOptimize(d.sum());
  }
}
BENCHMARK(BM_RowsDigest)->Arg(1)->Arg(10)->Arg(100);

// One sampled read end to end: open, the secondary's answer (peeked and digested), the primary's,
// comparison and the per-table counter.
void BM_ReadComparisonPerRequest(benchmark::State& state) {
  const auto answer = kv_rows(static_cast<int>(state.range(0)));
  metrics::Registry registry;
  auto& family = registry.counter_family("cmp_total", "help", {"keyspace", "table", "result"});
  ComparisonCounters counters(&family, "zdm_bench", "kv");
  ReadComparisons comparisons(2048, protocol::ProtocolVersion::V5);
  for (auto _ : state) {
    auto ticket = comparisons.open(&counters, "SELECT key, value FROM zdm_bench.kv WHERE key = ?");
    auto secondary = peek_response(answer.header, answer.body);
    comparisons.secondary(ticket, *secondary);
    auto primary = peek_response(answer.header, answer.body);
    comparisons.primary(ticket, *primary);
  }
  benchmark::DoNotOptimize(comparisons.count(ComparisonResult::Match));
}
BENCHMARK(BM_ReadComparisonPerRequest)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
