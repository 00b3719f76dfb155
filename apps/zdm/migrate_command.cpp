// zdm migrate / zdm validate: copy origin's rows to target keeping each cell's writetime and TTL,
// and prove both clusters hold the same rows. Cluster settings are the proxy's (ZDM_ORIGIN_*,
// ZDM_TARGET_* or its YAML file); see docs/migrate.md.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "admin/admin_endpoints.hpp"
#include "admin/http_server.hpp"
#include "client/session.hpp"
#include "cluster_settings.hpp"
#include "commands.hpp"
#include "common/metrics.hpp"
#include "common/process_metrics.hpp"
#include "migrate/runner.hpp"
#include "ops/progress_reporter.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::cli {
namespace {

namespace asio = boost::asio;

struct MigrateCliOptions {
  std::string config_path;
  std::string origin;
  std::string target;
  std::string keyspaces;
  std::string tables;
  std::string read_consistency = "LOCAL_QUORUM";
  std::string write_consistency = "LOCAL_QUORUM";
  std::string report_path;
  std::string fix;
  std::string writetime_tolerance = "1s";
  std::string ttl_tolerance = "5s";
  std::string lease = "60s";
  std::string progress = "auto";
  int metrics_port = -1;
  std::string report_to;  // proxies' admin addresses (their status page shows the progress)
  int request_timeout_ms = 12000;
  migrate::RunOptions run;
};

constexpr int kExitBadUsage = 2;

// "1s", "500ms", "2m", "0": milliseconds.
std::optional<int64_t> parse_duration_ms(const std::string& text) {
  size_t end = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &end);
  } catch (...) {
    return std::nullopt;
  }
  std::string unit = text.substr(end);
  if (value < 0) return std::nullopt;
  if (unit.empty() || unit == "s") return value * 1000;
  if (unit == "ms") return value;
  if (unit == "m") return value * 60'000;
  return std::nullopt;
}

int run_migrate(MigrateCliOptions opts) {
  spdlog::set_default_logger(spdlog::stderr_color_mt(
      std::string("zdm ") + std::string(migrate::command_name(opts.run.command))));
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "zdm: %s\n", message.c_str());
    return kExitBadUsage;
  };
  // Settings that need parsing.
  auto read_cl = protocol::consistency_from_name(opts.read_consistency);
  auto write_cl = protocol::consistency_from_name(opts.write_consistency);
  if (!read_cl)
    return usage("--read-consistency: unknown consistency level '" + opts.read_consistency + "'");
  if (!write_cl)
    return usage("--write-consistency: unknown consistency level '" + opts.write_consistency + "'");
  opts.run.job.read_consistency = *read_cl;
  opts.run.job.write_consistency = *write_cl;
  auto wt_tol = parse_duration_ms(opts.writetime_tolerance);
  auto ttl_tol = parse_duration_ms(opts.ttl_tolerance);
  auto lease = parse_duration_ms(opts.lease);
  if (!wt_tol) return usage("--writetime-tolerance: expected a duration like 1s or 500ms");
  if (!ttl_tol) return usage("--ttl-tolerance: expected a duration like 5s");
  if (!lease || *lease < 1000) return usage("--lease: expected a duration of at least 1s");
  opts.run.job.writetime_tolerance_us = *wt_tol * 1000;
  opts.run.job.ttl_tolerance_s = static_cast<int32_t>(*ttl_tol / 1000);
  opts.run.lease = std::chrono::milliseconds(*lease);
  for (const auto& kind : proxy::split_list(opts.fix)) {
    if (kind == "missing")
      opts.run.job.fix.missing = true;
    else if (kind == "mismatch")
      opts.run.job.fix.mismatch = true;
    else if (kind == "extra")
      opts.run.job.fix.extra = true;
    else
      return usage("--fix: unknown kind '" + kind + "' (missing, mismatch, extra)");
  }
  opts.run.keyspaces = proxy::split_list(opts.keyspaces);
  opts.run.tables = proxy::split_list(opts.tables);
  if (opts.run.keyspaces.empty() && opts.run.tables.empty() && opts.run.keys_from.empty()) {
    return usage("nothing to do: give --keyspaces and/or --tables");
  }
  if (opts.run.workers == 0 || opts.run.workers > 1024) return usage("--workers: 1 to 1024");
  if (opts.run.job.page_size <= 0) return usage("--page-size must be positive");
  if (opts.run.resume && !opts.run.run_id.empty())
    return usage("--resume and --run-id: give one of them");
  opts.run.progress_line =
      opts.progress == "always" || (opts.progress == "auto" && isatty(STDERR_FILENO));

  // Cluster settings, as the proxy reads them.
  auto loaded = load_cluster_config(opts.config_path, opts.origin, opts.target);
  if (!loaded) return usage("invalid configuration: " + loaded.error().message);
  const proxy::ProxyConfig& config = *loaded;
  SessionDefaults defaults;
  defaults.request_timeout = std::chrono::milliseconds(opts.request_timeout_ms);
  defaults.consistency = opts.run.job.read_consistency;
  defaults.driver_name = "zdm-migrate";
  auto origin_options = session_options(config, proxy::ClusterType::Origin, defaults);
  if (!origin_options) return usage(origin_options.error().message);
  auto target_options = session_options(config, proxy::ClusterType::Target, defaults);
  if (!target_options) return usage(target_options.error().message);

  asio::io_context io{1};
  metrics::Registry registry;
  std::unique_ptr<admin::HttpServer> http;
  std::unique_ptr<admin::AdminEndpoints> endpoints;
  if (opts.metrics_port >= 0) {
    metrics::register_process_metrics(registry);  // CPU, memory, fds: the process dashboard
    admin::HttpServerOptions ho;
    ho.host = config.metrics_address;
    ho.port = static_cast<uint16_t>(opts.metrics_port);
    ho.address_setting = "--metrics-port";
    http = std::make_unique<admin::HttpServer>(io, ho);
    endpoints = std::make_unique<admin::AdminEndpoints>(*http, registry);
    if (auto started = http->start(); !started) return usage(started.error().message);
    spdlog::info("metrics on {}:{}/metrics", ho.host, http->port());
  }

  std::unique_ptr<ops::ProgressReporter> reporter;
  if (!opts.report_to.empty()) {
    std::vector<ops::AdminAddress> proxies;
    for (const auto& item : proxy::split_list(opts.report_to)) {
      auto address = ops::parse_admin_address(item);
      if (!address) return usage("--report-to: " + address.error().message);
      proxies.push_back(*address);
    }
    ops::AdminClientOptions ao;
    ao.timeout = std::chrono::milliseconds(2000);
    if (const char* token = std::getenv("ZDM_ADMIN_TOKEN")) ao.token = token;
    ao.actor = std::string("zdm ") + std::string(migrate::command_name(opts.run.command));
    reporter = std::make_unique<ops::ProgressReporter>(std::move(proxies), std::move(ao));
  }

  int exit_code = 1;
  std::shared_ptr<migrate::Runner> runner;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool interrupted = false;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    interrupted = true;
    spdlog::warn("{}: stopping: ranges in flight are released and the run's state saved",
                 signal == SIGINT ? "SIGINT" : "SIGTERM");
    if (runner) runner->request_stop();
  });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Not co_await inside ?: (GCC 12 destroys its temporaries twice).
        auto astra = co_await resolve_astra(*origin_options, "ORIGIN");
        if (astra) astra = co_await resolve_astra(*target_options, "TARGET");
        if (!astra) {
          std::fprintf(stderr, "zdm: %s\n", astra.error().message.c_str());
          exit_code = kExitBadUsage;
          co_return;
        }
        auto origin = co_await client::Session::connect(origin_options->session);
        if (!origin) {
          std::fprintf(
              stderr, "zdm: %s\n",
              describe_connect_failure("ORIGIN", origin_options->session, origin.error()).c_str());
          exit_code = kExitBadUsage;
          co_return;
        }
        auto target = co_await client::Session::connect(target_options->session);
        if (!target) {
          std::fprintf(
              stderr, "zdm: %s\n",
              describe_connect_failure("TARGET", target_options->session, target.error()).c_str());
          exit_code = kExitBadUsage;
          (*origin)->close();
          co_return;
        }
        migrate::RunOptions run = opts.run;
        if (reporter) {
          run.on_progress = [r = reporter.get()](const migrate::ProgressSnapshot& p) {
            r->update(p);
          };
        }
        runner = std::make_shared<migrate::Runner>(*origin, *target, std::move(run), &registry);
        if (interrupted) runner->request_stop();
        auto outcome = co_await runner->run();
        exit_code = outcome.exit_code;
        if (!outcome.message.empty()) std::fprintf(stderr, "zdm: %s\n", outcome.message.c_str());
        if (opts.run.schema_only && exit_code == 0) {
          std::printf("migrate --schema-only: the schema is on target; no rows copied\n");
        } else if (exit_code != kExitBadUsage || !outcome.report.run_id.empty()) {
          auto totals = outcome.report.totals();
          std::printf(
              "%s %s: %s in %.1fs: %llu rows read, %llu written, ranges %llu done + %llu before, "
              "%llu failed",
              outcome.report.command.c_str(), outcome.report.run_id.c_str(),
              outcome.report.status.c_str(), outcome.report.elapsed_s,
              static_cast<unsigned long long>(totals.rows_read),
              static_cast<unsigned long long>(totals.rows_written),
              static_cast<unsigned long long>(totals.ranges_done),
              static_cast<unsigned long long>(totals.ranges_done_before),
              static_cast<unsigned long long>(totals.ranges_failed));
          if (opts.run.command == migrate::Command::Validate) {
            std::printf(
                ", missing %llu, mismatched %llu, extra %llu, target_newer %llu, fixed %llu "
                "(%llu shadowed by newer deletions on target), changed during validation %llu",
                static_cast<unsigned long long>(totals.missing),
                static_cast<unsigned long long>(totals.mismatched),
                static_cast<unsigned long long>(totals.extra),
                static_cast<unsigned long long>(totals.target_newer),
                static_cast<unsigned long long>(totals.fixed),
                static_cast<unsigned long long>(totals.fix_shadowed),
                static_cast<unsigned long long>(totals.changed_during_validation));
          }
          std::printf("\n");
        }
        if (!opts.report_path.empty() && exit_code != kExitBadUsage) {
          std::ofstream out(opts.report_path, std::ios::out | std::ios::trunc);
          out << outcome.report.to_json() << '\n';
          if (!out)
            std::fprintf(stderr, "zdm: cannot write the report to %s\n", opts.report_path.c_str());
        }
        (*origin)->close();
        (*target)->close();
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            std::fprintf(stderr, "zdm: %s\n", ex.what());
          }
          exit_code = 1;
        }
        signals.cancel();
        if (http) http->stop();
        io.stop();
      });
  io.run();
  return exit_code;
}

void add_common_options(CLI::App* cmd, MigrateCliOptions& o) {
  cmd->add_option(
      "--config", o.config_path,
      "the proxy's YAML file (ZDM_* settings); without it, ZDM_* environment variables");
  cmd->add_option(
      "--origin", o.origin,
      "origin contact points HOST[:PORT][,...] (overrides ZDM_ORIGIN_CONTACT_POINTS/PORT)");
  cmd->add_option(
      "--target", o.target,
      "target contact points HOST[:PORT][,...] (overrides ZDM_TARGET_CONTACT_POINTS/PORT)");
  cmd->add_option("--keyspaces", o.keyspaces, "every table of these keyspaces (comma-separated)");
  cmd->add_option("--tables", o.tables, "these tables, as ks.table (comma-separated)");
  cmd->add_option("--workers", o.run.workers, "ranges processed at once")->capture_default_str();
  cmd->add_option("--parallel-tables", o.run.parallel_tables, "tables processed at once")
      ->capture_default_str();
  cmd->add_option("--splits", o.run.splits,
                  "ranges per table (default: 16 per worker, at least 64)");
  cmd->add_option("--page-size", o.run.job.page_size, "rows per page of a range read")
      ->capture_default_str();
  cmd->add_option("--read-consistency", o.read_consistency, "consistency of reads")
      ->capture_default_str();
  cmd->add_option("--write-consistency", o.write_consistency,
                  "consistency of every write to target")
      ->capture_default_str();
  cmd->add_option("--max-rows-per-second", o.run.max_rows_per_second,
                  "rows read per second per cluster (0: no limit)");
  cmd->add_option("--run-id", o.run.run_id,
                  "join or create this run (several processes may share one)");
  cmd->add_flag("--resume", o.run.resume,
                "continue the newest unfinished run of the same command and scope");
  cmd->add_option("--lease", o.lease, "how long a claimed range stays a worker's without renewal")
      ->capture_default_str();
  cmd->add_option("--retries", o.run.retries, "attempts per range before it is marked failed")
      ->capture_default_str();
  cmd->add_option("--request-timeout-ms", o.request_timeout_ms,
                  "client-side timeout of one request")
      ->capture_default_str();
  cmd->add_option("--report", o.report_path, "write the JSON summary to this file");
  cmd->add_option("--report-to", o.report_to,
                  "send the progress every 2 s to these proxies' admin ports (host:port, "
                  "comma-separated; token from ZDM_ADMIN_TOKEN): their status page shows it");
  cmd->add_option("--metrics-port", o.metrics_port,
                  "serve Prometheus metrics on this port (0: any free port)");
  cmd->add_option("--progress", o.progress, "auto|always|never: a live progress line on stderr")
      ->capture_default_str();
}

}  // namespace

void add_migrate_command(CLI::App& app) {
  auto opts = std::make_shared<MigrateCliOptions>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "copy origin's rows to target, keeping each cell's writetime and TTL (docs/migrate.md).\n"
      "Exit codes: 0 every range copied; 1 ranges failed or interrupted (resume with --resume); 2 "
      "bad "
      "usage, configuration, connection or schema problems (nothing written)");
  add_common_options(cmd, *opts);
  cmd->add_option("--batch-size", opts->run.job.batch_size,
                  "rows of one range per UNLOGGED batch, under 4 KiB (1: every row alone)")
      ->capture_default_str();
  cmd->add_option("--batch-partitions", opts->run.job.batch_partitions,
                  "partitions per batch; above Cassandra's unlogged_batch_across_partitions_warn_"
                  "threshold (10) every batch logs a warning on the cluster")
      ->capture_default_str();
  cmd->add_flag(
      "--create-schema", opts->run.create_schema,
      "create missing keyspaces, user types and tables on target from origin's definitions");
  cmd->add_flag("--schema-only", opts->run.schema_only,
                "only that: create the schema (implies --create-schema), check it, copy no row "
                "(before phase 1, so that the proxy's writes find the tables)");
  cmd->callback([opts]() {
    opts->run.command = migrate::Command::Migrate;
    if (opts->run.schema_only) opts->run.create_schema = true;
    set_exit_code(run_migrate(*opts));
  });

  auto vopts = std::make_shared<MigrateCliOptions>();
  auto* validate = app.add_subcommand(
      "validate",
      "compare origin and target range by range, both ways, and optionally repair "
      "(docs/migrate.md).\n"
      "Exit codes: 0 no difference remains; 1 differences remain, ranges failed or interrupted; 2 "
      "bad usage, configuration, connection or schema problems");
  add_common_options(validate, *vopts);
  validate->add_option("--fix", vopts->fix, "repair these kinds: missing,mismatch,extra");
  validate->add_option("--diff-file", vopts->run.diff_file, "one JSON line per difference");
  validate->add_option(
      "--keys-from", vopts->run.keys_from,
      "re-check only the rows of a --diff-file (its tables are the scope unless given)");
  validate
      ->add_option("--writetime-tolerance", vopts->writetime_tolerance,
                   "writetimes closer than this are equal")
      ->capture_default_str();
  validate->add_option("--ttl-tolerance", vopts->ttl_tolerance, "TTLs closer than this are equal")
      ->capture_default_str();
  validate->callback([vopts]() {
    vopts->run.command = migrate::Command::Validate;
    set_exit_code(run_migrate(*vopts));
  });
}

}  // namespace zdm::cli
