#pragma once
// process_* metrics with the names and meaning of Prometheus' process collector, read from /proc
// at scrape time (Linux only; on read failure the affected metrics are simply left out).

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/metrics.hpp"
#include "common/result.hpp"

namespace zdm::metrics {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // unix time
  std::optional<double> open_fds;
  std::optional<double> max_fds;  // soft limit; +Inf when unlimited
};

// Parses /proc/<pid>/stat content. `ticks_per_second` (sysconf(_SC_CLK_TCK)), `page_size` and
// `boot_time_seconds` (btime of /proc/stat) convert its units.
Result<ProcessStats> parse_proc_stat(std::string_view stat, double ticks_per_second,
                                     double page_size, double boot_time_seconds);
// The "btime" line of /proc/stat.
Result<double> parse_boot_time(std::string_view proc_stat);
// The soft "Max open files" limit of /proc/<pid>/limits.
Result<double> parse_max_open_files(std::string_view limits);

// Reads everything for the current process.
Result<ProcessStats> read_process_stats();

// Adds a collector producing process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and process_start_time_seconds.
// These names carry no namespace prefix, as in the Go client.
void register_process_metrics(Registry& registry);

}  // namespace zdm::metrics
