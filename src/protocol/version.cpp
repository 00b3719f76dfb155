#include "protocol/version.hpp"

namespace zdm::protocol {

std::optional<ProtocolVersion> protocol_version_from_byte(uint8_t b) {
  switch (b) {
    case 0x03:
      return ProtocolVersion::V3;
    case 0x04:
      return ProtocolVersion::V4;
    case 0x05:
      return ProtocolVersion::V5;
    case 0x41:
      return ProtocolVersion::DseV1;
    case 0x42:
      return ProtocolVersion::DseV2;
    default:
      return std::nullopt;
  }
}

std::string_view protocol_version_name(ProtocolVersion v) {
  switch (v) {
    case ProtocolVersion::V3:
      return "v3";
    case ProtocolVersion::V4:
      return "v4";
    case ProtocolVersion::V5:
      return "v5";
    case ProtocolVersion::DseV1:
      return "DSE_V1";
    case ProtocolVersion::DseV2:
      return "DSE_V2";
  }
  return "unknown";
}

}  // namespace zdm::protocol
