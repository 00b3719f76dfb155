// zdm proxy: the ZDM proxy. Configuration as the reference ZDM proxy: a YAML file (--config) or
// ZDM_* environment variables (not both). Prints one ready line on stdout for scripts and tests:
//   zdm proxy: listening on 127.0.0.1:14002 (cql), metrics on 127.0.0.1:14001
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "proxy/control/live_config.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/proxy_server.hpp"
#include "systemd_notify.hpp"

namespace zdm::cli {
namespace {

struct ProxyOptions {
  std::string config_path;
  int startup_timeout_s = 0;
};

// SIGHUP: the configuration file read again; what changed is applied live (the operations API's
// rules: every changed setting must be one that can change while running).
void reload_config(const ProxyOptions& opts, proxy::ProxyServer& server) {
  if (opts.config_path.empty()) {
    spdlog::warn(
        "SIGHUP: the configuration comes from the environment, which a running process cannot "
        "re-read; nothing reloaded (use --config, or PATCH /api/v1/config)");
    return;
  }
  auto loaded = proxy::load_proxy_config(opts.config_path, proxy::process_environment());
  if (!loaded) {
    server.live().count_reload_failure();
    spdlog::error("SIGHUP: configuration not reloaded, the running one is kept: {}",
                  loaded.error().message);
    return;
  }
  auto applied = server.live().reload(loaded->config, "SIGHUP");
  if (!applied) {
    server.live().count_reload_failure();
    spdlog::error("SIGHUP: configuration not reloaded, the running one is kept: {}",
                  applied.error().message);
  } else if (applied->changes.empty()) {
    spdlog::info("SIGHUP: {} re-read, nothing changed (generation {})", opts.config_path,
                 applied->generation);
  }
}

int run_proxy(const ProxyOptions& opts) {
  // Logs go to stderr; stdout carries only the ready line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm proxy"));
  std::optional<std::string> path;
  if (!opts.config_path.empty()) path = opts.config_path;
  auto loaded = proxy::load_proxy_config(path, proxy::process_environment());
  if (!loaded) {
    std::fprintf(stderr, "zdm proxy: invalid configuration: %s\n", loaded.error().message.c_str());
    return 2;
  }
  const proxy::ProxyConfig& config = loaded->config;
  spdlog::set_level(proxy::spdlog_level(config.log_level));
  spdlog::info("{} starting; configuration from {}", kVersion, loaded->source_description);
  spdlog::info("effective configuration: {}", proxy::describe_effective(config));

  // A journal write past a file size limit must fail with EFBIG (the writer then switches to
  // sync mode and says so), not kill the proxy.
  std::signal(SIGXFSZ, SIG_IGN);
  proxy::ProxyServer server(config);
  server.set_version(kVersion);

  // Signals: the first SIGINT/SIGTERM starts a graceful shutdown (or aborts the startup); a
  // second one exits at once. The handlers run on `signal_thread`; the shutdown itself, which
  // waits for in-flight requests, runs on this thread.
  boost::asio::io_context main_context;
  boost::asio::signal_set signals(main_context, SIGINT, SIGTERM);
  std::mutex mu;
  std::condition_variable cv;
  int signal_count = 0;
  bool started_ok = false;
  std::string ready_status;  // set once ready: systemd's STATUS= again after a reload
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        std::unique_lock lock(mu);
        if (++signal_count > 1) {
          spdlog::warn("second signal ({}): exiting now without waiting for in-flight requests",
                       signo);
          spdlog::default_logger()->flush();
          std::fflush(stdout);
          std::_Exit(128 + signo);
        }
        spdlog::info("signal {} received: graceful shutdown (a second signal exits at once)",
                     signo);
        const bool running = started_ok;
        lock.unlock();
        cv.notify_all();
        if (!running) server.stop();  // still connecting to the clusters: give up
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  boost::asio::signal_set hangups(main_context, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        std::string status;
        {
          std::lock_guard lock(mu);
          status = ready_status;
        }
        if (!status.empty()) systemd_notify_reloading();  // before ready: startup sends READY
        reload_config(opts, server);
        if (!status.empty()) systemd_notify_ready(status);
        hangups.async_wait(on_hangup);
      };
  hangups.async_wait(on_hangup);
  std::thread signal_thread([&] { main_context.run(); });
  auto finish = [&](int code) {
    main_context.stop();
    signal_thread.join();
    return code;
  };

  // Startup waits for both clusters (retrying, as the reference); a signal meanwhile stops it.
  auto started = server.start(std::chrono::seconds(opts.startup_timeout_s));
  if (!started) {
    std::fprintf(stderr, "zdm proxy: %s\n", started.error().message.c_str());
    return finish(1);
  }
  {
    std::lock_guard lock(mu);
    started_ok = true;
  }
  const std::string metrics =
      config.metrics_enabled
          ? fmt::format("{}:{}", proxy::numeric_host(config.metrics_address), server.metrics_port())
          : std::string("disabled");
  const std::string status =
      fmt::format("listening on {}:{} (cql), metrics on {}",
                  proxy::numeric_host(config.proxy_listen_address), server.port(), metrics);
  std::printf("zdm proxy: %s\n", status.c_str());
  std::fflush(stdout);
  systemd_notify_ready(status);
  {
    std::lock_guard lock(mu);
    ready_status = status;
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return signal_count > 0; });
    ready_status.clear();  // a SIGHUP while draining must not report READY=1 again
  }
  // In-flight requests get at most their own timeout, plus a margin for the answers to leave.
  const auto drain = std::chrono::milliseconds(config.proxy_request_timeout_ms + 2000);
  systemd_notify_stopping(
      fmt::format("draining: up to {} ms for requests in flight", drain.count()));
  server.shutdown(drain);
  spdlog::info("zdm proxy: shut down");
  return finish(0);
}

}  // namespace

void add_proxy_command(CLI::App& app) {
  auto opts = std::make_shared<ProxyOptions>();
  auto* cmd = app.add_subcommand(
      "proxy",
      "The ZDM proxy: clients connect to it; writes go to origin and target, reads to the "
      "primary cluster");
  cmd->footer(
      "Configuration: a YAML file (--config) with the reference ZDM proxy's keys "
      "(primary_cluster, origin_contact_points, origin_port, target_contact_points, ...), or the "
      "ZDM_* environment variables (ZDM_ORIGIN_CONTACT_POINTS, ZDM_TARGET_PORT, "
      "ZDM_PROXY_LISTEN_PORT, ZDM_READ_MODE, ...). With --config, the environment is ignored.\n"
      "Port 0 for ZDM_PROXY_LISTEN_PORT / ZDM_METRICS_PORT picks free ports; the ready line "
      "says which:\n"
      "  zdm proxy: listening on 127.0.0.1:14002 (cql), metrics on 127.0.0.1:14001\n"
      "TLS: ZDM_PROXY_TLS_CA_PATH/_CERT_PATH/_KEY_PATH (+ _REQUIRE_CLIENT_AUTH) towards clients; "
      "ZDM_ORIGIN_TLS_SERVER_CA_PATH (+ _CLIENT_CERT_PATH/_CLIENT_KEY_PATH for mutual TLS) and "
      "the same for TARGET towards the clusters, with host names verified unless "
      "ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION / ZDM_TARGET_... is true. Astra: "
      "ZDM_ORIGIN_SECURE_CONNECT_BUNDLE_PATH / ZDM_TARGET_... instead of contact points.\n"
      "Live changes (no restart, clients keep their connections): PATCH /api/v1/config on the "
      "metrics port with 'Authorization: Bearer <ZDM_ADMIN_TOKEN>' (zdm ctl does this for a "
      "fleet), or SIGHUP to re-read --config. See docs/operations-api.md.");
  cmd->add_option("--config", opts->config_path, "YAML configuration file");
  cmd->add_option("--startup-timeout", opts->startup_timeout_s,
                  "give up when the clusters cannot be reached within this many seconds (0: keep "
                  "retrying)");
  cmd->callback([opts] { set_exit_code(run_proxy(*opts)); });
}

}  // namespace zdm::cli
