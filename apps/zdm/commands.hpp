#pragma once
// The zdm subcommands. Each add_*_command registers itself on the app; the callback runs it and
// records the process exit code.

#include <CLI/CLI.hpp>

namespace zdm::cli {

inline constexpr const char* kVersion = "zdm 0.1.0";

void add_token_command(CLI::App& app);
void add_frame_command(CLI::App& app);
void add_node_command(CLI::App& app);
void add_proxy_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_migrate_command(CLI::App& app);
void add_preflight_command(CLI::App& app);
void add_ctl_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_cutover_command(CLI::App& app);
void add_journal_command(CLI::App& app);

// Exit code set by the subcommand that ran (0 when it succeeded).
int exit_code();
void set_exit_code(int code);

}  // namespace zdm::cli
