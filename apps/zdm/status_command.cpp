// zdm status: the proxy fleet on one screen (or as JSON), from each proxy's operations API
// (src/ops/status_view.hpp, docs/operations.md).
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "fleet_options.hpp"
#include "ops/status_view.hpp"

namespace zdm::cli {
namespace {

constexpr int kExitUsage = 2;

struct StatusOptions {
  ops::FleetFlags fleet;
  std::string interval = "1s";
  bool json = false;
  bool clients = false;
};

int run_status(const StatusOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm status"));
  spdlog::set_level(spdlog::level::warn);
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "zdm status: %s\n", message.c_str());
    return kExitUsage;
  };
  auto interval = ops::parse_duration(o.interval);
  if (!interval) return usage("--interval: " + interval.error().message);
  auto fleet = ops::open_fleet(o.fleet, ops::default_actor("zdm status"));
  if (!fleet) return usage(fleet.error().message);
  ops::SnapshotOptions options;
  options.clients = o.clients;
  options.rate_interval = *interval;
  const auto snapshots = ops::take_snapshot(*fleet, options);
  const auto summary = ops::summarize(snapshots);
  std::string out;
  if (o.json) {
    out = ops::status_json(snapshots, summary, o.clients).dump(2) + "\n";
  } else {
    out = ops::render_status_text(snapshots, summary);
    if (o.clients) out += ops::render_clients_text(snapshots);
  }
  std::fputs(out.c_str(), stdout);
  return ops::status_exit_code(summary);
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  auto* cmd = app.add_subcommand(
      "status",
      "one screen for a proxy fleet: phase, generation, readiness, clients, requests/s, failures, "
      "read comparison, p99 latencies, and whether the proxies agree (docs/operations.md).\n"
      "Exit codes: 0 every proxy ready and the same live settings everywhere; 1 a proxy is "
      "unreachable or not ready, or the proxies disagree; 2 bad usage");
  add_fleet_flags(cmd, o->fleet);
  cmd->add_option("--interval", o->interval,
                  "requests/s: two samples this far apart (0: no rate, one sample)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "JSON for scripts: {\"proxies\": [...], \"fleet\": {...}}");
  cmd->add_flag("--clients", o->clients,
                "also every client connection: driver, protocol, keyspace, requests");
  cmd->callback([o]() { set_exit_code(run_status(*o)); });
}

}  // namespace zdm::cli
