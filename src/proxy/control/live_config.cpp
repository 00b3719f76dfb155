#include "proxy/control/live_config.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "proxy/session/client_session.hpp"

namespace zdm::proxy {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::Panic:
    case LogLevel::Fatal:
      return spdlog::level::critical;
    case LogLevel::Error:
      return spdlog::level::err;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Trace:
      return spdlog::level::trace;
  }
  return spdlog::level::info;
}

namespace {

ConfigRefusal not_live(const std::string& name) {
  return ConfigRefusal{
      400, name,
      fmt::format("{} cannot change while the proxy runs; change it in the proxy's configuration "
                  "and restart the proxy (settings that can change live: {})",
                  name, fmt::join(live_setting_names(), ", "))};
}

}  // namespace

LiveConfig::LiveConfig(SessionContext& context, metrics::Registry& registry,
                       const std::string& prefix)
    : context_(context) {
  const std::string p = prefix.empty() ? "" : prefix + "_";
  changes_ =
      &registry.counter(p + "proxy_config_changes_total",
                        "Configuration changes applied while running (operations API and SIGHUP)");
  reload_failures_ = &registry.counter(
      p + "proxy_config_reload_failures_total",
      "Configuration files re-read on SIGHUP and refused (invalid, or a setting that needs a "
      "restart changed)");
  generation_gauge_ = &registry.gauge(
      p + "proxy_config_generation",
      "Generation of the running configuration: 1 at start, one more per applied change");
  generation_gauge_->set(1);
}

uint64_t LiveConfig::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::shared_ptr<const ProxyConfig> LiveConfig::current() const { return context_.config(); }

void LiveConfig::count_reload_failure() { reload_failures_->inc(); }

ChangeResult LiveConfig::patch(const std::vector<std::pair<std::string, std::string>>& settings,
                               std::optional<uint64_t> expected_generation,
                               const std::string& actor) {
  std::lock_guard lock(mu_);
  if (expected_generation && *expected_generation != generation_) {
    return tl::unexpected(ConfigRefusal{
        409, "",
        fmt::format("the configuration is at generation {}, not {}: another change was applied "
                    "first; read it again and retry",
                    generation_, *expected_generation)});
  }
  ProxyConfig next = *context_.config();
  for (const auto& [name, value] : settings) {
    if (!is_known_setting(name)) {
      return tl::unexpected(
          ConfigRefusal{400, name,
                        fmt::format("unknown setting '{}' (names are the YAML keys of the proxy's "
                                    "configuration, e.g. primary_cluster)",
                                    name)});
    }
    if (!is_live_setting(name)) return tl::unexpected(not_live(name));
    if (auto r = set_setting(next, name, value); !r) {
      return tl::unexpected(ConfigRefusal{400, name, r.error().message});
    }
  }
  return apply_locked(std::move(next), actor);
}

ChangeResult LiveConfig::reload(const ProxyConfig& loaded, const std::string& actor) {
  std::lock_guard lock(mu_);
  const auto running = context_.config();
  for (const auto& change : diff_settings(*running, loaded)) {
    if (!is_live_setting(change.name)) return tl::unexpected(not_live(change.name));
  }
  return apply_locked(loaded, actor);
}

ChangeResult LiveConfig::apply_locked(ProxyConfig next, const std::string& actor) {
  if (auto ok = validate_proxy_config(next); !ok) {
    // The message names the setting ("invalid setting read_comparison_rate (...)").
    std::string setting;
    const std::string& message = ok.error().message;
    for (const auto& name : live_setting_names()) {
      if (message.find(fmt::format("invalid setting {} (", name)) != std::string::npos) {
        setting = name;
        break;
      }
    }
    return tl::unexpected(ConfigRefusal{400, setting, ok.error().message});
  }
  const auto running = context_.config();
  AppliedChange applied;
  applied.changes = diff_settings(*running, next);
  if (applied.changes.empty()) {
    applied.generation = generation_;
    return applied;
  }
  auto published = std::make_shared<const ProxyConfig>(std::move(next));
  spdlog::set_level(spdlog_level(published->log_level));
  context_.apply_config(published);
  applied.generation = ++generation_;
  generation_gauge_->set(static_cast<int64_t>(applied.generation));
  changes_->inc();
  std::string what;
  for (const auto& c : applied.changes) {
    if (!what.empty()) what += ", ";
    what += fmt::format("{} {} -> {}", c.name, c.old_value, c.new_value);
  }
  spdlog::warn("configuration changed by {} (generation {}): {}", actor, applied.generation, what);
  return applied;
}

}  // namespace zdm::proxy
