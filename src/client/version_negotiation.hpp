#pragma once
// Protocol version negotiation at connect time, as the DataStax drivers do it: start at the
// highest version (v5), and when the server rejects it with a PROTOCOL_ERROR about the version
// (or closes the connection during STARTUP), reconnect with the next lower one, down to v3.
// A fixed version is tried once. Pure state machine, no I/O.

#include <optional>
#include <string_view>

#include "protocol/messages.hpp"
#include "protocol/version.hpp"

namespace zdm::client {

class VersionNegotiation {
 public:
  // nullopt: negotiate from v5 down to v3; a version: use only that one.
  explicit VersionNegotiation(std::optional<protocol::ProtocolVersion> fixed = std::nullopt);

  protocol::ProtocolVersion current() const { return current_; }
  bool negotiating() const { return !fixed_; }

  // Whether an ERROR answer to STARTUP rejects the version (not, e.g., bad credentials).
  static bool is_version_rejection(const protocol::ErrorMessage& error);

  // After a rejection: moves to the version to try next and returns it, or nullopt when there is
  // none left (fixed version, or already at v3). `server_version` is the version byte of the
  // server's error frame when known: a server answers in a version it supports, so a lower one
  // is tried directly.
  std::optional<protocol::ProtocolVersion> on_rejected(
      std::optional<protocol::ProtocolVersion> server_version = std::nullopt);

 private:
  std::optional<protocol::ProtocolVersion> fixed_;
  protocol::ProtocolVersion current_;
  bool exhausted_ = false;
};

}  // namespace zdm::client
