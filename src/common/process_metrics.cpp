#include "common/process_metrics.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace zdm::metrics {

namespace {

std::vector<std::string_view> split_spaces(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<double> to_double(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return static_cast<double>(v);
}

Result<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::Io, fmt::format("cannot open {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<ProcessStats> parse_proc_stat(std::string_view stat, double ticks_per_second,
                                     double page_size, double boot_time_seconds) {
  // Field 2 (comm) is parenthesised and may hold spaces or ')': the fields resume after the last
  // ')'. Counting from field 3 (state) as index 0: utime=11, stime=12, starttime=19, vsize=20,
  // rss=21.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos)
    return fail(Errc::Malformed, "/proc stat: no ')' after comm");
  const auto fields = split_spaces(stat.substr(close + 1));
  if (fields.size() < 22) {
    return fail(Errc::Truncated,
                fmt::format("/proc stat: {} fields after comm, need 22", fields.size()));
  }
  const auto utime = to_double(fields[11]);
  const auto stime = to_double(fields[12]);
  const auto start = to_double(fields[19]);
  const auto vsize = to_double(fields[20]);
  const auto rss = to_double(fields[21]);
  if (!utime || !stime || !start || !vsize || !rss || ticks_per_second <= 0) {
    return fail(Errc::Malformed, "/proc stat: non-numeric cpu, start or memory field");
  }
  ProcessStats stats;
  stats.cpu_seconds = (*utime + *stime) / ticks_per_second;
  stats.start_time_seconds = boot_time_seconds + *start / ticks_per_second;
  stats.virtual_memory_bytes = *vsize;
  stats.resident_memory_bytes = *rss * page_size;
  return stats;
}

Result<double> parse_boot_time(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    auto eol = proc_stat.find('\n', pos);
    if (eol == std::string_view::npos) eol = proc_stat.size();
    const auto line = proc_stat.substr(pos, eol - pos);
    if (line.starts_with("btime ")) {
      const auto parts = split_spaces(line);
      if (parts.size() >= 2) {
        if (auto v = to_double(parts[1])) return *v;
      }
      return fail(Errc::Malformed, "/proc/stat: unreadable btime line");
    }
    pos = eol + 1;
  }
  return fail(Errc::Malformed, "/proc/stat: no btime line");
}

Result<double> parse_max_open_files(std::string_view limits) {
  constexpr std::string_view kKey = "Max open files";
  const auto pos = limits.find(kKey);
  if (pos == std::string_view::npos) return fail(Errc::Malformed, "limits: no 'Max open files'");
  auto eol = limits.find('\n', pos);
  if (eol == std::string_view::npos) eol = limits.size();
  const auto parts = split_spaces(limits.substr(pos + kKey.size(), eol - pos - kKey.size()));
  if (parts.empty()) return fail(Errc::Malformed, "limits: empty 'Max open files' line");
  if (parts[0] == "unlimited") return INFINITY;
  if (auto v = to_double(parts[0])) return *v;
  return fail(Errc::Malformed, "limits: non-numeric 'Max open files'");
}

Result<ProcessStats> read_process_stats() {
  auto stat = read_file("/proc/self/stat");
  if (!stat) return tl::unexpected(stat.error());
  auto global = read_file("/proc/stat");
  if (!global) return tl::unexpected(global.error());
  auto boot = parse_boot_time(*global);
  if (!boot) return tl::unexpected(boot.error());
  auto stats = parse_proc_stat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                               static_cast<double>(sysconf(_SC_PAGESIZE)), *boot);
  if (!stats) return stats;

  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (!ec) {
    double count = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      ++count;
    }
    // The iterator's own directory handle is one of the entries; the Go collector counts it too.
    if (!ec) stats->open_fds = count;
  }
  if (auto limits = read_file("/proc/self/limits")) {
    if (auto max = parse_max_open_files(*limits)) stats->max_fds = *max;
  }
  return stats;
}

void register_process_metrics(Registry& registry) {
  registry.add_collector([](std::vector<FamilySnapshot>& out) {
    auto stats = read_process_stats();
    if (!stats) return;
    auto add = [&out](const char* name, const char* help, MetricType type, double value) {
      auto& family = out.emplace_back();
      family.name = name;
      family.help = help;
      family.type = type;
      family.samples.emplace_back().value = value;
    };
    add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        MetricType::Counter, stats->cpu_seconds);
    add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
        stats->resident_memory_bytes);
    add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
        stats->virtual_memory_bytes);
    add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge, stats->start_time_seconds);
    if (stats->open_fds) {
      add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
          *stats->open_fds);
    }
    if (stats->max_fds) {
      add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
          *stats->max_fds);
    }
  });
}

}  // namespace zdm::metrics
