#include "ops/fleet_change.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace zdm::ops {
namespace {

using Clock = std::chrono::steady_clock;
const std::string kConfigPath = "/api/v1/config";

// A proxy that failed, and whether it must be put back too.
struct StepFailure {
  explicit StepFailure(std::string why) : message(std::move(why)) {}
  StepFailure(std::string why, std::optional<int64_t> generation_after, nlohmann::json old)
      : message(std::move(why)),
        put_back(true),
        generation(generation_after),
        old_values(std::move(old)) {}

  std::string message;
  // The PATCH may have been applied (no answer, 5xx) or was applied (then never ready): the proxy
  // is put back like the ones before it. `generation` is the one the change produced, when known.
  bool put_back = false;
  std::optional<int64_t> generation;
  nlohmann::json old_values = nlohmann::json::object();
};

// A proxy to put back: its old values, and the generation our change left it at (If-Match).
struct Applied {
  size_t index = 0;
  nlohmann::json old_values;
  std::optional<int64_t> generation;
  bool maybe = false;  // the change may not have applied (no answer)
};

// Fields of a proxy's answer read without throwing: a malformed answer must not skip the put-back.
int64_t generation_of(const nlohmann::json& answer, int64_t fallback) {
  if (!answer.is_object() || !answer.contains("generation")) return fallback;
  const auto& g = answer["generation"];
  return g.is_number_integer() ? g.get<int64_t>() : fallback;
}

nlohmann::json field_of(const nlohmann::json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key)) return nullptr;
  return object[key];
}

std::string conflict_message(const AdminClient& proxy, const AdminError& e, int64_t expected) {
  std::string current = "?";
  if (e.body.is_object() && e.body.contains("generation")) current = e.body["generation"].dump();
  return fmt::format(
      "proxy {}: generation conflict: it is at generation {}, not {} (someone else changed it "
      "meanwhile: look with zdm status, then run the command again)",
      proxy.address().to_string(), current, expected);
}

// Every proxy answers, knows every setting as live, and accepts the token; nothing changes.
std::optional<StepFailure> preflight(const Fleet& fleet, const nlohmann::json& settings,
                                     std::string& failed) {
  for (const auto& proxy : fleet.proxies) {
    failed = proxy.address().to_string();
    auto current = fetch_settings(proxy);
    if (!current) return StepFailure{current.error().message};
    for (const auto& [key, value] : settings.items()) {
      if (current->live.empty() ||
          std::find(current->live.begin(), current->live.end(), key) != current->live.end()) {
        continue;
      }
      const bool known = current->config.contains(key);
      return StepFailure{fmt::format(
          "proxy {}: '{}' {}", failed, key,
          known ? "cannot change while the proxy runs (set it in the proxy's configuration and "
                  "restart it)"
                : "is not a setting of this proxy (see GET /api/v1/config's 'live' list)")};
    }
  }
  for (const auto& proxy : fleet.proxies) {
    failed = proxy.address().to_string();
    auto checked = proxy.patch(kConfigPath, nlohmann::json::object(), std::nullopt);
    if (!checked) return StepFailure{checked.error().message};
  }
  failed.clear();
  return std::nullopt;
}

// Polls GET /api/v1/status until `generation` is served (and, when `need_ready`, ready).
std::optional<std::string> wait_until_served(const AdminClient& proxy, int64_t generation,
                                             bool need_ready, const ChangeOptions& options,
                                             ProxyChange& change) {
  const auto deadline = Clock::now() + options.ready_timeout;
  std::string last = "no status yet";
  for (;;) {
    auto status = fetch_status(proxy);
    if (status) {
      change.status = status->status;
      change.ready = status->ready;
      if (status->generation >= generation && (status->ready || !need_ready)) return std::nullopt;
      last = status->generation < generation
                 ? fmt::format("still serving generation {}", status->generation)
                 : fmt::format("status {}", status->status.empty() ? "?" : status->status);
    } else {
      last = status.error().message;
    }
    if (Clock::now() + options.poll_interval > deadline) break;
    std::this_thread::sleep_for(options.poll_interval);
  }
  return fmt::format("proxy {}: not {} within {} after the change ({})",
                     proxy.address().to_string(), need_ready ? "ready" : "serving it",
                     describe_duration(options.ready_timeout), last);
}

void record_changes(const nlohmann::json& answer, const nlohmann::json& settings,
                    ProxyChange& change) {
  if (answer.contains("changed") && answer["changed"].is_object()) {
    for (const auto& [key, diff] : answer["changed"].items()) {
      change.changed.emplace_back(key, value_text(field_of(diff, "old")),
                                  value_text(field_of(diff, "new")));
    }
    return;
  }
  for (const auto& [key, value] : settings.items()) {
    const auto old_text = value_text(field_of(change.old_values, key));
    if (old_text != value_text(value))
      change.changed.emplace_back(key, old_text, value_text(value));
  }
}

// GET config and status, PATCH with If-Match, wait until served: one proxy's whole change.
tl::expected<ProxyChange, StepFailure> change_one(const AdminClient& proxy,
                                                  const nlohmann::json& settings,
                                                  const ChangeOptions& options) {
  ProxyChange change;
  change.address = proxy.address();
  auto current = fetch_settings(proxy);
  if (!current) return tl::unexpected(StepFailure{current.error().message});
  auto before = fetch_status(proxy);
  if (!before) return tl::unexpected(StepFailure{before.error().message});
  change.was_ready = before->ready;
  change.old_generation = current->generation;
  for (const auto& [key, value] : settings.items()) {
    change.old_values[key] = field_of(current->config, key);
  }
  auto answer = proxy.patch(kConfigPath, settings, current->generation);
  if (!answer) {
    const auto& e = answer.error();
    StepFailure f(e.kind == AdminErrorKind::HttpStatus && e.status == 409
                      ? conflict_message(proxy, e, current->generation)
                      : e.message);
    f.put_back = e.kind == AdminErrorKind::NoAnswer ||
                 (e.kind == AdminErrorKind::HttpStatus && e.status >= 500);
    f.old_values = change.old_values;
    return tl::unexpected(std::move(f));
  }
  change.new_generation = generation_of(*answer, current->generation);
  record_changes(*answer, settings, change);
  if (auto late =
          wait_until_served(proxy, change.new_generation, change.was_ready, options, change)) {
    StepFailure f(*late, change.new_generation, change.old_values);
    return tl::unexpected(std::move(f));
  }
  return change;
}

// PATCHes the old values back, last changed first; If-Match keeps a later change by someone else.
void put_back(const Fleet& fleet, const std::vector<Applied>& applied, FleetChangeResult& result) {
  for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
    const auto& proxy = fleet.proxies[it->index];
    const std::string where = proxy.address().to_string();
    auto answer = proxy.patch(kConfigPath, it->old_values, it->generation);
    if (!answer) {
      const auto& e = answer.error();
      std::string why = e.kind == AdminErrorKind::HttpStatus && e.status == 409
                            ? "changed by someone else since: " + e.message
                            : e.message;
      if (it->maybe) why += " (its change may not have applied either: check it with zdm status)";
      result.not_restored.push_back(where + ": " + why);
      continue;
    }
    const auto generation = generation_of(*answer, 0);
    result.restored.push_back(
        it->generation ? fmt::format("{} (generation {} -> {})", where, *it->generation, generation)
                       : fmt::format("{} (generation {})", where, generation));
  }
}

}  // namespace

std::string ProxyChange::line() const {
  std::string out =
      fmt::format("{}  generation {} -> {}", address.to_string(), old_generation, new_generation);
  if (old_generation == new_generation) {
    out = fmt::format("{}  generation {} (unchanged)", address.to_string(), new_generation);
  }
  for (const auto& [key, from, to] : changed) out += fmt::format("  {} {} -> {}", key, from, to);
  if (ready) {
    out += "  ready";
  } else {
    out += fmt::format("  not ready (status {}; it was not ready before the change either)",
                       status.empty() ? "?" : status);
  }
  return out;
}

FleetChangeResult change_fleet(const Fleet& fleet, const nlohmann::json& settings,
                               const ChangeOptions& options, const ProgressSink& progress) {
  FleetChangeResult result;
  if (auto problem = preflight(fleet, settings, result.failed_proxy)) {
    result.failure = problem->message;
    result.nothing_changed = true;
    return result;
  }
  std::vector<Applied> applied;
  for (size_t i = 0; i < fleet.proxies.size(); ++i) {
    if (i > 0 && options.pause.count() > 0) std::this_thread::sleep_for(options.pause);
    auto step = change_one(fleet.proxies[i], settings, options);
    if (!step) {
      result.failed_proxy = fleet.proxies[i].address().to_string();
      result.failure = step.error().message;
      if (step.error().put_back) {
        applied.push_back(Applied{i, step.error().old_values, step.error().generation,
                                  !step.error().generation.has_value()});
      }
      result.nothing_changed = applied.empty();
      put_back(fleet, applied, result);
      return result;
    }
    if (progress) progress(step->line());
    applied.push_back(Applied{i, step->old_values, step->new_generation, false});
    result.changed.push_back(std::move(*step));
  }
  result.ok = true;
  return result;
}

std::vector<std::string> describe_failure(const FleetChangeResult& result) {
  std::vector<std::string> out;
  if (result.ok) return out;
  out.push_back("FAILED: " + result.failure);  // the message names the proxy
  if (result.nothing_changed) {
    out.push_back("nothing was changed on any proxy");
    return out;
  }
  if (!result.restored.empty()) {
    std::string list;
    for (const auto& r : result.restored) list += (list.empty() ? "" : ", ") + r;
    out.push_back("put back to their old values: " + list);
  }
  for (const auto& r : result.not_restored) {
    out.push_back("NOT put back: " + r + " (the fleet is split: fix it, then run zdm status)");
  }
  return out;
}

std::optional<nlohmann::json> phase_settings(int phase) {
  switch (phase) {
    case 1:
      return nlohmann::json{{"primary_cluster", "ORIGIN"}, {"read_mode", "PRIMARY_ONLY"}};
    case 3:
      return nlohmann::json{{"primary_cluster", "ORIGIN"},
                            {"read_mode", "DUAL_ASYNC_ON_SECONDARY"}};
    case 4:
      return nlohmann::json{{"primary_cluster", "TARGET"}, {"read_mode", "PRIMARY_ONLY"}};
    default:
      return std::nullopt;
  }
}

nlohmann::json rollback_settings() { return *phase_settings(1); }

nlohmann::json setting_value(std::string_view text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean())) return parsed;
  return std::string(text);
}

Result<nlohmann::json> parse_assignments(const std::vector<std::string>& args) {
  nlohmann::json out = nlohmann::json::object();
  if (args.empty()) {
    return fail(Errc::InvalidArgument,
                "nothing to set: give KEY=VALUE (e.g. read_mode=PRIMARY_ONLY)");
  }
  for (const auto& arg : args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      return fail(Errc::InvalidArgument,
                  fmt::format("'{}': expected KEY=VALUE (e.g. read_comparison_rate=0.1)", arg));
    }
    std::string key = arg.substr(0, eq);
    if (key.empty()) return fail(Errc::InvalidArgument, fmt::format("'{}': no KEY before =", arg));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (key.rfind("zdm_", 0) == 0) key = key.substr(4);  // ZDM_READ_MODE=... as in the env
    if (out.contains(key)) {
      return fail(Errc::InvalidArgument, fmt::format("'{}' is given twice", key));
    }
    out[key] = setting_value(std::string_view(arg).substr(eq + 1));
  }
  return out;
}

}  // namespace zdm::ops
