#include "proxy/cluster/version_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "proxy/cluster/control_connection.hpp"

namespace zdm::proxy {

using protocol::ProtocolVersion;

// Protocol versions ordered by capability within their family.
int version_rank(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::V3:
      return 3;
    case ProtocolVersion::V4:
      return 4;
    case ProtocolVersion::V5:
      return 5;
    case ProtocolVersion::DseV1:
      return 14;
    case ProtocolVersion::DseV2:
      return 15;
  }
  return 0;
}
bool is_dse(ProtocolVersion v) {
  return v == ProtocolVersion::DseV1 || v == ProtocolVersion::DseV2;
}

namespace {

// The highest non-DSE version a cluster speaks: for a cluster on a DSE version, what its
// SUPPORTED lists, else v4 (every DSE with DSE_V1 speaks v4; its v5, if any, is a beta).
ProtocolVersion highest_oss_version(const ClusterView& view) {
  if (!is_dse(view.client_version)) return view.client_version;
  return highest_listed_version(view.supported, false).value_or(ProtocolVersion::V4);
}

}  // namespace

std::string served_versions_text(ProtocolVersion max, const ProxyConfig& config) {
  std::string served;
  for (auto candidate : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5,
                         ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    const bool fits = is_dse(max)
                          ? version_rank(candidate) <= version_rank(max)
                          : !is_dse(candidate) && version_rank(candidate) <= version_rank(max);
    if (!fits || config.is_blocked(candidate)) continue;
    if (!served.empty()) served += ", ";
    served += is_dse(candidate) ? fmt::format("{}/dse-v{}", protocol::version_byte(candidate),
                                              candidate == ProtocolVersion::DseV1 ? 1 : 2)
                                : fmt::format("{}/v{}", protocol::version_byte(candidate),
                                              protocol::version_byte(candidate));
  }
  return served;
}

// The version a refusal of `requested_rank` is answered in. Drivers read the answer's frame
// version as the server's suggestion (the Node.js driver and gocql retry with it; a version they
// do not know makes the Node.js driver step down one from it), so answer in the highest version
// we serve below the refused one, as Cassandra's "highest supported" is for a too-high version.
// A blocked version in the middle (e.g. v4 blocked, v3 and v5 served) then leads to v3 instead
// of a retry loop on v4. None below: the highest served; none served at all: `max`.
ProtocolVersion refusal_answer_version(int requested_rank, ProtocolVersion max,
                                       const ProxyConfig& config) {
  std::optional<ProtocolVersion> below;
  std::optional<ProtocolVersion> highest;
  for (auto candidate : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5,
                         ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    const bool fits =
        version_rank(candidate) <= version_rank(max) && (is_dse(max) || !is_dse(candidate));
    if (!fits || config.is_blocked(candidate)) continue;
    highest = candidate;
    if (version_rank(candidate) < requested_rank) below = candidate;
  }
  return below.value_or(highest.value_or(max));
}

bool serves_version(ProtocolVersion v, ProtocolVersion max, const ProxyConfig& config) {
  return !config.is_blocked(v) &&
         (is_dse(max) ? version_rank(v) <= version_rank(max)
                      : !is_dse(v) && version_rank(v) <= version_rank(max));
}

ProtocolVersion max_client_version(const ClusterView* o, const ClusterView* t,
                                   const ProxyConfig& config) {
  ProtocolVersion v = ProtocolVersion::V5;
  if (o && t) {
    // DSE versions only when both clusters speak one; otherwise the best v3..v5 of both.
    const bool both_dse = is_dse(o->client_version) && is_dse(t->client_version);
    const ProtocolVersion a = both_dse ? o->client_version : highest_oss_version(*o);
    const ProtocolVersion b = both_dse ? t->client_version : highest_oss_version(*t);
    v = version_rank(a) <= version_rank(b) ? a : b;
  } else if (o) {
    v = o->client_version;
  } else if (t) {
    v = t->client_version;
  }
  // Blocked versions make drivers step down (ZDM_BLOCKED_PROTOCOL_VERSIONS).
  while (config.is_blocked(v) && v != ProtocolVersion::V3) {
    v = v == ProtocolVersion::DseV2   ? ProtocolVersion::DseV1
        : v == ProtocolVersion::DseV1 ? ProtocolVersion::V5
        : v == ProtocolVersion::V5    ? ProtocolVersion::V4
                                      : ProtocolVersion::V3;
  }
  return v;
}

std::vector<protocol::ProtocolVersion> control_versions_from(protocol::ProtocolVersion max) {
  using protocol::ProtocolVersion;
  constexpr ProtocolVersion kOrder[] = {ProtocolVersion::DseV2, ProtocolVersion::DseV1,
                                        ProtocolVersion::V5, ProtocolVersion::V4,
                                        ProtocolVersion::V3};
  std::vector<ProtocolVersion> out;
  bool started = false;
  for (auto v : kOrder) {
    started = started || v == max;
    if (started) out.push_back(v);
  }
  if (out.empty()) out.assign(std::begin(kOrder), std::end(kOrder));
  return out;
}

std::optional<protocol::ProtocolVersion> highest_listed_version(
    const protocol::SupportedMessage& supported, bool include_dse) {
  // Position in the stepping order: lower is higher.
  const auto order = control_versions_from(protocol::ProtocolVersion::DseV2);
  std::optional<size_t> best;
  for (const auto& [key, values] : supported.options) {
    if (key != "PROTOCOL_VERSIONS") continue;
    for (const std::string& entry : values) {
      if (entry.find("beta") != std::string::npos) continue;
      int number = 0;
      size_t i = 0;
      while (i < entry.size() && i < 4 && entry[i] >= '0' && entry[i] <= '9') {
        number = number * 10 + (entry[i] - '0');
        ++i;
      }
      if (i == 0 || number > 255) continue;
      auto v = protocol::protocol_version_from_byte(static_cast<uint8_t>(number));
      if (!v) continue;
      if (!include_dse &&
          (*v == protocol::ProtocolVersion::DseV1 || *v == protocol::ProtocolVersion::DseV2)) {
        continue;
      }
      const auto at =
          static_cast<size_t>(std::find(order.begin(), order.end(), *v) - order.begin());
      if (at < order.size() && (!best || at < *best)) best = at;
    }
  }
  if (!best) return std::nullopt;
  return order[*best];
}

bool is_version_refusal(const client::ClientError& error) {
  // Some servers just close a connection that speaks a version they do not know.
  return error.kind == client::ClientErrc::VersionRefused ||
         error.kind == client::ClientErrc::ConnectionClosed;
}

}  // namespace zdm::proxy
