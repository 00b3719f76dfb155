#pragma once
// The 9-byte frame header of protocol v3 and later, and the opcode set.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/version.hpp"

namespace zdm::protocol {

enum class Opcode : uint8_t {
  Error = 0x00,
  Startup = 0x01,
  Ready = 0x02,
  Authenticate = 0x03,
  Options = 0x05,
  Supported = 0x06,
  Query = 0x07,
  Result = 0x08,
  Prepare = 0x09,
  Execute = 0x0A,
  Register = 0x0B,
  Event = 0x0C,
  Batch = 0x0D,
  AuthChallenge = 0x0E,
  AuthResponse = 0x0F,
  AuthSuccess = 0x10,
  DseRevise = 0xFF,  // DSE_V1/V2: cancel or continue a continuous-paging request
};

std::optional<Opcode> opcode_from_byte(uint8_t b);
std::string_view opcode_name(Opcode op);  // "QUERY", "AUTH_SUCCESS", ...

enum class Direction : uint8_t { Request = 0, Response = 1 };

// Stream ids are signed 16-bit; negative ids are server-initiated (EVENT uses -1).
struct StreamId {
  int16_t value = 0;
  friend bool operator==(StreamId, StreamId) = default;
};

namespace frame_flags {
inline constexpr uint8_t kCompression = 0x01;
inline constexpr uint8_t kTracing = 0x02;
inline constexpr uint8_t kCustomPayload = 0x04;
inline constexpr uint8_t kWarning = 0x08;
inline constexpr uint8_t kUseBeta = 0x10;
}  // namespace frame_flags

inline constexpr size_t kFrameHeaderSize = 9;
// The spec caps a frame body at 256 MB.
inline constexpr uint32_t kMaxFrameBodyLength = 256u * 1024 * 1024;

struct FrameHeader {
  ProtocolVersion version = ProtocolVersion::V4;
  Direction direction = Direction::Request;
  uint8_t flags = 0;
  StreamId stream;
  Opcode opcode = Opcode::Options;
  uint32_t body_length = 0;

  bool has_flag(uint8_t f) const { return (flags & f) != 0; }
};

// Decodes a header from the first 9 bytes. Fails with Truncated when fewer are given, Unsupported
// for an unknown version or opcode, TooLarge for a body over `max_body_length`.
Result<FrameHeader> decode_frame_header(ByteView bytes,
                                        uint32_t max_body_length = kMaxFrameBodyLength);

// Writes the 9 header bytes into `out` (which must have room for them).
void encode_frame_header(const FrameHeader& header, uint8_t* out);
void append_frame_header(const FrameHeader& header, Bytes& out);

// Reads the version byte of an incoming frame without validating the rest, so a server can answer
// an unsupported version with a PROTOCOL_ERROR in a version the client understands.
inline uint8_t peek_raw_version_byte(const uint8_t* frame) { return frame[0] & 0x7F; }

// Rewrites the stream id of an encoded frame in place (header bytes 2-3).
inline void patch_stream_id(uint8_t* frame, StreamId id) {
  store_be16(frame + 2, static_cast<uint16_t>(id.value));
}
inline StreamId read_stream_id(const uint8_t* frame) {
  return StreamId{static_cast<int16_t>(load_be16(frame + 2))};
}

}  // namespace zdm::protocol
