// The write journal (src/journal): cost of one append of a typical ~200-byte INSERT record
// (encode into the reused buffer, frame, write(2), fsync batched every 100 ms or on every
// append), and the rate of reading and decoding records back for replay. Files go to $TMPDIR.
#include <stdlib.h>

#include <filesystem>

#include <benchmark/benchmark.h>

#include "journal/journal.hpp"

namespace {

using namespace zdm;
using namespace zdm::journal;

WriteRecord typical_insert(int32_t id) {
  WriteRecord r;
  r.kind = RecordKind::Execute;
  r.cluster = "TARGET";
  r.keyspace = "shop";
  r.timestamp = 1'700'000'000'000'000 + id;
  r.created_ms = 1'700'000'000'000 + id;
  r.reason = "timeout";
  RecordStatement s;
  s.query = "INSERT INTO orders (id, customer, total, note) VALUES (?, ?, ?, ?)";
  s.prepared = true;
  s.prepared_id = Bytes(16, 0xAB);
  Bytes id_bytes(4);
  store_be32(id_bytes.data(), static_cast<uint32_t>(id));
  s.values.push_back(protocol::BoundValue::set(id_bytes));
  s.values.push_back(protocol::BoundValue::set(Bytes(24, 'c')));
  s.values.push_back(protocol::BoundValue::set(Bytes(8, 1)));
  s.values.push_back(protocol::BoundValue::set(Bytes(40, 'n')));
  r.statements.push_back(std::move(s));
  return r;
}

std::filesystem::path temp_dir() {
  std::string templ =
      (std::filesystem::temp_directory_path() / "zdm-journal-bench-XXXXXX").string();
  return mkdtemp(templ.data());
}

void BM_JournalAppend(benchmark::State& state) {
  const auto dir = temp_dir();
  JournalOptions o;
  o.dir = dir;
  o.sync_interval = std::chrono::milliseconds(state.range(0));
  o.max_bytes = 1ull << 40;
  auto j = Journal::open(o);
  if (!j) {
    state.SkipWithError(j.error().message.c_str());
    return;
  }
  WriteRecord r = typical_insert(1);
  const auto frame = kFrameHeaderSize + encode_record(r).size();
  for (auto _ : state) {
    if ((*j)->append(r)) {
      state.SkipWithError((*j)->last_error().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame));
  state.counters["frame_bytes"] = static_cast<double>(frame);
  j->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalAppend)->Arg(100)->ArgName("sync_ms")->UseRealTime();
BENCHMARK(BM_JournalAppend)->Arg(0)->ArgName("sync_ms")->UseRealTime()->MinTime(1.0);

void BM_JournalReadDecode(benchmark::State& state) {
  const auto dir = temp_dir();
  JournalOptions o;
  o.dir = dir;
  auto j = Journal::open(o);
  if (!j) {
    state.SkipWithError(j.error().message.c_str());
    return;
  }
  constexpr int kRecords = 100'000;
  for (int i = 0; i < kRecords; ++i) (void)(*j)->append(typical_insert(i));
  (void)(*j)->sync();
  int64_t records = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    JournalPosition pos = (*j)->cursor();
    while (true) {
      auto e = (*j)->read_next(pos);
      if (!e || !*e) break;
      ++records;
      bytes += static_cast<int64_t>((*e)->bytes);
      pos = (*e)->next;
    }
  }
  state.SetItemsProcessed(records);
  state.SetBytesProcessed(bytes);
  j->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_JournalReadDecode)->Unit(benchmark::kMillisecond);

}  // namespace
