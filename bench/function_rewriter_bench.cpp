// Cost of ZDM_REPLACE_CQL_FUNCTIONS per request: QUERY text rewriting (with and
// without call sites), PREPARE planning, EXECUTE and BATCH value insertion
// (value generation included).
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "common/timeuuid.hpp"
#include "protocol/messages.hpp"
#include "proxy/routing/function_rewriter.hpp"

namespace {

using namespace zdm;
using namespace zdm::protocol;
using zdm::proxy::PrepareRewrite;

FrameHeader request(ProtocolVersion v, Opcode op) {
  return FrameHeader{v, Direction::Request, 0, StreamId{1}, op, 0};
}

Bytes encode(ProtocolVersion v, RequestBody body) {
  return encode_message(make_request(v, StreamId{1}, std::move(body)));
}

BoundValue int_value(uint8_t v) { return BoundValue::set(Bytes{0, 0, 0, v}); }

Bytes query_body(std::string text) {
  QueryMessage q;
  q.query = std::move(text);
  q.parameters.consistency = Consistency::LocalQuorum;
  q.parameters.values = std::vector<BoundValue>{int_value(1)};
  q.parameters.default_timestamp = 1700000000000000;
  return encode(ProtocolVersion::V4, q);
}

void run_query(benchmark::State& state, const std::string& text) {
  const Bytes body = query_body(text);
  const FrameHeader header = request(ProtocolVersion::V4, Opcode::Query);
  TimeuuidGenerator gen;
  for (auto _ : state) {
    auto out = proxy::rewrite_query_body(header, body, gen);
    benchmark::DoNotOptimize(out);
  }
}

// The common case with replacement on: a write without now()/uuid() (pre-filter
// exits).
void BM_FnRewriteQuery_NoCall(benchmark::State& state) {
  run_query(state, "INSERT INTO app.events (id, at, payload) VALUES (?, ?, 'hello world')");
}
BENCHMARK(BM_FnRewriteQuery_NoCall);

// A SELECT that mentions now(): classified and left alone.
void BM_FnRewriteQuery_Select(benchmark::State& state) {
  run_query(state, "SELECT id, payload FROM app.events WHERE id = ? AND at < now()");
}
BENCHMARK(BM_FnRewriteQuery_Select);

// A write with two call sites: lex, generate a timeuuid and a random uuid,
// re-encode the body.
void BM_FnRewriteQuery_TwoCalls(benchmark::State& state) {
  run_query(state, "INSERT INTO app.events (id, at, payload) VALUES (uuid(), now(), ?)");
}
BENCHMARK(BM_FnRewriteQuery_TwoCalls);

void BM_FnPlanPrepare(benchmark::State& state) {
  const std::string text =
      "INSERT INTO app.events (k, id, at, payload) VALUES "
      "(?, uuid(), now(), ?) USING TTL ?";
  for (auto _ : state) {
    auto plan = proxy::plan_prepare(text);
    benchmark::DoNotOptimize(plan);
  }
}
BENCHMARK(BM_FnPlanPrepare);

// EXECUTE of the statement above: three client values, two generated ones
// inserted.
void BM_FnRewriteExecute(benchmark::State& state) {
  const auto plan = proxy::plan_prepare(
      "INSERT INTO app.events (k, id, at, payload) VALUES "
      "(?, uuid(), now(), ?) USING TTL ?");
  ExecuteMessage e;
  e.id = Bytes(16, 0xAB);
  e.parameters.consistency = Consistency::LocalQuorum;
  e.parameters.values =
      std::vector<BoundValue>{int_value(1), BoundValue::set(Bytes(64, 'x')), int_value(60)};
  e.parameters.default_timestamp = 1700000000000000;
  const Bytes body = encode(ProtocolVersion::V4, e);
  const FrameHeader header = request(ProtocolVersion::V4, Opcode::Execute);
  TimeuuidGenerator gen;
  for (auto _ : state) {
    const auto values = proxy::generate_values(*plan, gen);
    auto out = proxy::rewrite_execute_body(header, body, *plan, values);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_FnRewriteExecute);

// BATCH of five prepared children of that statement.
void BM_FnRewriteBatch5(benchmark::State& state) {
  const auto plan = proxy::plan_prepare(
      "INSERT INTO app.events (k, id, at, payload) VALUES "
      "(?, uuid(), now(), ?) USING TTL ?");
  BatchMessage b;
  for (int i = 0; i < 5; ++i) {
    b.statements.push_back(
        BatchStatement{BatchStatement::Kind::Prepared,
                       "",
                       Bytes(16, 0xAB),
                       {int_value(1), BoundValue::set(Bytes(64, 'x')), int_value(60)}});
  }
  const Bytes body = encode(ProtocolVersion::V4, b);
  const FrameHeader header = request(ProtocolVersion::V4, Opcode::Batch);
  TimeuuidGenerator gen;
  const PrepareRewrite* p = &*plan;
  for (auto _ : state) {
    auto out = proxy::rewrite_batch_body(header, body, gen,
                                         [p](ByteView) -> const PrepareRewrite* { return p; });
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_FnRewriteBatch5);

void BM_FnFastRandomUuid(benchmark::State& state) {
  for (auto _ : state) {
    auto u = proxy::fast_random_uuid();
    benchmark::DoNotOptimize(u);
  }
}
BENCHMARK(BM_FnFastRandomUuid);

}  // namespace
