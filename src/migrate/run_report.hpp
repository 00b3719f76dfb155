#pragma once
// What a run did, per table and in total, and the JSON summary `--report` writes. The counts are
// this invocation's: a resumed run says how many ranges were already done before it started.

#include <cstdint>
#include <string>
#include <vector>

namespace zdm::migrate {

// Counts of one range's work, added to its table's counts when the range ends.
struct RangeCounts {
  uint64_t rows_read = 0;
  uint64_t rows_written = 0;
  uint64_t cells_written = 0;
  uint64_t writetime_estimated = 0;
  uint64_t missing = 0;
  uint64_t mismatched = 0;
  uint64_t extra = 0;
  uint64_t fixed = 0;
  // Repairs written but shadowed: target holds a deletion newer than origin's write.
  uint64_t fix_shadowed = 0;
  uint64_t target_newer = 0;
  uint64_t changed_during_validation = 0;
};

struct TableCounts : RangeCounts {
  uint64_t ranges_total = 0;
  uint64_t ranges_done = 0;
  uint64_t ranges_failed = 0;
  uint64_t ranges_done_before = 0;

  void add(const RangeCounts& r);
};

struct TableReport {
  std::string keyspace;
  std::string table;
  TableCounts counts;
};

struct RunReport {
  std::string command;
  std::string run_id;
  std::string status;  // "completed", "failed", "interrupted"
  double elapsed_s = 0;
  std::vector<TableReport> tables;

  TableCounts totals() const;
  // Differences that remain after this run (validate): missing, mismatched and extra rows not
  // fixed, and cells newer on target.
  uint64_t remaining_differences() const;
  std::string to_json() const;
};

}  // namespace zdm::migrate
