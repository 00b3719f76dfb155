#include "ops/status_view.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace zdm::ops {
namespace {

std::string readiness_text(const ProxyStatus& s) {
  if (s.ready) return "ready";
  if (s.draining) return "draining";
  return "NOT READY (" + (s.status.empty() ? std::string("?") : s.status) + ")";
}

std::string number_text(double value) {
  if (value >= 100) return fmt::format("{:.0f}", value);
  return fmt::format("{:.1f}", value);
}

std::vector<std::string> status_row(const ProxySnapshot& snap) {
  const std::string address = snap.address.to_string();
  if (snap.error || !snap.status) {
    return {address, "-", "-", "UNREACHABLE", "-", "-", "-", "-", "-", "-", "-"};
  }
  const auto& s = *snap.status;
  const int64_t generation = snap.settings ? snap.settings->generation : s.generation;
  return {
      address,
      s.phase ? std::to_string(s.phase) : "?",
      std::to_string(generation),
      readiness_text(s),
      std::to_string(s.clients),
      snap.requests_per_second ? number_text(*snap.requests_per_second) : "-",
      fmt::format("{}/{}/{}", s.failed_writes_origin, s.failed_writes_target, s.failed_writes_both),
      fmt::format("{}/{}", s.failed_reads_origin, s.failed_reads_target),
      std::to_string(s.async_read_errors),
      fmt::format("{} ({})", s.mismatches, s.compared),
      fmt::format("{}/{}", number_text(s.p99_reads_ms), number_text(s.p99_writes_ms)),
  };
}

// "primary_cluster TARGET, read_mode PRIMARY_ONLY": the routing the fleet agrees on.
std::string routing_text(const std::vector<ProxySnapshot>& snapshots) {
  for (const auto& snap : snapshots) {
    if (snap.error || !snap.settings) continue;
    return fmt::format("primary_cluster {}, read_mode {}", snap.settings->text("primary_cluster"),
                       snap.settings->text("read_mode"));
  }
  return "";
}

std::string generations_text(const std::vector<int64_t>& generations) {
  std::string out;
  for (auto g : generations) out += (out.empty() ? "" : ", ") + std::to_string(g);
  return out;
}

}  // namespace

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      if (c + 1 == width.size()) {
        out += cell;
      } else {
        out += cell + std::string(width[c] - cell.size() + 2, ' ');
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string render_status_text(const std::vector<ProxySnapshot>& snapshots,
                               const FleetSummary& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& snap : snapshots) rows.push_back(status_row(snap));
  std::string out = render_table(
      {"PROXY", "PHASE", "GEN", "STATUS", "CLIENTS", "REQ/S", "FAILED WRITES O/T/BOTH",
       "FAILED READS O/T", "ASYNC ERRORS", "MISMATCHES (COMPARED)", "P99 MS READ/WRITE"},
      rows);
  std::string agreement = summary.reachable == 0 ? "no proxy answered"
                          : summary.agree        ? "configuration agrees"
                                                 : "configuration DIFFERS between proxies";
  std::string generation =
      summary.generations.size() == 1
          ? "generation " + generations_text(summary.generations)
          : (summary.generations.empty() ? std::string("no generation")
                                         : "generations " + generations_text(summary.generations));
  out += fmt::format("\nfleet: {} of {} ready, {}, {}", summary.ready, summary.proxies, agreement,
                     generation);
  if (summary.agree && summary.reachable > 0) out += " (" + routing_text(snapshots) + ")";
  out += "\n";
  for (const auto& problem : summary.problems) out += "  - " + problem + "\n";
  return out;
}

std::string render_clients_text(const std::vector<ProxySnapshot>& snapshots) {
  std::vector<std::vector<std::string>> rows;
  size_t count = 0;
  for (const auto& snap : snapshots) {
    if (!snap.clients) continue;
    for (const auto& c : *snap.clients) {
      ++count;
      std::string driver = c.driver_name.empty() ? "(not sent)" : c.driver_name;
      if (!c.driver_version.empty()) driver += " " + c.driver_version;
      rows.push_back({snap.address.to_string(), c.address, driver,
                      c.protocol_version ? "v" + std::to_string(c.protocol_version) : "-",
                      c.keyspace.empty() ? "-" : c.keyspace, c.connected_at,
                      c.last_request_at.empty() ? "-" : c.last_request_at,
                      std::to_string(c.requests)});
    }
  }
  std::string out = fmt::format("\n{} client connection{}\n", count, count == 1 ? "" : "s");
  if (rows.empty()) return out;
  return out + render_table({"PROXY", "CLIENT", "DRIVER", "PROTOCOL", "KEYSPACE", "CONNECTED",
                             "LAST REQUEST", "REQUESTS"},
                            rows);
}

nlohmann::json status_json(const std::vector<ProxySnapshot>& snapshots, const FleetSummary& summary,
                           bool with_clients) {
  nlohmann::json proxies = nlohmann::json::array();
  for (const auto& snap : snapshots) {
    nlohmann::json p;
    p["address"] = snap.address.to_string();
    p["reachable"] = !snap.error && snap.status.has_value();
    p["error"] = snap.error ? nlohmann::json(*snap.error) : nlohmann::json();
    p["status"] = snap.status ? snap.status->raw : nlohmann::json();
    p["requests_per_second"] =
        snap.requests_per_second ? nlohmann::json(*snap.requests_per_second) : nlohmann::json();
    p["generation"] = snap.settings ? nlohmann::json(snap.settings->generation) : nlohmann::json();
    p["settings"] = snap.settings ? snap.settings->live_values() : nlohmann::json();
    if (with_clients) {
      nlohmann::json clients = nlohmann::json::array();
      if (snap.clients) {
        for (const auto& c : *snap.clients) clients.push_back(c.raw);
      }
      p["clients"] = std::move(clients);
    }
    proxies.push_back(std::move(p));
  }
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& d : summary.differences) {
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [proxy, value] : d.values) values[proxy] = value;
    differences.push_back({{"setting", d.setting}, {"values", values}});
  }
  nlohmann::json fleet{
      {"proxies", summary.proxies},
      {"reachable", summary.reachable},
      {"ready", summary.all_ready},
      {"ready_count", summary.ready},
      {"agree", summary.agree},
      {"generation",
       summary.generations.size() == 1 ? nlohmann::json(summary.generations[0]) : nlohmann::json()},
      {"generations", summary.generations},
      {"differences", differences},
      {"problems", summary.problems},
  };
  return {{"proxies", proxies}, {"fleet", fleet}};
}

int status_exit_code(const FleetSummary& summary) {
  return summary.all_ready && summary.agree ? 0 : 1;
}

}  // namespace zdm::ops
