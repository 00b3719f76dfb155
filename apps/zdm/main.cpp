// zdm: one binary, one subcommand per tool. Parses arguments, builds objects, runs.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common/log_format.hpp"

int main(int argc, char** argv) {
  CLI::App app{"zdm: zero-downtime migration between Cassandra-compatible clusters"};
  app.require_subcommand(1);
  app.set_version_flag("--version", zdm::cli::kVersion);
  zdm::cli::add_token_command(app);
  zdm::cli::add_frame_command(app);
  zdm::cli::add_node_command(app);
  zdm::cli::add_proxy_command(app);
  zdm::cli::add_bench_command(app);
  zdm::cli::add_migrate_command(app);
  zdm::cli::add_preflight_command(app);
  zdm::cli::add_ctl_command(app);
  zdm::cli::add_status_command(app);
  zdm::cli::add_cutover_command(app);
  zdm::cli::add_journal_command(app);
  // ZDM_LOG_FORMAT=json: every subcommand's log as JSON lines (common/log_format.hpp).
  if (auto format = zdm::logging::apply_log_format_from_environment(); !format) {
    std::fprintf(stderr, "zdm: %s\n", format.error().message.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as scripts expect.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zdm: %s\n", e.what());
    return 1;
  }
  return zdm::cli::exit_code();
}
