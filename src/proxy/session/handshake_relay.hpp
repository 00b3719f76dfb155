#pragma once
// The handshake of one client connection with both clusters, as a state machine without sockets:
// what each cluster's answer to STARTUP means, who authenticates where, when the client may hear
// READY or AUTH_SUCCESS. The session (session_handshake.cpp) owns the connections, carries out each
// step, and fails over to the next node (NodeRotation) until a node answers STARTUP.
//
// Rules (the reference's, plus the DSE mechanism step):
// - a cluster that refuses STARTUP (an ERROR, usually a protocol version it does not speak): its
//   answer goes to the client unchanged, origin's first, so the driver steps down; failed;
// - neither cluster authenticates: the primary's READY goes to the client; ready;
// - one authenticates: its AUTHENTICATE goes to the client, whose AUTH_RESPONSEs go there;
// - both: the client's credentials go to target (to origin with
//   forward_client_credentials_to_origin); the proxy logs in to the other cluster with the
//   configured credentials, or with the client's own PLAIN token when none are configured (sent
//   once the client's first AUTH_RESPONSE arrives). The client hears the first cluster's
//   AUTH_SUCCESS only once the proxy's login succeeded; a refused login reaches it as the
//   cluster's error, a login that never finishes (5 rounds) as BadCredentials;
// - DseAuthenticator: the proxy names the mechanism ("PLAIN") first and sends the token after the
//   "PLAIN-START" challenge; any other challenge is refused.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/version.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

// Failover: the next node of a cluster to try for one connection. Starts at `first` (round robin
// across sessions), skips nodes recently found down on the first pass, tries each node once.
class NodeRotation {
 public:
  explicit NodeRotation(size_t first = 0) : first_(first) {}
  // An index into a list of `count` nodes, or nullopt when every one was tried (at most 64).
  template <class RecentlyDown>  // bool(size_t index)
  std::optional<size_t> next(size_t count, RecentlyDown recently_down) {
    const size_t n = count < 64 ? count : 64;
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t p = 0; p < n; ++p) {
        if (tried_ & (uint64_t{1} << p)) continue;
        const size_t i = (first_ + p) % count;
        if (pass == 0 && recently_down(i)) continue;
        tried_ |= uint64_t{1} << p;
        return i;
      }
    }
    return std::nullopt;
  }
  size_t attempts() const { return static_cast<size_t>(__builtin_popcountll(tried_)); }

 private:
  size_t first_ = 0;
  uint64_t tried_ = 0;  // bit p: rotation position p tried
};

struct HandshakeSettings {
  ClusterType primary = ClusterType::Origin;  // whose READY the client gets
  bool forward_client_credentials_to_origin = false;
  std::string origin_username, origin_password;
  std::string target_username, target_password;
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;  // of the client connection
};

// What the session must do after an event. Carried out in this order: credentials, the client's
// frame, then the state change.
struct HandshakeStep {
  struct Credentials {
    ClusterType cluster;
    Bytes token;  // the AUTH_RESPONSE token
  };
  std::vector<Credentials> send;      // AUTH_RESPONSEs the proxy sends to a cluster
  Bytes to_client;                    // a whole frame for the client (its stream id is patched)
  bool client_authenticates = false;  // an AUTHENTICATE went to the client
  bool ready = false;                 // READY / AUTH_SUCCESS went to the client
  bool failed = false;                // the client got an error: the connection is done
};

class HandshakeRelay {
 public:
  explicit HandshakeRelay(HandshakeSettings settings) : settings_(std::move(settings)) {}

  // A cluster's answer to STARTUP (`wire`: the whole frame). `authenticator`: the class named by
  // an AUTHENTICATE. Nothing happens until both clusters answered.
  HandshakeStep on_startup_answer(ClusterType from, protocol::Opcode opcode, ByteView wire,
                                  std::string_view authenticator = {});
  // A cluster's answer to an AUTH_RESPONSE. `challenge`: the token of an AUTH_CHALLENGE.
  HandshakeStep on_auth_answer(ClusterType from, protocol::Opcode opcode, ByteView wire,
                               std::optional<ByteView> challenge = std::nullopt);
  // The client's AUTH_RESPONSE token. The session forwards the client's frame to
  // client_auth_cluster(); the step may add the proxy's own login to the other cluster.
  HandshakeStep on_client_auth_response(std::optional<ByteView> token);

  // The client's AUTH_RESPONSEs are expected (an AUTHENTICATE went to it).
  bool expects_client_auth() const { return client_auth_.has_value(); }
  ClusterType client_auth_cluster() const { return client_auth_.value_or(ClusterType::Target); }
  // Whether a cluster's frames during the handshake concern authentication (after STARTUP).
  bool answered_startup(ClusterType c) const { return leg(c).answered; }
  // The client's PLAIN token ("\0user\0password"), once seen: the async connection logs in with
  // it when no credentials are configured for its cluster.
  const Bytes& client_credentials() const { return client_credentials_; }

 private:
  enum class Auth : uint8_t { None, Client, Proxy, Done, Failed };
  struct Leg {
    bool answered = false;
    protocol::Opcode opcode = protocol::Opcode::Ready;
    Bytes held;  // an answer the client gets later
    Auth auth = Auth::None;
    bool dse = false;  // DseAuthenticator
    int rounds = 0;    // AUTH_RESPONSEs the proxy sent
  };
  Leg& leg(ClusterType c) { return legs_[c == ClusterType::Origin ? 0 : 1]; }
  const Leg& leg(ClusterType c) const { return legs_[c == ClusterType::Origin ? 0 : 1]; }
  static ClusterType other(ClusterType c) {
    return c == ClusterType::Origin ? ClusterType::Target : ClusterType::Origin;
  }

  HandshakeStep both_answered();
  // The proxy's login to `c`: the next AUTH_RESPONSE token, or the login's failure.
  void proxy_login(ClusterType c, std::optional<ByteView> challenge, HandshakeStep& step);
  void fail_proxy_login(ClusterType c, std::string message, HandshakeStep& step);
  // The client hears the first cluster's AUTH_SUCCESS once the proxy's login is done too.
  void finish_if_done(HandshakeStep& step);

  HandshakeSettings settings_;
  std::array<Leg, 2> legs_{};
  std::optional<ClusterType> client_auth_;  // where the client's AUTH_RESPONSEs go
  Bytes client_credentials_;
};

}  // namespace zdm::proxy
