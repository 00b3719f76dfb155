#include "ops/fleet.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "proxy/proxy_config.hpp"

namespace zdm::ops {
namespace {

// Answers are read leniently: a field that is absent keeps its default, one of another type is
// reported (an API that changed shape should say so, not show zeros).
struct Reader {
  const nlohmann::json& json;
  std::string what;
  std::string error;

  const nlohmann::json* at(std::initializer_list<const char*> path) {
    const nlohmann::json* node = &json;
    for (const char* key : path) {
      if (!node->is_object() || !node->contains(key)) return nullptr;
      node = &(*node)[key];
    }
    return node->is_null() ? nullptr : node;
  }
  void wrong(std::initializer_list<const char*> path, const char* type) {
    if (!error.empty()) return;
    std::string name;
    for (const char* key : path) name += (name.empty() ? "" : ".") + std::string(key);
    error = fmt::format("{}: '{}' is not {}", what, name, type);
  }
  template <class T>
  void number(T& out, std::initializer_list<const char*> path) {
    const auto* node = at(path);
    if (!node) return;
    if (!node->is_number()) return wrong(path, "a number");
    out = node->get<T>();
  }
  void text(std::string& out, std::initializer_list<const char*> path) {
    const auto* node = at(path);
    if (!node) return;
    if (!node->is_string()) return wrong(path, "a string");
    out = node->get<std::string>();
  }
  void flag(bool& out, std::initializer_list<const char*> path) {
    const auto* node = at(path);
    if (!node) return;
    if (!node->is_boolean()) return wrong(path, "true or false");
    out = node->get<bool>();
  }
};

AdminError bad_answer(const AdminClient& proxy, std::string message) {
  AdminError e;
  e.kind = AdminErrorKind::BadAnswer;
  e.message = fmt::format("proxy {}: {}", proxy.address().to_string(), std::move(message));
  return e;
}

// Trailing blanks and line ends go, as the proxy reads its admin_token_file; leading ones stay.
std::string trim_end(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// The first line of a token file, read as the proxy reads admin_token_file.
Result<std::string> read_token_file(const std::string& path, const std::string& what) {
  auto token = proxy::read_token_file(path);
  if (!token) return fail(token.error().code, what + " " + token.error().message);
  return token;
}

// The proxies' YAML as they load it: the fleet's addresses, and its admin token settings.
struct ConfigFleet {
  std::vector<AdminAddress> addresses;
  std::string admin_token;
  std::string admin_token_file;
};

Result<ConfigFleet> load_config_fleet(const std::string& path) {
  // With a file the environment is ignored; an empty one keeps the loader from warning about
  // ZDM_* variables (ZDM_ADMIN_TOKEN is ours to read).
  auto loaded = proxy::load_proxy_config(path, proxy::Environment{});
  if (!loaded) {
    return fail(Errc::InvalidArgument,
                fmt::format("--config {}: {}", path, loaded.error().message));
  }
  const auto& config = loaded->config;
  if (!config.metrics_enabled || config.metrics_port <= 0 || config.metrics_port > 65535) {
    return fail(Errc::InvalidArgument,
                fmt::format("--config {}: the proxies serve no admin port (metrics_enabled {}, "
                            "metrics_port {}): give --proxies host:port,... instead",
                            path, config.metrics_enabled, config.metrics_port));
  }
  ConfigFleet out{{}, config.admin_token, config.admin_token_file};
  for (const auto& host : config.topology_addresses()) {
    out.addresses.push_back(
        AdminAddress{proxy::numeric_host(host), static_cast<uint16_t>(config.metrics_port)});
  }
  return out;
}

Result<ConfigFleet> resolve_fleet(const FleetFlags& flags) {
  if (!flags.proxies.empty() && !flags.config_path.empty()) {
    return fail(Errc::InvalidArgument, "give either --proxies or --config, not both");
  }
  ConfigFleet out;
  if (!flags.config_path.empty()) {
    ZDM_TRY(out, load_config_fleet(flags.config_path));
  } else {
    for (const auto& item : proxy::split_list(flags.proxies)) {
      auto address = parse_admin_address(item);
      if (!address) {
        return fail(Errc::InvalidArgument, "--proxies: " + address.error().message);
      }
      out.addresses.push_back(std::move(*address));
    }
  }
  const auto& list = out.addresses;
  if (list.empty()) {
    return fail(Errc::InvalidArgument,
                "no proxies: give --proxies host:port,... (their admin ports) or --config "
                "proxy.yaml");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (list[i] == list[j]) {
        return fail(Errc::InvalidArgument,
                    fmt::format("proxy {} is listed twice", list[i].to_string()));
      }
    }
  }
  return out;
}

}  // namespace

Result<std::vector<AdminAddress>> fleet_addresses(const FleetFlags& flags) {
  ZDM_TRY(auto fleet, resolve_fleet(flags));
  return std::move(fleet.addresses);
}

Result<std::string> resolve_token(const std::string& token_file, const char* env_token) {
  if (!token_file.empty()) return read_token_file(token_file, "--token-file");
  return env_token ? trim_end(env_token) : std::string();
}

std::string default_actor(std::string_view command) {
  std::string user;
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) user = pw->pw_name;
  if (user.empty()) {
    const char* env = std::getenv("USER");
    user = env ? env : "unknown";
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{} ({}@{})", command, user, host[0] ? host : "unknown");
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(Errc::InvalidArgument,
                fmt::format("'{}': expected a duration like 30s, 500ms or 2m", text));
  };
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return bad();
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else {
    return bad();
  }
  if (ms > 86'400'000.0) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Result<Fleet> open_fleet(const FleetFlags& flags, std::string actor) {
  ZDM_TRY(auto resolved, resolve_fleet(flags));
  ZDM_TRY(auto token, resolve_token(flags.token_file, std::getenv("ZDM_ADMIN_TOKEN")));
  if (token.empty()) {
    // On a proxy's machine, its own YAML holds the token.
    token = trim_end(resolved.admin_token);
    if (token.empty() && !resolved.admin_token_file.empty()) {
      ZDM_TRY(token, read_token_file(resolved.admin_token_file, "admin_token_file"));
    }
  }
  auto timeout = parse_duration(flags.request_timeout);
  if (!timeout || timeout->count() == 0) {
    return fail(Errc::InvalidArgument,
                "--request-timeout: " +
                    (timeout ? std::string("must be more than 0") : timeout.error().message));
  }
  Fleet fleet;
  for (auto& address : resolved.addresses) {
    fleet.proxies.emplace_back(std::move(address), AdminClientOptions{*timeout, token, actor});
  }
  return fleet;
}

nlohmann::json ProxySettings::live_values() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : live) {
    if (config.contains(key)) out[key] = config[key];
  }
  return out;
}

std::string ProxySettings::text(const std::string& key) const {
  if (!config.contains(key)) return "";
  return value_text(config[key]);
}

std::string value_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

AdminResult<ProxyStatus> fetch_status(const AdminClient& proxy) {
  auto answer = proxy.get("/api/v1/status");
  if (!answer) return tl::unexpected(std::move(answer.error()));
  ProxyStatus s;
  Reader r{*answer, "GET /api/v1/status", ""};
  r.text(s.version, {"version"});
  r.text(s.instance, {"instance"});
  r.number(s.generation, {"generation"});
  r.number(s.phase, {"phase"});
  r.text(s.primary_cluster, {"primary_cluster"});
  r.text(s.read_mode, {"read_mode"});
  r.flag(s.ready, {"ready"});
  r.text(s.status, {"status"});
  r.flag(s.draining, {"draining"});
  r.number(s.uptime_seconds, {"uptime_seconds"});
  r.number(s.clients, {"clients"});
  r.number(s.requests_total, {"requests_total"});
  r.number(s.failed_writes_origin, {"failed_writes", "origin"});
  r.number(s.failed_writes_target, {"failed_writes", "target"});
  r.number(s.failed_writes_both, {"failed_writes", "both"});
  r.number(s.failed_reads_origin, {"failed_reads", "origin"});
  r.number(s.failed_reads_target, {"failed_reads", "target"});
  r.number(s.async_read_errors, {"async_read_errors"});
  r.number(s.compared, {"read_comparison", "compared"});
  r.number(s.mismatches, {"read_comparison", "mismatches"});
  r.number(s.p99_reads_ms, {"latency_p99_ms", "reads"});
  r.number(s.p99_writes_ms, {"latency_p99_ms", "writes"});
  r.text(s.secondary_write_mode, {"secondary_write_mode"});
  r.number(s.secondary_in_flight, {"secondary_writes", "in_flight"});
  r.number(s.journal_pending_records, {"secondary_writes", "journal_pending_records"});
  r.number(s.journal_aside_records, {"secondary_writes", "journal_aside_records"});
  r.number(s.secondary_lost, {"secondary_writes", "lost"});
  if (!r.error.empty()) return tl::unexpected(bad_answer(proxy, r.error));
  if (!answer->contains("generation") || !answer->contains("ready")) {
    return tl::unexpected(
        bad_answer(proxy, "GET /api/v1/status: the answer has no 'generation' or 'ready'"));
  }
  s.raw = std::move(*answer);
  return s;
}

AdminResult<ProxySettings> fetch_settings(const AdminClient& proxy) {
  auto answer = proxy.get("/api/v1/config");
  if (!answer) return tl::unexpected(std::move(answer.error()));
  ProxySettings s;
  Reader r{*answer, "GET /api/v1/config", ""};
  r.number(s.generation, {"generation"});
  if (!r.error.empty()) return tl::unexpected(bad_answer(proxy, r.error));
  const auto* config = r.at({"config"});
  if (!config || !config->is_object()) {
    return tl::unexpected(bad_answer(proxy, "GET /api/v1/config: 'config' is not an object"));
  }
  s.config = *config;
  if (const auto* live = r.at({"live"})) {
    if (!live->is_array()) {
      return tl::unexpected(bad_answer(proxy, "GET /api/v1/config: 'live' is not a list"));
    }
    for (const auto& item : *live) {
      if (item.is_string()) s.live.push_back(item.get<std::string>());
    }
  }
  return s;
}

AdminResult<std::vector<ClientConnection>> fetch_clients(const AdminClient& proxy) {
  auto answer = proxy.get("/api/v1/clients");
  if (!answer) return tl::unexpected(std::move(answer.error()));
  if (!answer->contains("clients") || !(*answer)["clients"].is_array()) {
    return tl::unexpected(bad_answer(proxy, "GET /api/v1/clients: 'clients' is not a list"));
  }
  std::vector<ClientConnection> out;
  for (const auto& item : (*answer)["clients"]) {
    ClientConnection c;
    Reader r{item, "GET /api/v1/clients", ""};
    r.text(c.address, {"address"});
    r.text(c.driver_name, {"driver_name"});
    r.text(c.driver_version, {"driver_version"});
    r.number(c.protocol_version, {"protocol_version"});
    r.text(c.keyspace, {"keyspace"});
    r.text(c.connected_at, {"connected_at"});
    r.text(c.last_request_at, {"last_request_at"});
    r.number(c.requests, {"requests"});
    if (!r.error.empty()) return tl::unexpected(bad_answer(proxy, r.error));
    c.raw = item;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<ProxySnapshot> take_snapshot(const Fleet& fleet, const SnapshotOptions& options) {
  using Clock = std::chrono::steady_clock;
  std::vector<ProxySnapshot> out(fleet.proxies.size());
  std::vector<Clock::time_point> first_at(fleet.proxies.size());
  for (size_t i = 0; i < fleet.proxies.size(); ++i) {
    const auto& proxy = fleet.proxies[i];
    auto& snap = out[i];
    snap.address = proxy.address();
    first_at[i] = Clock::now();
    auto status = fetch_status(proxy);
    if (!status) {
      snap.error = status.error().message;
      continue;
    }
    snap.status = std::move(*status);
    auto settings = fetch_settings(proxy);
    if (!settings) {
      snap.error = settings.error().message;
      continue;
    }
    snap.settings = std::move(*settings);
    if (options.clients) {
      auto clients = fetch_clients(proxy);
      if (!clients) {
        snap.error = clients.error().message;
        continue;
      }
      snap.clients = std::move(*clients);
    }
  }
  if (options.rate_interval.count() <= 0) return out;
  std::this_thread::sleep_for(options.rate_interval);
  for (size_t i = 0; i < fleet.proxies.size(); ++i) {
    auto& snap = out[i];
    if (snap.error || !snap.status) continue;
    const auto at = Clock::now();
    auto again = fetch_status(fleet.proxies[i]);
    if (!again) continue;  // the first sample stands; the rate stays unknown
    const double seconds = std::chrono::duration<double>(at - first_at[i]).count();
    const auto delta = again->requests_total - snap.status->requests_total;
    if (seconds > 0 && delta >= 0) snap.requests_per_second = static_cast<double>(delta) / seconds;
    snap.status = std::move(*again);
  }
  return out;
}

std::string SettingDifference::describe() const {
  std::string out = setting + " differs:";
  for (size_t i = 0; i < values.size(); ++i) {
    out += fmt::format("{} {} {}", i ? "," : "", values[i].first,
                       values[i].second.empty() ? "(unset)" : values[i].second);
  }
  return out;
}

FleetSummary summarize(const std::vector<ProxySnapshot>& snapshots) {
  FleetSummary s;
  s.proxies = snapshots.size();
  std::set<int64_t> generations;
  std::set<std::string> live_keys;
  for (const auto& snap : snapshots) {
    if (snap.error || !snap.status || !snap.settings) {
      s.problems.push_back(snap.error.value_or(snap.address.to_string() + ": no answer"));
      continue;
    }
    ++s.reachable;
    generations.insert(snap.settings->generation);
    for (const auto& key : snap.settings->live) live_keys.insert(key);
    if (snap.status->ready) {
      ++s.ready;
    } else {
      s.problems.push_back(fmt::format("proxy {} is not ready (status {})",
                                       snap.address.to_string(),
                                       snap.status->status.empty() ? "?" : snap.status->status));
    }
  }
  for (const auto& key : live_keys) {
    SettingDifference d{key, {}};
    std::set<std::string> seen;
    for (const auto& snap : snapshots) {
      if (snap.error || !snap.settings) continue;
      d.values.emplace_back(snap.address.to_string(), snap.settings->text(key));
      seen.insert(d.values.back().second);
    }
    if (seen.size() > 1) {
      s.problems.push_back(d.describe());
      s.differences.push_back(std::move(d));
    }
  }
  s.generations.assign(generations.begin(), generations.end());
  s.all_ready = s.proxies > 0 && s.ready == s.proxies;
  s.agree = s.reachable > 0 && s.differences.empty();
  return s;
}

}  // namespace zdm::ops
