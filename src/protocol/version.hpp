#pragma once
// Protocol versions and what changes between them. DSE_V1 is built on v4 with v5-style integer
// query flags; DSE_V2 is built on v5 without v5's segment framing (checksumming).

#include <cstdint>
#include <optional>
#include <string_view>

namespace zdm::protocol {

enum class ProtocolVersion : uint8_t {
  V3 = 0x03,
  V4 = 0x04,
  V5 = 0x05,
  DseV1 = 0x41,
  DseV2 = 0x42,
};

// Recognises a supported version byte (direction bit already removed).
std::optional<ProtocolVersion> protocol_version_from_byte(uint8_t b);
std::string_view protocol_version_name(ProtocolVersion v);  // "v4", "DSE_V1", ...

constexpr uint8_t version_byte(ProtocolVersion v) { return static_cast<uint8_t>(v); }

// Query/batch flags are a [int] instead of a [byte].
constexpr bool uses_int_query_flags(ProtocolVersion v) { return version_byte(v) >= 5; }
// PREPARE carries a flags [int] (and optional keyspace).
constexpr bool uses_prepare_flags(ProtocolVersion v) {
  return version_byte(v) >= 5 && v != ProtocolVersion::DseV1;
}
// EXECUTE carries and PREPARED/ROWS results return the result metadata id.
constexpr bool uses_prepared_metadata(ProtocolVersion v) {
  return version_byte(v) >= 5 && v != ProtocolVersion::DseV1;
}
// READ/WRITE_FAILURE errors carry a reason map instead of a count.
constexpr bool uses_error_code_map(ProtocolVersion v) { return version_byte(v) >= 5; }
// QUERY/EXECUTE/BATCH/PREPARE may name a keyspace per request.
constexpr bool uses_keyspace_flag(ProtocolVersion v) {
  return version_byte(v) >= 5 && v != ProtocolVersion::DseV1;
}
// QUERY/EXECUTE/BATCH may carry now_in_seconds (v5 only; DSE versions do not define it).
constexpr bool uses_now_in_seconds(ProtocolVersion v) { return v == ProtocolVersion::V5; }
// After READY/AUTHENTICATE, frames travel inside v5 segments (CRC24/CRC32 framing).
constexpr bool uses_segments(ProtocolVersion v) { return v == ProtocolVersion::V5; }
// [value] may be "not set" (-2).
constexpr bool supports_unset_values(ProtocolVersion v) { return version_byte(v) >= 4; }
// DSE continuous paging options in QUERY/EXECUTE.
constexpr bool uses_continuous_paging(ProtocolVersion v) {
  return v == ProtocolVersion::DseV1 || v == ProtocolVersion::DseV2;
}

}  // namespace zdm::protocol
