// Fuzz target for the message codec (protocol/messages.hpp).
//
// Input layout: byte 0 picks the protocol version, byte 1 the direction (bit 0) and the header
// flags (bits 1-5), byte 2 the opcode; the rest is the frame body. Any body must decode or fail
// cleanly; a body that decodes must re-encode to a body that decodes to an equal message and
// re-encodes to the same bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocol/messages.hpp"

namespace {

using zdm::protocol::Direction;
using zdm::protocol::FrameHeader;
using zdm::protocol::Opcode;
using zdm::protocol::ProtocolVersion;

constexpr std::array<ProtocolVersion, 5> kVersions = {ProtocolVersion::V3, ProtocolVersion::V4,
                                                      ProtocolVersion::V5, ProtocolVersion::DseV1,
                                                      ProtocolVersion::DseV2};
constexpr std::array<uint8_t, 17> kOpcodes = {0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09,
                                              0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0xFF};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "message_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  FrameHeader header;
  header.version = kVersions[data[0] % kVersions.size()];
  header.direction = (data[1] & 1) ? Direction::Response : Direction::Request;
  header.flags = static_cast<uint8_t>((data[1] >> 1) & 0x1F);
  header.opcode = static_cast<Opcode>(kOpcodes[data[2] % kOpcodes.size()]);
  header.stream = zdm::protocol::StreamId{7};
  zdm::ByteView body(data + 3, size - 3);
  header.body_length = static_cast<uint32_t>(body.size());

  auto message = zdm::protocol::decode_message(header, body);
  if (!message) return 0;
  (void)zdm::protocol::describe(*message);

  zdm::Bytes encoded = zdm::protocol::encode_message(*message);
  FrameHeader again = header;
  again.flags = zdm::protocol::envelope_flags(*message);
  again.body_length = static_cast<uint32_t>(encoded.size());
  auto decoded = zdm::protocol::decode_message(again, encoded);
  if (!decoded) die(("re-encoded message does not decode: " + decoded.error().to_string()).c_str());
  if (!(*decoded == *message)) die("re-encoded message decodes to a different message");
  if (zdm::protocol::encode_message(*decoded) != encoded) die("encoding is not stable");
  zdm::Bytes frame = zdm::protocol::encode_frame(*decoded);
  if (frame.size() != zdm::protocol::kFrameHeaderSize + encoded.size()) die("frame size is wrong");
  return 0;
}
