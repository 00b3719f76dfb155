#pragma once
// `zdm ctl`: change live settings on every proxy of a fleet, one proxy at a time, and put every
// proxy already changed back when one fails, so that the fleet never stays split (some proxies
// writing to one primary, some to the other).
//
// Before anything changes, every proxy must answer GET /api/v1/config, know each setting as live
// and accept the token (an empty PATCH, which changes nothing). Then, proxy by proxy in the given
// order: GET /api/v1/config (the old values and the generation), PATCH /api/v1/config with
// If-Match: <generation>, and poll GET /api/v1/status until the new generation is served and the
// proxy is ready (when it was ready before the change: a proxy that was not, e.g. while target is
// down during an emergency rollback, is not held to it).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "ops/fleet.hpp"

namespace zdm::ops {

struct ChangeOptions {
  std::chrono::milliseconds ready_timeout{30'000};  // per proxy, after its PATCH
  std::chrono::milliseconds poll_interval{200};
  std::chrono::milliseconds pause{0};  // between two proxies (a canary: watch the first one)
};

// One proxy that took the change.
struct ProxyChange {
  AdminAddress address;
  int64_t old_generation = 0;
  int64_t new_generation = 0;
  nlohmann::json old_values = nlohmann::json::object();  // the changed keys, before
  // (setting, old text, new text) of what the proxy changed; empty when it already had them.
  std::vector<std::tuple<std::string, std::string, std::string>> changed;
  bool ready = false;
  bool was_ready = true;
  std::string status;  // GET /api/v1/status's status after the change

  // "127.0.0.1:14001  generation 3 -> 4  primary_cluster ORIGIN -> TARGET  ready"
  std::string line() const;
};

struct FleetChangeResult {
  bool ok = false;
  std::vector<ProxyChange> changed;       // in the order they changed
  std::string failed_proxy;               // empty when ok
  std::string failure;                    // why, naming the proxy
  bool nothing_changed = false;           // the failure came before any proxy changed
  std::vector<std::string> restored;      // "127.0.0.1:14001 (generation 4 -> 5)", restore order
  std::vector<std::string> not_restored;  // "127.0.0.1:14001: <why>"
};

using ProgressSink = std::function<void(const std::string& line)>;

// Applies `settings` (a JSON object keyed by YAML names) to the fleet; `progress` gets one line
// per proxy as it becomes ready.
FleetChangeResult change_fleet(const Fleet& fleet, const nlohmann::json& settings,
                               const ChangeOptions& options, const ProgressSink& progress);

// The failure as the operator reads it: which proxy, why, which proxies were put back (and which
// could not be). Empty when `result.ok`.
std::vector<std::string> describe_failure(const FleetChangeResult& result);

// `zdm ctl phase N`: 1 (origin primary), 3 (origin primary, async reads on target), 4 (target
// primary); nullopt for any other phase.
std::optional<nlohmann::json> phase_settings(int phase);
// `zdm ctl rollback`: back to origin primary, reads from it only.
nlohmann::json rollback_settings();

// `zdm ctl set KEY=VALUE...`: numbers and booleans as JSON, everything else as a string.
// InvalidArgument on an argument without '=', an empty key or a key given twice.
Result<nlohmann::json> parse_assignments(const std::vector<std::string>& args);
nlohmann::json setting_value(std::string_view text);

}  // namespace zdm::ops
