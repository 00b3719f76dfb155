// Hot-path helpers: request peeks, prepared-id rewriting, statement classification, tokens,
// timeuuids.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/murmur3.hpp"
#include "common/timeuuid.hpp"
#include "protocol/cql_lexer.hpp"
#include "protocol/peek.hpp"

namespace {

using namespace zdm;
using namespace zdm::protocol;

FrameHeader request(ProtocolVersion v, Opcode op) {
  FrameHeader h;
  h.version = v;
  h.opcode = op;
  h.direction = Direction::Request;
  return h;
}

void write_flags(ByteWriter& w, ProtocolVersion v, uint32_t flags) {
  if (uses_int_query_flags(v)) {
    w.write_u32(flags);
  } else {
    w.write_u8(static_cast<uint8_t>(flags));
  }
}

// A typical driver QUERY: text, LOCAL_QUORUM, page size, default timestamp (and keyspace on v5).
Bytes query_body(ProtocolVersion v) {
  Bytes b;
  ByteWriter w(b);
  w.write_long_string("SELECT id, name, email, created_at FROM app.users WHERE id = 42");
  w.write_u16(0x0006);
  const bool ks = uses_keyspace_flag(v);
  write_flags(
      w, v,
      query_flags::kPageSize | query_flags::kDefaultTimestamp | (ks ? query_flags::kKeyspace : 0));
  w.write_i32(5000);
  w.write_i64(1700000000000000);
  if (ks) w.write_string("app");
  return b;
}

Bytes execute_body(ProtocolVersion v, int values) {
  Bytes b;
  ByteWriter w(b);
  const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  w.write_short_bytes(ByteView(id));
  if (uses_prepared_metadata(v)) w.write_short_bytes(ByteView(id));
  w.write_u16(0x0006);
  write_flags(w, v,
              query_flags::kValues | query_flags::kSkipMetadata | query_flags::kPageSize |
                  query_flags::kDefaultTimestamp);
  w.write_u16(static_cast<uint16_t>(values));
  for (int i = 0; i < values; ++i) w.write_value(ValueView::set(as_bytes("value-bytes-123")));
  w.write_i32(5000);
  w.write_i64(1700000000000000);
  return b;
}

void BM_PeekQuery(benchmark::State& state, ProtocolVersion v) {
  const Bytes body = query_body(v);
  const FrameHeader h = request(v, Opcode::Query);
  for (auto _ : state) {
    auto q = peek_query(h, body);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK_CAPTURE(BM_PeekQuery, v4, ProtocolVersion::V4);
BENCHMARK_CAPTURE(BM_PeekQuery, v5, ProtocolVersion::V5);

void BM_PeekExecuteFiveValues(benchmark::State& state) {
  const Bytes body = execute_body(ProtocolVersion::V4, 5);
  const FrameHeader h = request(ProtocolVersion::V4, Opcode::Execute);
  for (auto _ : state) {
    auto e = peek_execute(h, body);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_PeekExecuteFiveValues);

void BM_ReplacePreparedId(benchmark::State& state) {
  const Bytes body = execute_body(ProtocolVersion::V4, 5);
  const FrameHeader h = request(ProtocolVersion::V4, Opcode::Execute);
  const uint8_t new_id[16] = {0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88,
                              0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
  for (auto _ : state) {
    auto r = replace_prepared_id(h, body, ByteView(new_id));
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ReplacePreparedId);

void BM_ClassifyStatement(benchmark::State& state) {
  const std::vector<std::string> statements = {
      "SELECT * FROM system.local WHERE key='local'",
      "SELECT peer, data_center, host_id, rpc_address, tokens FROM system.peers",
      "INSERT INTO app.users (id, name, email) VALUES (?, ?, ?) USING TIMESTAMP ?",
      "UPDATE app.users SET name = ? WHERE id = ?",
      "DELETE FROM app.users WHERE id = ?",
      "BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (1); APPLY BATCH",
      "USE app",
      "SELECT JSON id, writetime(name), token(id) FROM app.users WHERE token(id) > ? LIMIT 100",
  };
  size_t i = 0;
  for (auto _ : state) {
    auto info = classify_statement(statements[i]);
    benchmark::DoNotOptimize(info);
    i = (i + 1) % statements.size();
  }
}
BENCHMARK(BM_ClassifyStatement);

void BM_FindNowCalls(benchmark::State& state) {
  const std::string q = "INSERT INTO app.events (id, at, payload) VALUES (uuid(), now(), ?)";
  for (auto _ : state) {
    auto calls = find_function_calls(q, {"now", "uuid"});
    benchmark::DoNotOptimize(calls);
  }
}
BENCHMARK(BM_FindNowCalls);

void BM_Murmur3Token16(benchmark::State& state) {
  const uint8_t key[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3,
                           0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00};
  for (auto _ : state) {
    auto t = murmur3_token(ByteView(key));
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_Murmur3Token16);

void BM_TimeuuidNext(benchmark::State& state) {
  static TimeuuidGenerator gen;
  for (auto _ : state) {
    auto u = gen.next();
    benchmark::DoNotOptimize(u);
  }
}
BENCHMARK(BM_TimeuuidNext)->Threads(1)->Threads(2);

}  // namespace
