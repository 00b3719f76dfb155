#include "protocol/frame_header.hpp"

#include <fmt/format.h>

namespace zdm::protocol {

std::optional<Opcode> opcode_from_byte(uint8_t b) {
  switch (b) {
    case 0x00:
    case 0x01:
    case 0x02:
    case 0x03:
    case 0x05:
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x0E:
    case 0x0F:
    case 0x10:
    case 0xFF:
      return static_cast<Opcode>(b);
    default:
      return std::nullopt;
  }
}

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::Error:
      return "ERROR";
    case Opcode::Startup:
      return "STARTUP";
    case Opcode::Ready:
      return "READY";
    case Opcode::Authenticate:
      return "AUTHENTICATE";
    case Opcode::Options:
      return "OPTIONS";
    case Opcode::Supported:
      return "SUPPORTED";
    case Opcode::Query:
      return "QUERY";
    case Opcode::Result:
      return "RESULT";
    case Opcode::Prepare:
      return "PREPARE";
    case Opcode::Execute:
      return "EXECUTE";
    case Opcode::Register:
      return "REGISTER";
    case Opcode::Event:
      return "EVENT";
    case Opcode::Batch:
      return "BATCH";
    case Opcode::AuthChallenge:
      return "AUTH_CHALLENGE";
    case Opcode::AuthResponse:
      return "AUTH_RESPONSE";
    case Opcode::AuthSuccess:
      return "AUTH_SUCCESS";
    case Opcode::DseRevise:
      return "REVISE_REQUEST";
  }
  return "UNKNOWN";
}

Result<FrameHeader> decode_frame_header(ByteView bytes, uint32_t max_body_length) {
  if (bytes.size() < kFrameHeaderSize) {
    return fail(Errc::Truncated, fmt::format("frame header needs 9 bytes, got {}", bytes.size()));
  }
  FrameHeader h;
  uint8_t raw_version = bytes[0] & 0x7F;
  auto version = protocol_version_from_byte(raw_version);
  if (!version) {
    return fail(Errc::Unsupported,
                fmt::format("unsupported protocol version 0x{:02x}", raw_version));
  }
  h.version = *version;
  h.direction = (bytes[0] & 0x80) ? Direction::Response : Direction::Request;
  h.flags = bytes[1];
  h.stream = StreamId{static_cast<int16_t>(load_be16(bytes.data() + 2))};
  auto opcode = opcode_from_byte(bytes[4]);
  if (!opcode) return fail(Errc::Unsupported, fmt::format("unknown opcode 0x{:02x}", bytes[4]));
  h.opcode = *opcode;
  h.body_length = load_be32(bytes.data() + 5);
  if (h.body_length > max_body_length) {
    return fail(Errc::TooLarge, fmt::format("frame body length {} exceeds the limit of {} bytes",
                                            h.body_length, max_body_length));
  }
  return h;
}

void encode_frame_header(const FrameHeader& header, uint8_t* out) {
  out[0] = static_cast<uint8_t>(version_byte(header.version) |
                                (header.direction == Direction::Response ? 0x80 : 0x00));
  out[1] = header.flags;
  store_be16(out + 2, static_cast<uint16_t>(header.stream.value));
  out[4] = static_cast<uint8_t>(header.opcode);
  store_be32(out + 5, header.body_length);
}

void append_frame_header(const FrameHeader& header, Bytes& out) {
  size_t at = out.size();
  out.resize(at + kFrameHeaderSize);
  encode_frame_header(header, out.data() + at);
}

}  // namespace zdm::protocol
