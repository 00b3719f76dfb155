// The proxy's per-request routing decision (forward_decision.hpp) and prepared-cache lookups:
// both run for every request, so they must stay allocation-free and cheap.
#include <string>

#include <benchmark/benchmark.h>

#include "proxy/routing/forward_decision.hpp"
#include "proxy/routing/prepared_cache.hpp"

namespace {

using namespace zdm;
using namespace zdm::proxy;

void decide(benchmark::State& state, std::string_view cql, std::string_view keyspace) {
  const RoutingSettings settings;
  for (auto _ : state) {
    ForwardDecision d = decide_request(protocol::Opcode::Query, cql, keyspace, settings);
    benchmark::DoNotOptimize(d);
  }
}

void BM_DecideInsert(benchmark::State& state) {
  decide(state,
         "INSERT INTO app.users (id, name, email, created_at) VALUES (?, ?, ?, toTimestamp(now()))",
         "app");
}
BENCHMARK(BM_DecideInsert);

void BM_DecideSelect(benchmark::State& state) {
  decide(state, "SELECT id, name, email, created_at FROM users WHERE id = ?", "app");
}
BENCHMARK(BM_DecideSelect);

void BM_DecideSystemLocal(benchmark::State& state) {
  decide(state, "SELECT * FROM system.local WHERE key='local'", "");
}
BENCHMARK(BM_DecideSystemLocal);

void BM_PreparedCacheFind(benchmark::State& state) {
  PreparedCache cache(10000);
  for (int i = 0; i < 10000; ++i) {
    PreparedEntry e;
    const std::string id = "origin-prepared-id-" + std::to_string(i);
    e.origin_id.assign(id.begin(), id.end());
    e.target_id = e.origin_id;
    e.target_id.push_back('t');
    cache.put(std::move(e));
  }
  const std::string wanted = "origin-prepared-id-4242";
  const ByteView key = as_bytes(wanted);
  for (auto _ : state) {
    auto found = cache.find(key);
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_PreparedCacheFind)->ThreadRange(1, 2);

}  // namespace
