#pragma once
// Helpers of the journal tests: a temporary directory and record builders.

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "journal/write_record.hpp"

namespace zdm::journal::testing {

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "zdm-journal-XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Bytes int_bytes(int32_t v) {
  Bytes b(4);
  store_be32(b.data(), static_cast<uint32_t>(v));
  return b;
}

// An INSERT of about 200 encoded bytes, the typical record.
inline WriteRecord insert_record(int32_t id, int64_t timestamp = 1'700'000'000'000'000) {
  WriteRecord r;
  r.kind = RecordKind::Execute;
  r.cluster = "TARGET";
  r.keyspace = "shop";
  r.timestamp = timestamp + id;
  r.created_ms = 1'700'000'000'000 + id;
  r.reason = "timeout";
  RecordStatement s;
  s.query = "INSERT INTO orders (id, customer, total, note) VALUES (?, ?, ?, ?)";
  s.prepared = true;
  s.prepared_id = Bytes(16, 0xAB);
  s.values.push_back(protocol::BoundValue::set(int_bytes(id)));
  s.values.push_back(protocol::BoundValue::set(Bytes(24, 'c')));
  s.values.push_back(protocol::BoundValue::set(int_bytes(id * 10)));
  s.values.push_back(protocol::BoundValue::set(Bytes(40, 'n')));
  r.statements.push_back(std::move(s));
  return r;
}

}  // namespace zdm::journal::testing
