// journal_fill: writes INSERT records into a write journal, as the proxy would journal them,
// for the journal CLI's interop tests (tests/interop/journal). Not part of zdm.
//
//   journal_fill DIR --keyspace ks --rows N [--table t] [--first K] [--timestamp-base US]
//                [--cluster TARGET] [--corrupt-tail]
//
// Row i (K <= i < K+N) is `INSERT INTO <table> (id, v) VALUES (i, 'v<i>')` with write timestamp
// US + i; even rows as prepared statements (values bound), odd rows as simple statements with
// values. --corrupt-tail appends half a frame after the last record (a crash mid-write).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "journal/frame_reader.hpp"
#include "journal/journal.hpp"

namespace {

using zdm::Bytes;
using zdm::journal::RecordKind;
using zdm::journal::RecordStatement;
using zdm::journal::WriteRecord;

Bytes int_value(int32_t v) {
  Bytes b(4);
  zdm::store_be32(b.data(), static_cast<uint32_t>(v));
  return b;
}

int usage() {
  std::fprintf(stderr,
               "usage: journal_fill DIR --keyspace KS --rows N [--table T] [--first K] "
               "[--timestamp-base US] [--cluster TARGET|ORIGIN] [--corrupt-tail]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string dir = argv[1];
  std::string keyspace;
  std::string table = "t";
  std::string cluster = "TARGET";
  long rows = -1;
  long first = 0;
  long long base = 1'600'000'000'000'000LL;
  bool corrupt_tail = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--keyspace") {
      keyspace = value();
    } else if (a == "--rows") {
      rows = std::atol(value().c_str());
    } else if (a == "--table") {
      table = value();
    } else if (a == "--first") {
      first = std::atol(value().c_str());
    } else if (a == "--timestamp-base") {
      base = std::atoll(value().c_str());
    } else if (a == "--cluster") {
      cluster = value();
    } else if (a == "--corrupt-tail") {
      corrupt_tail = true;
    } else {
      return usage();
    }
  }
  if (keyspace.empty() || rows < 0) return usage();
  zdm::journal::JournalOptions options;
  options.dir = dir;
  auto journal = zdm::journal::Journal::open(options);
  if (!journal) {
    std::fprintf(stderr, "journal_fill: %s\n", journal.error().message.c_str());
    return 1;
  }
  WriteRecord last;
  for (long i = first; i < first + rows; ++i) {
    const auto id = static_cast<int32_t>(i);
    WriteRecord r;
    r.cluster = cluster;
    r.keyspace = keyspace;
    r.consistency = zdm::protocol::Consistency::LocalQuorum;
    r.timestamp = base + i;
    r.created_ms = base / 1000 + i;
    r.reason = "timeout";
    RecordStatement s;
    s.query = "INSERT INTO " + table + " (id, v) VALUES (?, ?)";
    s.prepared = i % 2 == 0;
    r.kind = s.prepared ? RecordKind::Execute : RecordKind::Query;
    std::string text = "v" + std::to_string(i);
    s.values.push_back(zdm::protocol::BoundValue::set(int_value(id)));
    s.values.push_back(zdm::protocol::BoundValue::set(Bytes(text.begin(), text.end())));
    r.statements.push_back(std::move(s));
    if (auto error = (*journal)->append(r)) {
      std::fprintf(stderr, "journal_fill: %s\n", (*journal)->last_error().c_str());
      return 1;
    }
    last = std::move(r);
  }
  if (auto synced = (*journal)->sync(); !synced) {
    std::fprintf(stderr, "journal_fill: %s\n", synced.error().message.c_str());
    return 1;
  }
  journal->reset();
  if (corrupt_tail) {
    // Half of a frame after the last record of the newest segment.
    std::filesystem::path newest;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      auto name = e.path().filename().string();
      if (name.rfind("segment-", 0) == 0 && (newest.empty() || e.path() > newest))
        newest = e.path();
    }
    Bytes frame(zdm::journal::kFrameHeaderSize);
    zdm::journal::encode_record_into(last, frame);
    zdm::journal::patch_frame_header(frame, 0);
    std::ofstream out(newest, std::ios::app | std::ios::binary);
    out.write(reinterpret_cast<const char*>(frame.data()),
              static_cast<std::streamsize>(frame.size() / 2));
  }
  std::printf("journal_fill: %ld record(s) in %s\n", rows, dir.c_str());
  return 0;
}
