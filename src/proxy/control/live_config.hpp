#pragma once
// Changing the proxy's configuration while it runs: a phase change (primary cluster, read mode),
// comparison rate, function replacement, log level, timeouts and limits. Callers are the
// operations API (PATCH /api/v1/config) and SIGHUP (the YAML file read again).
//
// A change names settings by their YAML names. It is checked as a whole (every named setting must
// be live, every value valid, the resulting configuration valid) and applied as a whole: one new
// configuration, one routing snapshot published, one generation. Requests already sent finish
// under the routing they started with (routing_snapshot.hpp); connections opened afterwards get
// the new per-connection settings. Each applied change is logged with its actor and the old and
// new values, and counted (zdm_proxy_config_changes_total, zdm_proxy_config_generation).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/common.h>
#include <tl/expected.hpp>

#include "common/metrics.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

class SessionContext;

// spdlog's level for the reference's log level names.
spdlog::level::level_enum spdlog_level(LogLevel level);

// Why a change was refused, with the HTTP status the API answers: 400 (bad value, unknown or
// non-live setting), 409 (another change came first).
struct ConfigRefusal {
  unsigned http_status = 400;
  std::string setting;  // the setting at fault ("" when not one setting)
  std::string message;
};

struct AppliedChange {
  uint64_t generation = 0;             // after the change (unchanged when nothing changed)
  std::vector<SettingChange> changes;  // empty: the values were already those
};

using ChangeResult = tl::expected<AppliedChange, ConfigRefusal>;

class LiveConfig {
 public:
  // Registers its metric series in `registry` (with the proxy's metrics prefix).
  LiveConfig(SessionContext& context, metrics::Registry& registry, const std::string& prefix);

  // Sets `settings` (YAML name, value as text) if the generation is still `expected_generation`
  // (when given). `actor` names who asked, for the log.
  ChangeResult patch(const std::vector<std::pair<std::string, std::string>>& settings,
                     std::optional<uint64_t> expected_generation, const std::string& actor);
  // Makes `loaded` (the configuration file read again) current: refused as a whole when a
  // setting that cannot change live differs. A refusal is counted
  // (zdm_proxy_config_reload_failures_total) and logged by the caller.
  ChangeResult reload(const ProxyConfig& loaded, const std::string& actor);
  void count_reload_failure();

  uint64_t generation() const;
  std::shared_ptr<const ProxyConfig> current() const;

 private:
  ChangeResult apply_locked(ProxyConfig next, const std::string& actor);

  SessionContext& context_;
  mutable std::mutex mu_;  // one change at a time
  uint64_t generation_ = 1;
  metrics::Counter* changes_ = nullptr;
  metrics::Counter* reload_failures_ = nullptr;
  metrics::Gauge* generation_gauge_ = nullptr;
};

}  // namespace zdm::proxy
