#include "proxy/proxy_config.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "proxy/proxy_config_internal.hpp"

extern char** environ;

namespace zdm::proxy {

using namespace config_detail;

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Enumerations: wire names and case-insensitive parsing

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

constexpr std::array kClusterTypes{EnumName<ClusterType>{"ORIGIN", ClusterType::Origin},
                                   EnumName<ClusterType>{"TARGET", ClusterType::Target}};
constexpr std::array kReadModes{
    EnumName<ReadMode>{"PRIMARY_ONLY", ReadMode::PrimaryOnly},
    EnumName<ReadMode>{"DUAL_ASYNC_ON_SECONDARY", ReadMode::DualAsyncOnSecondary}};
constexpr std::array kSystemQueriesModes{
    EnumName<SystemQueriesMode>{"ORIGIN", SystemQueriesMode::Origin},
    EnumName<SystemQueriesMode>{"TARGET", SystemQueriesMode::Target}};
constexpr std::array kSecondaryWriteModes{
    EnumName<SecondaryWriteMode>{"sync", SecondaryWriteMode::Sync},
    EnumName<SecondaryWriteMode>{"async", SecondaryWriteMode::Async}};
constexpr std::array kTimeoutBehaviours{
    EnumName<TimeoutBehaviour>{"error", TimeoutBehaviour::Error},
    EnumName<TimeoutBehaviour>{"silent", TimeoutBehaviour::Silent}};
// WARNING is logrus' alias of WARN; the first name of a value is the canonical one.
constexpr std::array kLogLevels{
    EnumName<LogLevel>{"PANIC", LogLevel::Panic},  EnumName<LogLevel>{"FATAL", LogLevel::Fatal},
    EnumName<LogLevel>{"ERROR", LogLevel::Error},  EnumName<LogLevel>{"WARN", LogLevel::Warn},
    EnumName<LogLevel>{"WARNING", LogLevel::Warn}, EnumName<LogLevel>{"INFO", LogLevel::Info},
    EnumName<LogLevel>{"DEBUG", LogLevel::Debug},  EnumName<LogLevel>{"TRACE", LogLevel::Trace}};

template <class E>
const auto& enum_table() {
  if constexpr (std::is_same_v<E, ClusterType>) return kClusterTypes;
  if constexpr (std::is_same_v<E, ReadMode>) return kReadModes;
  if constexpr (std::is_same_v<E, SystemQueriesMode>) return kSystemQueriesModes;
  if constexpr (std::is_same_v<E, TimeoutBehaviour>) return kTimeoutBehaviours;
  if constexpr (std::is_same_v<E, SecondaryWriteMode>) return kSecondaryWriteModes;
  if constexpr (std::is_same_v<E, LogLevel>) return kLogLevels;
}

template <class E>
std::string_view enum_name(E value) {
  for (const auto& entry : enum_table<E>()) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <class E>
std::optional<E> parse_enum(std::string_view text) {
  text = trim(text);
  for (const auto& entry : enum_table<E>()) {
    if (iequal(entry.name, text)) return entry.value;
  }
  return std::nullopt;
}

template <class E>
std::string enum_choices() {
  std::string out;
  for (const auto& entry : enum_table<E>()) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The settings table: one row per setting, in the reference's order, then ours.

using Field =
    std::variant<std::string ProxyConfig::*, int64_t ProxyConfig::*, bool ProxyConfig::*,
                 double ProxyConfig::*, ClusterType ProxyConfig::*, ReadMode ProxyConfig::*,
                 SystemQueriesMode ProxyConfig::*, TimeoutBehaviour ProxyConfig::*,
                 LogLevel ProxyConfig::*, SecondaryWriteMode ProxyConfig::*>;

struct Setting {
  std::string_view name;  // YAML key; the environment variable is ZDM_ + upper case
  Field field;
  bool secret = false;
  bool live = false;  // may change while the proxy runs (PATCH /api/v1/config, SIGHUP)
};

#define ZDM_SETTING(member) \
  Setting { #member, &ProxyConfig::member, false, false }
#define ZDM_SECRET(member) \
  Setting { #member, &ProxyConfig::member, true, false }
#define ZDM_LIVE(member) \
  Setting { #member, &ProxyConfig::member, false, true }

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table{
      ZDM_LIVE(primary_cluster),
      ZDM_LIVE(read_mode),
      ZDM_LIVE(replace_cql_functions),
      ZDM_LIVE(async_handshake_timeout_ms),
      ZDM_LIVE(log_level),
      ZDM_SETTING(control_conn_max_protocol_version),
      ZDM_LIVE(blocked_protocol_versions),
      ZDM_SETTING(tracing_enabled),
      ZDM_SETTING(tracing_rate_limit),
      ZDM_SETTING(tracing_request_id_key),
      ZDM_SETTING(proxy_topology_index),
      ZDM_SETTING(proxy_topology_addresses),
      ZDM_SETTING(proxy_topology_num_tokens),
      ZDM_SETTING(origin_contact_points),
      ZDM_SETTING(origin_port),
      ZDM_SETTING(origin_secure_connect_bundle_path),
      ZDM_SETTING(origin_local_datacenter),
      ZDM_SETTING(origin_username),
      ZDM_SECRET(origin_password),
      ZDM_LIVE(origin_connection_timeout_ms),
      ZDM_SETTING(origin_tls_server_ca_path),
      ZDM_SETTING(origin_tls_client_cert_path),
      ZDM_SETTING(origin_tls_client_key_path),
      ZDM_SETTING(origin_tls_skip_hostname_verification),  // ours, kept next to the TLS settings
      ZDM_SETTING(target_contact_points),
      ZDM_SETTING(target_port),
      ZDM_SETTING(target_secure_connect_bundle_path),
      ZDM_SETTING(target_local_datacenter),
      ZDM_SETTING(target_username),
      ZDM_SECRET(target_password),
      ZDM_LIVE(target_connection_timeout_ms),
      ZDM_SETTING(target_tls_server_ca_path),
      ZDM_SETTING(target_tls_client_cert_path),
      ZDM_SETTING(target_tls_client_key_path),
      ZDM_SETTING(target_tls_skip_hostname_verification),  // ours
      ZDM_SETTING(proxy_listen_address),
      ZDM_SETTING(proxy_listen_port),
      ZDM_LIVE(proxy_request_timeout_ms),
      ZDM_LIVE(proxy_max_client_connections),
      ZDM_LIVE(proxy_max_stream_ids),
      ZDM_SETTING(proxy_tls_ca_path),
      ZDM_SETTING(proxy_tls_cert_path),
      ZDM_SETTING(proxy_tls_key_path),
      ZDM_SETTING(proxy_tls_require_client_auth),
      ZDM_SETTING(metrics_enabled),
      ZDM_SETTING(metrics_address),
      ZDM_SETTING(metrics_port),
      ZDM_SETTING(metrics_prefix),
      ZDM_SETTING(metrics_origin_latency_buckets_ms),
      ZDM_SETTING(metrics_target_latency_buckets_ms),
      ZDM_SETTING(metrics_async_read_latency_buckets_ms),
      ZDM_LIVE(heartbeat_interval_ms),
      ZDM_SETTING(heartbeat_retry_interval_min_ms),
      ZDM_SETTING(heartbeat_retry_interval_max_ms),
      ZDM_SETTING(heartbeat_retry_backoff_factor),
      ZDM_SETTING(heartbeat_failure_threshold),
      ZDM_LIVE(system_queries_mode),
      ZDM_LIVE(forward_client_credentials_to_origin),
      ZDM_SETTING(origin_enable_host_assignment),
      ZDM_SETTING(target_enable_host_assignment),
      ZDM_SETTING(request_write_queue_size_frames),
      ZDM_SETTING(request_write_buffer_size_bytes),
      ZDM_SETTING(request_read_buffer_size_bytes),
      ZDM_SETTING(response_write_queue_size_frames),
      ZDM_SETTING(response_write_buffer_size_bytes),
      ZDM_SETTING(response_read_buffer_size_bytes),
      ZDM_SETTING(request_response_max_workers),
      ZDM_SETTING(write_max_workers),
      ZDM_SETTING(read_max_workers),
      ZDM_SETTING(listener_max_workers),
      ZDM_SETTING(event_queue_size_frames),
      ZDM_SETTING(async_connector_write_queue_size_frames),
      ZDM_SETTING(async_connector_write_buffer_size_bytes),
      ZDM_SETTING(prepared_cache_size),
      ZDM_LIVE(proxy_timeout_behaviour),
      ZDM_LIVE(read_comparison_rate),
      ZDM_SETTING(proxy_threads),
      ZDM_SECRET(admin_token),
      ZDM_SETTING(admin_token_file),
      ZDM_LIVE(secondary_write_mode),
      ZDM_SETTING(journal_dir),
      ZDM_SETTING(journal_sync_ms),
      ZDM_SETTING(journal_max_bytes),
      ZDM_SETTING(journal_segment_bytes),
      ZDM_LIVE(journal_replay_rate),
      ZDM_SETTING(secondary_write_max_in_flight),
  };
  return table;
}

#undef ZDM_SETTING
#undef ZDM_SECRET
#undef ZDM_LIVE

const Setting* find_setting(std::string_view name) {
  for (const Setting& s : settings()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string env_name(std::string_view setting) { return "ZDM_" + to_upper(setting); }

// "origin_port (ZDM_ORIGIN_PORT)": how every message names a setting.
std::string label(std::string_view setting) {
  return fmt::format("{} ({})", setting, env_name(setting));
}

// strconv.ParseBool's spellings (the reference uses Go's envconfig) plus YAML's yes/no/on/off.
std::optional<bool> parse_bool(std::string_view text) {
  text = trim(text);
  for (std::string_view t : {"1", "t", "true", "yes", "y", "on"}) {
    if (iequal(text, t)) return true;
  }
  for (std::string_view f : {"0", "f", "false", "no", "n", "off"}) {
    if (iequal(text, f)) return false;
  }
  return std::nullopt;
}

std::optional<int64_t> parse_int(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Assigns one setting from its text form.
Result<void> assign(ProxyConfig& config, const Setting& setting, std::string_view text) {
  return std::visit(
      [&](auto member) -> Result<void> {
        using T = std::remove_cvref_t<decltype(config.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          config.*member = std::string(text);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          auto v = parse_int(text);
          if (!v) return invalid(setting.name, fmt::format("expected an integer, got '{}'", text));
          config.*member = *v;
        } else if constexpr (std::is_same_v<T, bool>) {
          auto v = parse_bool(text);
          if (!v)
            return invalid(setting.name, fmt::format("expected true or false, got '{}'", text));
          config.*member = *v;
        } else if constexpr (std::is_same_v<T, double>) {
          auto v = parse_double(text);
          if (!v) return invalid(setting.name, fmt::format("expected a number, got '{}'", text));
          config.*member = *v;
        } else {
          auto v = parse_enum<T>(text);
          if (!v) {
            return invalid(setting.name,
                           fmt::format("'{}' is not one of {}", text, enum_choices<T>()));
          }
          config.*member = *v;
        }
        return {};
      },
      setting.field);
}

bool is_string_setting(const Setting& s) {
  return std::holds_alternative<std::string ProxyConfig::*>(s.field);
}

}  // namespace

namespace config_detail {

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

tl::unexpected<Error> invalid(std::string_view setting, std::string_view what) {
  return fail(Errc::InvalidArgument, fmt::format("invalid setting {}: {}", label(setting), what));
}

bool is_ip_literal(const std::string& text) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1;
}

std::optional<protocol::ProtocolVersion> version_from_name(std::string_view name, bool* is_v2) {
  name = trim(name);
  if (is_v2 != nullptr) *is_v2 = false;
  std::string upper = to_upper(name);
  if (!upper.empty() && upper.front() == 'V' && upper.size() == 2) upper.erase(0, 1);
  upper.erase(std::remove(upper.begin(), upper.end(), '_'), upper.end());
  if (upper == "2") {
    if (is_v2 != nullptr) *is_v2 = true;
    return std::nullopt;
  }
  if (upper == "3") return protocol::ProtocolVersion::V3;
  if (upper == "4") return protocol::ProtocolVersion::V4;
  if (upper == "5") return protocol::ProtocolVersion::V5;
  if (upper == "DSEV1") return protocol::ProtocolVersion::DseV1;
  if (upper == "DSEV2") return protocol::ProtocolVersion::DseV2;
  return std::nullopt;
}

}  // namespace config_detail

// -----------------------------------------------------------------------------------------------

std::string_view cluster_type_name(ClusterType c) { return enum_name(c); }
std::string_view read_mode_name(ReadMode m) { return enum_name(m); }
std::string_view secondary_write_mode_name(SecondaryWriteMode m) { return enum_name(m); }
std::string_view system_queries_mode_name(SystemQueriesMode m) { return enum_name(m); }
std::string_view timeout_behaviour_name(TimeoutBehaviour b) { return enum_name(b); }
std::string_view log_level_name(LogLevel l) { return enum_name(l); }

int64_t ProxyConfig::default_proxy_threads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int64_t>(cores);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = trim(text.substr(start, comma - start));
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

Result<std::vector<double>> parse_latency_buckets_ms(std::string_view text) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    auto v = parse_double(item);
    if (!v) {
      return fail(Errc::InvalidArgument,
                  fmt::format("'{}' in '{}' is not a number of milliseconds", item, text));
    }
    if (*v <= 0) {
      return fail(Errc::InvalidArgument,
                  fmt::format("bucket {} in '{}' must be greater than 0", item, text));
    }
    if (!out.empty() && *v <= out.back()) {
      return fail(
          Errc::InvalidArgument,
          fmt::format("buckets must increase, but {} follows {} in '{}'", item, out.back(), text));
    }
    out.push_back(*v);
  }
  if (out.empty()) {
    return fail(Errc::InvalidArgument, "at least one latency bucket (in milliseconds) is needed");
  }
  return out;
}

Result<protocol::ProtocolVersion> parse_protocol_version_name(std::string_view name) {
  bool v2 = false;
  auto v = version_from_name(name, &v2);
  if (v) return *v;
  if (v2) {
    return fail(Errc::Unsupported,
                "protocol v2 is not supported by zdm; use 3, 4, 5, DseV1 or DseV2");
  }
  return fail(Errc::InvalidArgument,
              fmt::format("'{}' is not a protocol version; use 3, 4, 5, DseV1 or DseV2", name));
}

std::vector<std::string> ProxyConfig::contact_points(ClusterType cluster) const {
  return split_list(cluster == ClusterType::Origin ? origin_contact_points : target_contact_points);
}

std::vector<std::string> ProxyConfig::topology_addresses() const {
  std::vector<std::string> out = split_list(proxy_topology_addresses);
  if (!out.empty()) return out;
  // As the reference: the listen address resolved to IPv4, else 127.0.0.1.
  const std::string listen(trim(proxy_listen_address));
  if (!listen.empty() && is_ip_literal(listen) && listen != "0.0.0.0" && listen != "::") {
    return {listen};
  }
  if (!listen.empty() && listen != "0.0.0.0" && listen != "::") {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    addrinfo* result = nullptr;
    if (getaddrinfo(listen.c_str(), nullptr, &hints, &result) == 0 && result != nullptr) {
      char text[INET_ADDRSTRLEN] = {};
      const auto* sin = reinterpret_cast<const sockaddr_in*>(result->ai_addr);
      const bool ok = inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text) != nullptr;
      freeaddrinfo(result);
      if (ok) return {std::string(text)};
    }
  }
  return {"127.0.0.1"};
}

std::vector<double> ProxyConfig::latency_buckets_seconds(ClusterType cluster) const {
  auto ms =
      parse_latency_buckets_ms(cluster == ClusterType::Origin ? metrics_origin_latency_buckets_ms
                                                              : metrics_target_latency_buckets_ms);
  std::vector<double> out;
  if (ms) {
    for (double v : *ms) out.push_back(v / 1000.0);
  }
  return out;
}

std::vector<double> ProxyConfig::async_latency_buckets_seconds() const {
  auto ms = parse_latency_buckets_ms(metrics_async_read_latency_buckets_ms);
  std::vector<double> out;
  if (ms) {
    for (double v : *ms) out.push_back(v / 1000.0);
  }
  return out;
}

std::vector<protocol::ProtocolVersion> ProxyConfig::blocked_versions() const {
  std::vector<protocol::ProtocolVersion> out;
  for (const std::string& item : split_list(blocked_protocol_versions)) {
    if (auto v = version_from_name(item, nullptr)) {
      if (std::find(out.begin(), out.end(), *v) == out.end()) out.push_back(*v);
    }
  }
  return out;
}

bool ProxyConfig::is_blocked(protocol::ProtocolVersion v) const {
  const auto blocked = blocked_versions();
  return std::find(blocked.begin(), blocked.end(), v) != blocked.end();
}

protocol::ProtocolVersion ProxyConfig::control_conn_max_version() const {
  auto v = version_from_name(control_conn_max_protocol_version, nullptr);
  return v ? *v : protocol::ProtocolVersion::DseV2;
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 4) != "ZDM_") continue;
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<LoadedConfig> load_config_from_env(const Environment& env) {
  LoadedConfig loaded;
  size_t used = 0;
  for (const auto& [name, value] : env) {
    if (name.size() <= 4 || name.compare(0, 4, "ZDM_") != 0) continue;
    std::string key = name.substr(4);
    for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const Setting* setting = find_setting(key);
    // Process-wide variables that are not proxy settings (common/log_format.hpp; the
    // ZDM_ORIGIN_*/ZDM_TARGET_* test and tool variables are settings).
    if (setting == nullptr && key == "log_format") continue;
    if (setting == nullptr) {
      spdlog::warn("ignoring unknown environment variable {}", name);
      continue;
    }
    // An empty variable leaves a non-text setting at its default (envconfig does the same).
    if (value.empty() && !is_string_setting(*setting)) continue;
    if (auto r = assign(loaded.config, *setting, value); !r) return tl::unexpected(r.error());
    ++used;
  }
  if (auto r = validate_proxy_config(loaded.config); !r) return tl::unexpected(r.error());
  loaded.source = ConfigSource::Environment;
  loaded.source_description = fmt::format("environment ({} ZDM_* variable(s))", used);
  return loaded;
}

Result<LoadedConfig> load_config_from_yaml(std::string_view yaml_text) {
  LoadedConfig loaded;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return fail(Errc::Malformed, fmt::format("configuration is not valid YAML: {}", e.what()));
  }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    return fail(Errc::Malformed,
                "configuration YAML must be a mapping of setting names to values, e.g. "
                "'primary_cluster: ORIGIN'");
  }
  if (root.IsMap()) {
    for (const auto& item : root) {
      std::string key;
      try {
        key = item.first.as<std::string>();
      } catch (const YAML::Exception&) {
        return fail(Errc::Malformed, "configuration YAML has a key that is not a string");
      }
      const Setting* setting = find_setting(key);
      if (setting == nullptr) {
        return fail(Errc::InvalidArgument,
                    fmt::format("unknown setting '{}' in the configuration YAML (keys are the "
                                "ZDM_ variable names in lower case without the prefix, e.g. "
                                "origin_contact_points)",
                                key));
      }
      const YAML::Node& value = item.second;
      std::string text;
      if (value.IsNull()) {
        continue;  // `key:` with no value keeps the default
      } else if (value.IsScalar()) {
        text = value.Scalar();
      } else if (value.IsSequence()) {
        // Lists (contact points, addresses, buckets, versions) may be written as YAML sequences.
        for (const auto& element : value) {
          if (!element.IsScalar()) {
            return invalid(key, "a list may only hold plain values");
          }
          if (!text.empty()) text += ",";
          text += element.Scalar();
        }
      } else {
        return invalid(key, "expected a value or a list, got a mapping");
      }
      if (auto r = assign(loaded.config, *setting, text); !r) return tl::unexpected(r.error());
    }
  }
  if (auto r = validate_proxy_config(loaded.config); !r) return tl::unexpected(r.error());
  loaded.source = ConfigSource::YamlText;
  loaded.source_description = "YAML text";
  return loaded;
}

Result<LoadedConfig> load_proxy_config(const std::optional<std::string>& yaml_path,
                                       const Environment& env) {
  if (!yaml_path) {
    auto loaded = load_config_from_env(env);
    if (loaded) spdlog::info("configuration loaded from the {}", loaded->source_description);
    return loaded;
  }
  std::ifstream in(*yaml_path, std::ios::binary);
  if (!in) {
    return fail(Errc::Io, fmt::format("cannot read configuration file {}", *yaml_path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto loaded = load_config_from_yaml(text.str());
  if (!loaded) {
    return fail(loaded.error().code, fmt::format("{}: {}", *yaml_path, loaded.error().message));
  }
  loaded->source = ConfigSource::YamlFile;
  loaded->source_description = fmt::format("YAML file {}", *yaml_path);
  std::string ignored;
  for (const auto& [name, value] : env) {
    if (name.compare(0, 4, "ZDM_") != 0) continue;
    if (!ignored.empty()) ignored += ", ";
    ignored += name;
  }
  spdlog::info("configuration loaded from the {}", loaded->source_description);
  if (!ignored.empty()) {
    spdlog::warn("a configuration file is in use, so these environment variables are ignored: {}",
                 ignored);
  }
  return loaded;
}

std::string describe_effective(const ProxyConfig& config) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const Setting& setting : settings()) {
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(config.*member)>;
          const std::string key(setting.name);
          if constexpr (std::is_same_v<T, std::string>) {
            if (setting.secret) {
              json[key] = (config.*member).empty() ? "" : "<redacted>";
            } else {
              json[key] = config.*member;
            }
          } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, bool> ||
                               std::is_same_v<T, double>) {
            json[key] = config.*member;
          } else {
            json[key] = std::string(enum_name(config.*member));
          }
        },
        setting.field);
  }
  return json.dump();
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::Io, fmt::format("{}: cannot read it", path));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  if (line.empty()) {
    return fail(Errc::InvalidArgument, fmt::format("{}: the first line is empty", path));
  }
  return line;
}

std::string numeric_host(const std::string& host) {
  return host == "localhost" ? std::string("127.0.0.1") : host;
}

const std::vector<std::string>& live_setting_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Setting& s : settings()) {
      if (s.live) out.emplace_back(s.name);
    }
    return out;
  }();
  return names;
}

bool is_live_setting(std::string_view name) {
  const Setting* s = find_setting(name);
  return s != nullptr && s->live;
}

bool is_known_setting(std::string_view name) { return find_setting(name) != nullptr; }

Result<void> set_setting(ProxyConfig& config, std::string_view name, std::string_view text) {
  const Setting* setting = find_setting(name);
  if (setting == nullptr) {
    return fail(Errc::InvalidArgument,
                fmt::format("unknown setting '{}' (names are the ZDM_ variable names in lower "
                            "case without the prefix, e.g. primary_cluster)",
                            name));
  }
  return assign(config, *setting, text);
}

std::vector<SettingChange> diff_settings(const ProxyConfig& before, const ProxyConfig& after) {
  const auto a = nlohmann::ordered_json::parse(describe_effective(before));
  const auto b = nlohmann::ordered_json::parse(describe_effective(after));
  auto text = [](const nlohmann::ordered_json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::vector<SettingChange> out;
  for (const auto& [key, value] : a.items()) {
    const auto& other = b.at(key);
    if (value != other) out.push_back({key, text(value), text(other)});
  }
  // A secret changed behind the same "<redacted>" still counts as a change.
  for (const Setting& s : settings()) {
    if (!s.secret) continue;
    const auto* member = std::get_if<std::string ProxyConfig::*>(&s.field);
    if (member == nullptr || before.**member == after.**member) continue;
    const bool listed = std::any_of(out.begin(), out.end(),
                                    [&](const SettingChange& c) { return c.name == s.name; });
    if (!listed) out.push_back({std::string(s.name), "<redacted>", "<redacted (changed)>"});
  }
  return out;
}

}  // namespace zdm::proxy
