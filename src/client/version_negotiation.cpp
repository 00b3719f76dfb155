#include "client/version_negotiation.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace zdm::client {

using protocol::ProtocolVersion;

VersionNegotiation::VersionNegotiation(std::optional<ProtocolVersion> fixed)
    : fixed_(fixed), current_(fixed.value_or(ProtocolVersion::V5)) {}

bool VersionNegotiation::is_version_rejection(const protocol::ErrorMessage& error) {
  if (error.code != protocol::ErrorCode::ProtocolError &&
      error.code != protocol::ErrorCode::ServerError) {
    return false;
  }
  std::string lower(error.message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Cassandra: "Invalid or unsupported protocol version (5); supported versions are ...",
  // "Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset".
  return lower.find("version") != std::string::npos;
}

std::optional<ProtocolVersion> VersionNegotiation::on_rejected(
    std::optional<ProtocolVersion> server_version) {
  if (fixed_ || exhausted_) {
    exhausted_ = true;
    return std::nullopt;
  }
  auto byte = protocol::version_byte(current_);
  uint8_t next = static_cast<uint8_t>(byte - 1);
  if (server_version) {
    auto s = protocol::version_byte(*server_version);
    if (s < byte && s >= protocol::version_byte(ProtocolVersion::V3)) next = s;
  }
  if (byte <= protocol::version_byte(ProtocolVersion::V3) ||
      next < protocol::version_byte(ProtocolVersion::V3)) {
    exhausted_ = true;
    return std::nullopt;
  }
  current_ = static_cast<ProtocolVersion>(next);
  return current_;
}

}  // namespace zdm::client
