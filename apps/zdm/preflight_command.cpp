// zdm preflight: the checks before phase 1 (deploying the dual-write proxy), with the proxy's
// cluster settings; see docs/preflight.md. The checks themselves are in src/ops/preflight*.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cluster_settings.hpp"
#include "commands.hpp"
#include "migrate/schema.hpp"
#include "ops/preflight.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::cli {
namespace {

namespace asio = boost::asio;

struct PreflightCliOptions {
  std::string config_path;
  std::string origin;
  std::string target;
  std::string keyspaces;
  std::string proxies;
  bool json = false;
  int request_timeout_ms = 12000;
  int proxy_timeout_ms = 5000;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "zdm: %s\n", message.c_str());
  return ops::kPreflightExitUsage;
}

// Settings and flags into what run_preflight takes; a message when they are unusable.
Result<ops::PreflightOptions> checks_options(const PreflightCliOptions& opts) {
  ops::PreflightOptions out;
  out.keyspaces = proxy::split_list(opts.keyspaces);
  for (const auto& k : out.keyspaces) {
    if (migrate::is_system_keyspace(k)) {
      return fail(Errc::InvalidArgument,
                  "--keyspaces: '" + k + "' is a system keyspace: it is never migrated");
    }
  }
  for (const auto& item : proxy::split_list(opts.proxies)) {
    auto address = ops::parse_admin_address(item);
    if (!address) {
      return fail(Errc::InvalidArgument,
                  "--proxies: '" + item + "': " + address.error().message +
                      " (expected the proxies' admin addresses HOST:PORT, e.g. 10.0.0.5:14001)");
    }
    out.proxies.push_back(*address);
  }
  if (opts.request_timeout_ms <= 0) {
    return fail(Errc::InvalidArgument, "--request-timeout-ms must be positive");
  }
  if (opts.proxy_timeout_ms <= 0) {
    return fail(Errc::InvalidArgument, "--proxy-timeout-ms must be positive");
  }
  out.http_timeout = std::chrono::milliseconds(opts.proxy_timeout_ms);
  return out;
}

ops::PreflightCluster cluster_of(const char* name, const char* settings,
                                 const ClusterSettings& cluster) {
  ops::PreflightCluster out;
  out.name = name;
  out.settings = settings;
  out.session = cluster.session;
  return out;
}

int run_preflight_command(const PreflightCliOptions& opts) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm preflight"));
  spdlog::set_level(spdlog::level::warn);
  auto checks = checks_options(opts);
  if (!checks) return usage(checks.error().message);
  auto config = load_cluster_config(opts.config_path, opts.origin, opts.target);
  if (!config) return usage("invalid configuration: " + config.error().message);
  SessionDefaults defaults;
  defaults.request_timeout = std::chrono::milliseconds(opts.request_timeout_ms);
  defaults.consistency = protocol::Consistency::LocalOne;
  defaults.driver_name = "zdm-preflight";
  auto origin = session_options(*config, proxy::ClusterType::Origin, defaults);
  if (!origin) return usage(origin.error().message);
  auto target = session_options(*config, proxy::ClusterType::Target, defaults);
  if (!target) return usage(target.error().message);

  asio::io_context io{1};
  int exit_code = ops::kPreflightExitFail;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // An Astra metadata service that does not answer is a finding, not a usage error.
        auto origin_astra = co_await resolve_astra(*origin, "ORIGIN");
        auto target_astra = co_await resolve_astra(*target, "TARGET");
        auto o = cluster_of("origin", "ORIGIN", *origin);
        auto t = cluster_of("target", "TARGET", *target);
        if (!origin_astra) o.setup_error = origin_astra.error().message;
        if (!target_astra) t.setup_error = target_astra.error().message;
        auto report = co_await ops::run_preflight(std::move(o), std::move(t), *config, *checks);
        const std::string out = opts.json ? report.json() + "\n" : report.text();
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
        exit_code = report.exit_code();
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            std::fprintf(stderr, "zdm: preflight failed: %s\n", ex.what());
          }
          exit_code = ops::kPreflightExitFail;
        }
        io.stop();
      });
  io.run();
  return exit_code;
}

}  // namespace

void add_preflight_command(CLI::App& app) {
  auto opts = std::make_shared<PreflightCliOptions>();
  auto* cmd = app.add_subcommand(
      "preflight",
      "check both clusters before phase 1 (deploying the dual-write proxy), with the proxy's "
      "cluster settings: reachability and credentials, common protocol versions, partitioners, "
      "every table of --keyspaces on target with the same key and column types, tables that "
      "need care (counters, non-frozen lists, default TTLs), clock skew, and with --proxies what "
      "running proxies saw (now()/uuid() without replace_cql_functions, LWTs). One line per "
      "check: PASS|WARN|FAIL  <check>: <detail>, with what to do under WARN/FAIL "
      "(docs/preflight.md).\n"
      "Exit codes: 0 every check passed; 3 the worst result is a warning; 1 a check failed; 2 bad "
      "usage or configuration (bad flags, an unreadable or invalid configuration)");
  cmd->add_option(
      "--config", opts->config_path,
      "the proxy's YAML file (ZDM_* settings); without it, ZDM_* environment variables");
  cmd->add_option(
      "--origin", opts->origin,
      "origin contact points HOST[:PORT][,...] (overrides ZDM_ORIGIN_CONTACT_POINTS/PORT)");
  cmd->add_option(
      "--target", opts->target,
      "target contact points HOST[:PORT][,...] (overrides ZDM_TARGET_CONTACT_POINTS/PORT)");
  cmd->add_option("--keyspaces", opts->keyspaces,
                  "check every table of these keyspaces (comma-separated; default: every "
                  "non-system keyspace of origin)");
  cmd->add_option("--proxies", opts->proxies,
                  "admin addresses HOST:PORT,... of running proxies (metrics_address:metrics_port) "
                  "to read the statements they saw from (GET /api/v1/statements, /api/v1/config)");
  cmd->add_flag("--json", opts->json,
                "print a JSON report instead: {\"checks\":[{\"name\",\"result\":\"pass|warn|fail\","
                "\"detail\",\"advice\"}],\"worst\":...}");
  cmd->add_option("--request-timeout-ms", opts->request_timeout_ms,
                  "client-side timeout of one request to a cluster")
      ->capture_default_str();
  cmd->add_option("--proxy-timeout-ms", opts->proxy_timeout_ms,
                  "timeout of one request to a proxy's operations API")
      ->capture_default_str();
  cmd->callback([opts]() { set_exit_code(run_preflight_command(*opts)); });
}

}  // namespace zdm::cli
