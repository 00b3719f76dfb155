// zdm cutover: can the proxy fleet be removed (phase 5)? And how applications connect to target
// directly, per driver (src/ops/cutover.hpp, docs/operations.md).
#include <cstdio>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "fleet_options.hpp"
#include "ops/cutover.hpp"

namespace zdm::cli {
namespace {

constexpr int kExitUsage = 2;

struct CutoverOptions {
  ops::FleetFlags fleet;
  bool json = false;
};

int run_cutover(const CutoverOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm cutover"));
  spdlog::set_level(spdlog::level::warn);
  auto fleet = ops::open_fleet(o.fleet, ops::default_actor("zdm cutover"));
  if (!fleet) {
    std::fprintf(stderr, "zdm cutover: %s\n", fleet.error().message.c_str());
    return kExitUsage;
  }
  ops::SnapshotOptions options;
  options.clients = true;
  const auto verdict = ops::judge_cutover(ops::take_snapshot(*fleet, options));
  const std::string out =
      o.json ? ops::cutover_json(verdict).dump(2) + "\n" : ops::render_cutover_text(verdict);
  std::fputs(out.c_str(), stdout);
  return verdict.ready ? 0 : 1;
}

}  // namespace

void add_cutover_command(CLI::App& app) {
  auto o = std::make_shared<CutoverOptions>();
  auto* cmd = app.add_subcommand(
      "cutover",
      "whether the proxy fleet can be removed (phase 5): target primary everywhere, no async-read "
      "errors, no read-comparison mismatches, no client still connected; then each driver's "
      "settings to connect to target directly (docs/operations.md).\n"
      "Exit codes: 0 READY; 1 NOT READY (the reasons are listed); 2 bad usage");
  add_fleet_flags(cmd, o->fleet);
  cmd->add_flag("--json", o->json,
                "JSON for scripts: ready, reasons, clients, target, snippets per driver");
  cmd->callback([o]() { set_exit_code(run_cutover(*o)); });
}

}  // namespace zdm::cli
