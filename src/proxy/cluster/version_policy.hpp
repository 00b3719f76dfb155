#pragma once
// Which protocol versions the proxy speaks, in one place: what clients may use (the lower of the
// two clusters, DSE versions only when both speak one, blocked versions stepped down), how a
// refused version is answered so that drivers step down, which versions a control connection
// tries and what counts as a cluster refusing one.

#include <optional>
#include <string>
#include <vector>

#include "client/client_error.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

struct ClusterView;

// Versions ordered by capability within their family (v3 < v4 < v5; DSE_V1 < DSE_V2 above all).
int version_rank(protocol::ProtocolVersion v);
bool is_dse(protocol::ProtocolVersion v);

// The highest version clients may use with these clusters (either may be null before its
// control connection answered; both null: v5), blocked versions stepped down.
protocol::ProtocolVersion max_client_version(const ClusterView* origin, const ClusterView* target,
                                             const ProxyConfig& config);
// Whether a client may use `v` when `max` is the highest served.
bool serves_version(protocol::ProtocolVersion v, protocol::ProtocolVersion max,
                    const ProxyConfig& config);
// "3/v3, 4/v4, 5/v5" (up to `max`, blocked ones left out), for version refusals.
std::string served_versions_text(protocol::ProtocolVersion max, const ProxyConfig& config);
// The version a refusal of a version of rank `requested_rank` is answered in (see the .cpp).
protocol::ProtocolVersion refusal_answer_version(int requested_rank, protocol::ProtocolVersion max,
                                                 const ProxyConfig& config);

// The versions a control connection tries, highest first, starting at `max`.
std::vector<protocol::ProtocolVersion> control_versions_from(protocol::ProtocolVersion max);
// Whether a failed connection attempt was the server refusing the protocol version (so a lower
// one is worth trying), as opposed to a network or authentication failure: by the client's error
// kind, never by message text.
bool is_version_refusal(const client::ClientError& error);
// The highest non-beta version in SUPPORTED's PROTOCOL_VERSIONS ("3/v3", "5/v5-beta",
// "66/dse-v2", ...), if the cluster lists any; DSE versions only with `include_dse`.
std::optional<protocol::ProtocolVersion> highest_listed_version(
    const protocol::SupportedMessage& supported, bool include_dse = true);

}  // namespace zdm::proxy
