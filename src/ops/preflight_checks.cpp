#include "ops/preflight_checks.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "common/timeuuid.hpp"
#include "proxy/cluster/control_connection.hpp"
#include "proxy/cluster/version_policy.hpp"

namespace zdm::ops {

using protocol::ProtocolVersion;

namespace {

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

bool answered(const ContactAnswer& c) {
  // An authentication error comes from a node that answered the handshake.
  return !c.error || c.error->kind == client::ClientErrc::Auth;
}

std::string where_to_look(const ClusterReach& r) {
  const std::string lower = r.name;
  if (!r.sni_proxy.empty()) {
    return fmt::format(
        "check ZDM_{0}_SECURE_CONNECT_BUNDLE_PATH ({1}_secure_connect_bundle_path in the YAML), "
        "the database status in the Astra console and the network path to {2}",
        r.settings, lower, r.sni_proxy);
  }
  return fmt::format(
      "check ZDM_{0}_CONTACT_POINTS and ZDM_{0}_PORT ({1}_contact_points/{1}_port in the YAML, or "
      "--{1}), that the nodes listen there and the network path; a node that does not complete "
      "the handshake within ZDM_{0}_CONNECTION_TIMEOUT_MS ({2} ms) counts as down; TLS: "
      "ZDM_{0}_TLS_*",
      r.settings, lower, r.connect_timeout_ms);
}

std::optional<client::ClientError> auth_error(const ClusterReach& r) {
  for (const auto& c : r.contacts) {
    if (c.error && c.error->kind == client::ClientErrc::Auth) return c.error;
  }
  if (r.session_error && r.session_error->kind == client::ClientErrc::Auth) return r.session_error;
  return std::nullopt;
}

Check reachable_check(const ClusterReach& r) {
  Check c{r.name + " reachable", CheckResult::Pass, "", ""};
  if (!r.setup_error.empty()) {
    c.result = CheckResult::Fail;
    c.detail = r.setup_error;
    c.advice = "fix the setting the message names, then run preflight again";
    return c;
  }
  std::vector<std::string> ok;
  std::vector<std::string> failed;
  for (const auto& a : r.contacts) {
    if (answered(a)) {
      ok.push_back(a.endpoint);
    } else {
      failed.push_back(fmt::format("{} ({})", a.endpoint, a.error->to_string()));
    }
  }
  if (!r.contacts.empty() && ok.empty()) {
    c.result = CheckResult::Fail;
    c.detail = "no contact point answered: " + join(failed, "; ");
    c.advice = where_to_look(r);
    return c;
  }
  if (!r.connected && !auth_error(r)) {
    c.result = CheckResult::Fail;
    const std::string where = r.sni_proxy.empty() ? join(ok) : "SNI proxy " + r.sni_proxy;
    c.detail = fmt::format("cannot open a session through {}: {}", where,
                           r.session_error ? r.session_error->to_string() : "unknown error");
    c.advice = where_to_look(r);
    return c;
  }
  c.detail = r.sni_proxy.empty() ? fmt::format("{} answered", join(ok))
                                 : fmt::format("reached through the SNI proxy {}", r.sni_proxy);
  if (r.connected) {
    c.detail +=
        fmt::format(" (Cassandra {}, protocol {}); {} node(s) of datacenter '{}' connected",
                    r.release_version.empty() ? "?" : r.release_version,
                    protocol::protocol_version_name(r.version), r.nodes_up.size(), r.datacenter);
  }
  std::vector<std::string> problems;
  if (!failed.empty()) problems.push_back("did not answer: " + join(failed, "; "));
  if (!r.nodes_down.empty()) {
    problems.push_back("listed in system.peers but refused a connection: " + join(r.nodes_down));
  }
  if (!problems.empty()) {
    c.result = CheckResult::Warn;
    c.detail += "; " + join(problems, "; ");
    c.advice = fmt::format(
        "the proxy starts with any contact point that answers and connects to every node of its "
        "datacenter: a node it cannot reach fails requests routed to it; {}",
        where_to_look(r));
  }
  return c;
}

}  // namespace

std::vector<Check> reach_checks(const ClusterReach& r) {
  std::vector<Check> out;
  out.push_back(reachable_check(r));
  if (out.front().result == CheckResult::Fail) return out;
  Check creds{r.name + " credentials", CheckResult::Pass, "", ""};
  if (auto error = auth_error(r)) {
    creds.result = CheckResult::Fail;
    creds.detail = error->to_string();
    creds.advice = fmt::format(
        "set ZDM_{0}_USERNAME and ZDM_{0}_PASSWORD ({1}_username/{1}_password in the YAML) to a "
        "role the {1} cluster accepts",
        r.settings, r.name);
  } else if (r.connected) {
    creds.detail = r.credentials_given ? "accepted" : "none given, none required";
  } else {
    return out;
  }
  out.push_back(std::move(creds));
  return out;
}

std::vector<ProtocolVersion> spoken_versions(ProtocolVersion negotiated,
                                             const protocol::SupportedMessage& supported) {
  std::vector<ProtocolVersion> out;
  for (const auto& [key, values] : supported.options) {
    if (key != "PROTOCOL_VERSIONS") continue;
    for (const std::string& entry : values) {
      if (entry.find("beta") != std::string::npos) continue;
      char* end = nullptr;
      const long number = std::strtol(entry.c_str(), &end, 10);
      if (end == entry.c_str() || number <= 0 || number > 255) continue;
      auto v = protocol::protocol_version_from_byte(static_cast<uint8_t>(number));
      if (v && std::find(out.begin(), out.end(), *v) == out.end()) out.push_back(*v);
    }
  }
  if (out.empty()) {
    for (auto v : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5}) {
      if (proxy::version_rank(v) <= proxy::version_rank(negotiated)) out.push_back(v);
    }
  }
  if (std::find(out.begin(), out.end(), negotiated) == out.end()) out.push_back(negotiated);
  std::sort(out.begin(), out.end(), [](ProtocolVersion a, ProtocolVersion b) {
    return proxy::version_rank(a) < proxy::version_rank(b);
  });
  return out;
}

namespace {

std::string versions_text(const std::vector<ProtocolVersion>& versions) {
  std::vector<std::string> names;
  for (auto v : versions) names.emplace_back(protocol::protocol_version_name(v));
  return names.empty() ? "none" : join(names);
}

bool contains(const std::vector<ProtocolVersion>& versions, ProtocolVersion v) {
  return std::find(versions.begin(), versions.end(), v) != versions.end();
}

}  // namespace

Check protocol_check(const ClusterProtocols& origin, const ClusterProtocols& target,
                     const proxy::ProxyConfig& config) {
  Check c{"protocol versions", CheckResult::Pass, "", ""};
  const auto o = spoken_versions(origin.negotiated, origin.supported);
  const auto t = spoken_versions(target.negotiated, target.supported);
  std::vector<ProtocolVersion> common;
  std::vector<ProtocolVersion> usable;
  for (auto v : o) {
    if (!contains(t, v)) continue;
    common.push_back(v);
    if (!config.is_blocked(v)) usable.push_back(v);
  }
  const std::string both = fmt::format("{} speaks {}; {} speaks {}", origin.name, versions_text(o),
                                       target.name, versions_text(t));
  if (usable.empty()) {
    c.result = CheckResult::Fail;
    if (common.empty()) {
      c.detail = both + ": no version in common";
      c.advice =
          "the proxy needs one protocol version both clusters speak: enable a common version on "
          "one of them (upgrade the older cluster or allow its older versions)";
    } else {
      c.detail = fmt::format("{}: {} in common, but blocked by blocked_protocol_versions", both,
                             versions_text(common));
      c.advice = "remove a common version from ZDM_BLOCKED_PROTOCOL_VERSIONS";
    }
    return c;
  }
  // The proxy's own rule for what it offers clients.
  proxy::ClusterView ov;
  ov.version = origin.negotiated;
  ov.client_version = o.back();
  ov.supported = origin.supported;
  proxy::ClusterView tv;
  tv.cluster = proxy::ClusterType::Target;
  tv.version = target.negotiated;
  tv.client_version = t.back();
  tv.supported = target.supported;
  const ProtocolVersion offered = proxy::max_client_version(&ov, &tv, config);
  if (o.back() == t.back()) {
    c.detail = fmt::format(
        "both clusters speak up to {} ({}); the proxy will offer clients up to {}",
        protocol::protocol_version_name(o.back()), both, protocol::protocol_version_name(offered));
    return c;
  }
  c.result = CheckResult::Warn;
  c.detail = fmt::format("{} speaks up to {}, {} up to {}: the proxy will offer clients up to {}",
                         origin.name, protocol::protocol_version_name(o.back()), target.name,
                         protocol::protocol_version_name(t.back()),
                         protocol::protocol_version_name(offered));
  c.advice = fmt::format(
      "clients negotiate {} or lower through the proxy: a driver pinned to a higher version "
      "fails to connect, so pin drivers to {} (or leave negotiation on) before phase 1",
      protocol::protocol_version_name(offered), protocol::protocol_version_name(offered));
  return c;
}

namespace {

std::string short_partitioner(const std::string& cls) {
  const auto dot = cls.rfind('.');
  return dot == std::string::npos ? cls : cls.substr(dot + 1);
}

}  // namespace

Check partitioner_check(const std::string& origin_class, const std::string& target_class) {
  Check c{"partitioners", CheckResult::Pass, "", ""};
  if (origin_class == target_class) {
    c.detail = fmt::format("both clusters use {}", short_partitioner(origin_class));
    return c;
  }
  c.result = CheckResult::Warn;
  c.detail = fmt::format("origin uses {}, target {}", short_partitioner(origin_class),
                         short_partitioner(target_class));
  c.advice =
      "copying and dual writes still work, but token-aware routing differs between the "
      "clusters and token() values and token-range queries give other answers on target";
  return c;
}

std::vector<Check> schema_checks(const migrate::Schema& origin, const migrate::Schema& target,
                                 const std::vector<std::string>& keyspaces) {
  std::vector<Check> out;
  for (const auto& k : keyspaces) {
    if (!origin.keyspace(k)) {
      out.push_back({"schema " + k, CheckResult::Fail,
                     fmt::format("keyspace '{}' does not exist on origin", k),
                     "check the names given with --keyspaces"});
    } else if (std::none_of(origin.tables.begin(), origin.tables.end(),
                            [&](const migrate::Table& t) { return t.keyspace == k; })) {
      out.push_back({"schema " + k, CheckResult::Warn,
                     fmt::format("keyspace '{}' has no table on origin", k),
                     "nothing of it will be migrated: check the names given with --keyspaces"});
    }
  }
  std::vector<const migrate::Table*> tables;
  for (const auto& t : origin.tables) tables.push_back(&t);
  if (tables.empty() && keyspaces.empty()) {
    out.push_back({"schema", CheckResult::Warn, "origin has no table outside the system keyspaces",
                   "check that the origin settings name the cluster the application uses, or give "
                   "--keyspaces"});
  }
  const auto problems = migrate::compare_schemas(tables, target);
  for (const auto& p : problems) {
    out.push_back(
        {fmt::format("schema {}.{}", p.keyspace, p.table), CheckResult::Fail, p.message,
         "make target's table match origin's before phase 1: dual writes to it fail "
         "(zdm migrate --schema-only creates missing keyspaces and tables, and copies nothing)"});
  }
  if (problems.empty() && !tables.empty()) {
    std::vector<std::string> names;
    for (const auto& k : origin.keyspaces) names.push_back(k.name);
    out.push_back({"schema", CheckResult::Pass,
                   fmt::format("{} table(s) of {} present on target with the same primary keys "
                               "and column types",
                               tables.size(), join(names)),
                   ""});
  }
  return out;
}

std::vector<Check> feature_checks(const migrate::Schema& origin,
                                  const std::map<std::string, int32_t>& default_ttls) {
  std::vector<Check> out;
  for (const auto& t : origin.tables) {
    if (t.is_counter_table()) {
      out.push_back(
          {"counter table " + t.id(), CheckResult::Warn,
           "counter updates are not idempotent: an update retried by a driver, or applied on one "
           "cluster and failed on the other, leaves the counters different",
           "do not retry counter updates on timeouts (driver retry policy), and after the "
           "migration compare the counters with zdm validate --tables " +
               t.id()});
    }
    for (const auto& col : t.columns) {
      if (!col.is_list()) continue;
      out.push_back(
          {fmt::format("non-frozen list {}.{}", t.id(), col.name), CheckResult::Warn,
           fmt::format("column '{}' is {}: appends and prepends are not idempotent, a retried "
                       "or half-failed dual write adds the elements twice on one cluster",
                       col.name, col.cql_type()),
           "prefer writing whole lists (SET col = [...]) or a set/frozen list; run zdm validate "
           "after phase 2 to find rows that differ"});
    }
    auto ttl = default_ttls.find(t.id());
    if (ttl != default_ttls.end() && ttl->second > 0) {
      out.push_back(
          {"default TTL " + t.id(), CheckResult::Warn,
           fmt::format("default_time_to_live is {} s: rows expire on their own", ttl->second),
           "zdm migrate keeps each cell's TTL, but rows that expire during the copy or "
           "validation show as differences: validate with a --ttl-tolerance, and copy such "
           "tables last or shortly before the cut-over"});
    }
  }
  if (out.empty() && !origin.tables.empty()) {
    out.push_back({"table features", CheckResult::Pass,
                   "no counter table, non-frozen list or default TTL in scope", ""});
  }
  return out;
}

CheckResult clock_skew_result(std::chrono::microseconds skew) {
  const auto magnitude = skew < std::chrono::microseconds::zero() ? -skew : skew;
  if (magnitude > kSkewFail) return CheckResult::Fail;
  if (magnitude > kSkewWarn) return CheckResult::Warn;
  return CheckResult::Pass;
}

std::optional<HostClock> host_clock(std::string host, const Uuid& server_now, int64_t before_us,
                                    int64_t after_us) {
  auto ticks = timeuuid_ticks(server_now);
  if (!ticks || after_us < before_us) return std::nullopt;
  const int64_t server_us = (*ticks - kGregorianToUnixTicks) / 10;
  const int64_t middle_us = before_us + (after_us - before_us) / 2;
  return HostClock{std::move(host), std::chrono::microseconds(server_us - middle_us),
                   std::chrono::microseconds(after_us - before_us)};
}

Check clock_check(const std::string& name, const std::vector<HostClock>& hosts,
                  const std::string& error) {
  Check c{name + " clock", CheckResult::Pass, "", ""};
  if (hosts.empty()) {
    c.result = CheckResult::Warn;
    c.detail = "could not read the cluster's time: " + error;
    c.advice = "compare the nodes' clocks with this machine's by hand (NTP status)";
    return c;
  }
  const HostClock* worst = &hosts.front();
  for (const auto& h : hosts) {
    if (std::llabs(h.skew.count()) > std::llabs(worst->skew.count())) worst = &h;
  }
  auto ms = [](std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; };
  c.result = clock_skew_result(worst->skew);
  c.detail = fmt::format("{} node(s); largest skew {:+.1f} ms at {} (round trip {:.1f} ms)",
                         hosts.size(), ms(worst->skew), worst->host, ms(worst->round_trip));
  if (c.result != CheckResult::Pass) {
    c.advice = fmt::format(
        "run NTP on every node and on the clients: writes get their timestamp where they are "
        "made, so a clock {} ms off decides which of two writes wins differently on the two "
        "clusters (warning above {} ms, failure above {} ms)",
        static_cast<long long>(ms(worst->skew)), kSkewWarn.count(), kSkewFail.count());
  }
  return c;
}

}  // namespace zdm::ops
