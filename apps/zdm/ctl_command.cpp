// zdm ctl: change the routing (or any live setting) of a whole proxy fleet, proxy by proxy, and
// put every changed proxy back when one fails (src/ops/fleet_change.hpp, docs/operations.md).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "fleet_options.hpp"
#include "ops/fleet_change.hpp"

namespace zdm::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct CtlOptions {
  ops::FleetFlags fleet;
  std::string timeout = "30s";
  std::string pause = "0s";
  int phase = 0;
  std::vector<std::string> assignments;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "zdm ctl: %s\n", message.c_str());
  return kExitUsage;
}

int run_ctl(const CtlOptions& o, const nlohmann::json& settings) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm ctl"));
  spdlog::set_level(spdlog::level::warn);
  ops::ChangeOptions options;
  auto timeout = ops::parse_duration(o.timeout);
  if (!timeout || timeout->count() == 0) return usage("--timeout: expected a duration like 30s");
  auto pause = ops::parse_duration(o.pause);
  if (!pause) return usage("--pause: " + pause.error().message);
  options.ready_timeout = *timeout;
  options.pause = *pause;
  auto fleet = ops::open_fleet(o.fleet, ops::default_actor("zdm ctl"));
  if (!fleet) return usage(fleet.error().message);
  auto result = ops::change_fleet(*fleet, settings, options, [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!result.ok) {
    for (const auto& line : ops::describe_failure(result)) {
      std::fprintf(stderr, "zdm ctl: %s\n", line.c_str());
    }
    return kExitFailed;
  }
  std::string summary;
  for (const auto& [key, value] : settings.items()) {
    summary += (summary.empty() ? "" : ", ") + key + " " + ops::value_text(value);
  }
  std::printf("fleet of %zu prox%s: %s\n", fleet->proxies.size(),
              fleet->proxies.size() == 1 ? "y" : "ies", summary.c_str());
  return 0;
}

void add_fleet_options(CLI::App* cmd, CtlOptions& o) {
  add_fleet_flags(cmd, o.fleet, ", in the order they change");
  cmd->add_option("--token-file", o.fleet.token_file,
                  "the admin token's file (first line); default: $ZDM_ADMIN_TOKEN");
  cmd->add_option("--timeout", o.timeout,
                  "how long each proxy may take to be ready after its change")
      ->capture_default_str();
  cmd->add_option("--pause", o.pause,
                  "wait this long after each proxy before the next (watch the first one)")
      ->capture_default_str();
}

}  // namespace

void add_ctl_command(CLI::App& app) {
  auto o = std::make_shared<CtlOptions>();
  auto* ctl = app.add_subcommand(
      "ctl",
      "change the routing of a proxy fleet through its operations API, proxy by proxy; when one "
      "proxy fails, the ones already changed are put back (docs/operations.md).\n"
      "Token: $ZDM_ADMIN_TOKEN or --token-file. Exit codes: 0 every proxy changed and ready; 1 a "
      "proxy failed (the others were put back); 2 bad usage");
  ctl->require_subcommand(1);
  ctl->fallthrough();
  add_fleet_options(ctl, *o);

  auto* phase = ctl->add_subcommand(
      "phase", "1: origin primary; 3: origin primary, reads copied to target; 4: target primary");
  phase->add_option("phase", o->phase, "1, 3 or 4")->required();
  phase->callback([o]() {
    auto settings = ops::phase_settings(o->phase);
    if (!settings) {
      set_exit_code(usage(
          "phase " + std::to_string(o->phase) +
          ": expected 1, 3 or 4 (phase 2 routes as phase 1: use phase 1; phase 5 is zdm cutover)"));
      return;
    }
    set_exit_code(run_ctl(*o, *settings));
  });

  auto* set = ctl->add_subcommand(
      "set", "change live settings: KEY=VALUE... (YAML names, e.g. read_comparison_rate=0.1)");
  set->add_option("assignments", o->assignments, "KEY=VALUE")->required();
  set->callback([o]() {
    auto settings = ops::parse_assignments(o->assignments);
    if (!settings) {
      set_exit_code(usage(settings.error().message));
      return;
    }
    set_exit_code(run_ctl(*o, *settings));
  });

  auto* rollback =
      ctl->add_subcommand("rollback",
                          "back to origin primary, reads from origin only (primary_cluster ORIGIN, "
                          "read_mode PRIMARY_ONLY)");
  rollback->callback([o]() { set_exit_code(run_ctl(*o, ops::rollback_settings())); });
}

}  // namespace zdm::cli
