#include "protocol/frame_header.hpp"

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

TEST(FrameHeader, RoundTripsEveryVersionAndDirection) {
  for (auto v : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::V5,
                 ProtocolVersion::DseV1, ProtocolVersion::DseV2}) {
    for (auto d : {Direction::Request, Direction::Response}) {
      FrameHeader h{
          v,    d, frame_flags::kTracing | frame_flags::kWarning, StreamId{-1234}, Opcode::Execute,
          70000};
      Bytes buf;
      append_frame_header(h, buf);
      ASSERT_EQ(buf.size(), kFrameHeaderSize);
      auto back = decode_frame_header(buf);
      ASSERT_TRUE(back) << back.error().to_string();
      EXPECT_EQ(back->version, v);
      EXPECT_EQ(back->direction, d);
      EXPECT_EQ(back->flags, h.flags);
      EXPECT_EQ(back->stream, h.stream);
      EXPECT_EQ(back->opcode, Opcode::Execute);
      EXPECT_EQ(back->body_length, 70000u);
    }
  }
}

TEST(FrameHeader, MatchesTheSpecLayoutOfAResponse) {
  // v4 response, flags 0, stream 0x0102, RESULT, length 5.
  auto bytes = *from_hex("840001020800000005");
  auto h = decode_frame_header(bytes);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->version, ProtocolVersion::V4);
  EXPECT_EQ(h->direction, Direction::Response);
  EXPECT_EQ(h->stream.value, 0x0102);
  EXPECT_EQ(h->opcode, Opcode::Result);
  EXPECT_EQ(h->body_length, 5u);
}

TEST(FrameHeader, RejectsUnknownVersionsOpcodesAndOversizeBodies) {
  EXPECT_EQ(decode_frame_header(*from_hex("020000000500000000")).error().code, Errc::Unsupported);
  EXPECT_EQ(decode_frame_header(*from_hex("040000000400000000")).error().code, Errc::Unsupported);
  EXPECT_EQ(decode_frame_header(*from_hex("0400000005ffffffff")).error().code, Errc::TooLarge);
  EXPECT_EQ(decode_frame_header(*from_hex("04000000050000")).error().code, Errc::Truncated);
  auto small_limit = decode_frame_header(*from_hex("040000000500000100"), 255);
  EXPECT_EQ(small_limit.error().code, Errc::TooLarge);
}

TEST(FrameHeader, PatchesStreamIdInPlaceWithoutTouchingOtherBytes) {
  auto bytes = *from_hex("0400002a0700000010");
  patch_stream_id(bytes.data(), StreamId{-2});
  EXPECT_EQ(to_hex(bytes), "0400fffe0700000010");
  EXPECT_EQ(read_stream_id(bytes.data()).value, -2);
}

}  // namespace
}  // namespace zdm::protocol
