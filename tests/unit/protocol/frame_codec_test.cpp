#include "protocol/frame_codec.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

FrameHeader header(ProtocolVersion v, Opcode op, int16_t stream, Direction d = Direction::Request,
                   uint8_t flags = 0) {
  return FrameHeader{v, d, flags, StreamId{stream}, op, 0};
}

Bytes text(size_t n, char salt = 'a') {
  static const std::string words = "SELECT value FROM ks.tbl WHERE id = ? AND ck > ? ";
  Bytes out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<uint8_t>(i % 97 == 0 ? salt : words[i % words.size()]));
  }
  return out;
}

struct Decoded {
  FrameHeader header;
  Bytes body;
  Bytes wire;
};

// Feeds `wire` cut at `cuts` and collects every frame; fails the test on a decoder error.
std::vector<Decoded> decode_chunked(FrameDecoder& d, ByteView wire, std::vector<size_t> cuts) {
  std::vector<Decoded> out;
  size_t at = 0;
  cuts.push_back(wire.size());
  for (size_t cut : cuts) {
    d.feed(wire.subspan(at, cut - at));
    at = cut;
    for (;;) {
      auto f = d.next();
      EXPECT_TRUE(f) << f.error().to_string();
      if (!f || !*f) break;
      out.push_back({(*f)->header, Bytes((*f)->body.begin(), (*f)->body.end()),
                     Bytes((*f)->wire.begin(), (*f)->wire.end())});
    }
  }
  return out;
}

Error first_error(FrameDecoder& d, ByteView wire) {
  d.feed(wire);
  for (int i = 0; i < 100; ++i) {
    auto f = d.next();
    if (!f) return f.error();
    if (!*f) break;
  }
  ADD_FAILURE() << "decoder accepted the input";
  return {};
}

struct Sample {
  FrameHeader header;
  Bytes body;
};

std::vector<Sample> samples(ProtocolVersion v) {
  return {
      {header(v, Opcode::Query, 1), text(60)},
      {header(v, Opcode::Options, 2), {}},
      {header(v, Opcode::Result, 3, Direction::Response, frame_flags::kWarning), text(5000, 'x')},
      {header(v, Opcode::Execute, 4, Direction::Request, frame_flags::kTracing), text(1)},
      {header(v, Opcode::Event, -1, Direction::Response), text(300000, 'y')},
      {header(v, Opcode::Ready, 5, Direction::Response), {}},
  };
}

TEST(EncodeFrame, WritesHeaderAndBodyUncompressed) {
  Bytes body = {0x00, 0x00, 0x00, 0x01};
  auto wire =
      encode_frame(header(ProtocolVersion::V4, Opcode::Result, 0x0102, Direction::Response), body);
  ASSERT_TRUE(wire);
  EXPECT_EQ(to_hex(*wire),
            "840001020800000004"
            "00000001");
}

TEST(EncodeFrame, CompressesOnlyFramesThatMayBeCompressed) {
  Bytes body = text(500);
  for (auto c : {Compression::Lz4, Compression::Snappy}) {
    auto query = encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), body, c).value();
    EXPECT_EQ(query[1] & frame_flags::kCompression, frame_flags::kCompression);
    EXPECT_LT(query.size(), kFrameHeaderSize + body.size());
    EXPECT_EQ(load_be32(query.data() + 5), query.size() - kFrameHeaderSize);
    for (auto op : {Opcode::Startup, Opcode::Options}) {
      auto plain = encode_frame(header(ProtocolVersion::V4, op, 1), body, c).value();
      EXPECT_EQ(plain[1], 0) << opcode_name(op);
      EXPECT_EQ(plain.size(), kFrameHeaderSize + body.size());
    }
    auto empty = encode_frame(header(ProtocolVersion::V4, Opcode::Ready, 1), {}, c).value();
    EXPECT_EQ(empty.size(), kFrameHeaderSize);
    EXPECT_EQ(empty[1], 0);
    // v5 compresses segments, never frame bodies.
    auto v5 = encode_frame(header(ProtocolVersion::V5, Opcode::Query, 1), body, c).value();
    EXPECT_EQ(v5[1], 0);
    // DSE_V2 is v5-based but keeps v4 framing, so its frames are compressed.
    auto dse = encode_frame(header(ProtocolVersion::DseV2, Opcode::Query, 1), body, c).value();
    EXPECT_EQ(dse[1], frame_flags::kCompression);
  }
}

TEST(EncodeFrame, ClearsACallerSetCompressionFlagWhenNotCompressing) {
  auto wire = encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1, Direction::Request,
                                  frame_flags::kCompression | frame_flags::kTracing),
                           text(10), Compression::None)
                  .value();
  EXPECT_EQ(wire[1], frame_flags::kTracing);
}

TEST(FrameDecoder, RoundTripsFramesWithEachCompressionAndChunking) {
  std::mt19937 rng(77);
  for (auto v : {ProtocolVersion::V3, ProtocolVersion::V4, ProtocolVersion::DseV1}) {
    for (auto c : {Compression::None, Compression::Lz4, Compression::Snappy}) {
      auto frames = samples(v);
      Bytes wire;
      for (const auto& s : frames) ASSERT_TRUE(encode_frame_into(s.header, s.body, c, wire));
      for (int round = 0; round < 6; ++round) {
        std::vector<size_t> cuts;
        if (round == 0) {
          for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);  // byte by byte
        } else {
          for (size_t at = rng() % 50; at < wire.size();
               at += 1 + rng() % (static_cast<unsigned>(round) * 3000u)) {
            if (at > 0) cuts.push_back(at);
          }
        }
        FrameDecoder d;
        d.set_compression(c);
        auto out = decode_chunked(d, wire, cuts);
        ASSERT_EQ(out.size(), frames.size());
        for (size_t i = 0; i < frames.size(); ++i) {
          EXPECT_EQ(out[i].body, frames[i].body);
          EXPECT_EQ(out[i].header.opcode, frames[i].header.opcode);
          EXPECT_EQ(out[i].header.stream, frames[i].header.stream);
          EXPECT_EQ(out[i].header.version, v);
          EXPECT_EQ(out[i].header.flags, frames[i].header.flags);  // compression flag cleared
          EXPECT_EQ(out[i].header.body_length, frames[i].body.size());
        }
        EXPECT_EQ(d.buffered_bytes(), 0u);
      }
    }
  }
}

TEST(FrameDecoder, HandsOutTheWireBytesAsReceived) {
  Bytes body = text(700);
  Bytes wire =
      encode_frame(header(ProtocolVersion::V4, Opcode::Query, 9), body, Compression::Lz4).value();
  FrameDecoder d;
  d.set_compression(Compression::Lz4);
  auto out = decode_chunked(d, wire, {3, 20});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].wire, wire);
  EXPECT_EQ(out[0].body, body);
}

TEST(FrameDecoder, WaitsOnTruncatedFrames) {
  Bytes wire = encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(40)).value();
  FrameDecoder d;
  d.feed(ByteView(wire).first(8));
  EXPECT_FALSE(d.next().value());
  d.feed(ByteView(wire).subspan(8, 20));
  EXPECT_FALSE(d.next().value());
  d.feed(ByteView(wire).subspan(28));
  auto f = d.next();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ((*f)->body.size(), 40u);
  EXPECT_FALSE(d.next().value());
}

TEST(FrameDecoder, RejectsOversizeBodyFromTheHeaderAlone) {
  FrameDecoder d(1000);
  Bytes head;
  append_frame_header(
      FrameHeader{ProtocolVersion::V4, Direction::Request, 0, StreamId{1}, Opcode::Query, 1001},
      head);
  auto e = first_error(d, head);
  EXPECT_EQ(e.code, Errc::TooLarge);
  // Stays failed.
  auto again = d.next();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::TooLarge);
}

TEST(FrameDecoder, RejectsDecompressedBodyOverTheLimit) {
  Bytes wire =
      encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(5000), Compression::Lz4)
          .value();
  ASSERT_LT(wire.size(), 2000u);
  FrameDecoder d(2000);
  d.set_compression(Compression::Lz4);
  EXPECT_EQ(first_error(d, wire).code, Errc::TooLarge);
}

TEST(FrameDecoder, RejectsUnknownVersionsAndOpcodes) {
  Bytes wire = encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(4)).value();
  for (uint8_t version : {uint8_t{0x01}, uint8_t{0x02}, uint8_t{0x06}, uint8_t{0x7F}}) {
    Bytes bad = wire;
    bad[0] = version;
    FrameDecoder d;
    EXPECT_EQ(first_error(d, bad).code, Errc::Unsupported) << int{version};
  }
  Bytes bad_opcode = wire;
  bad_opcode[4] = 0x04;
  FrameDecoder d;
  EXPECT_EQ(first_error(d, bad_opcode).code, Errc::Unsupported);
}

TEST(FrameDecoder, RejectsCompressedFrameWithoutNegotiatedCompression) {
  Bytes wire =
      encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(500), Compression::Lz4)
          .value();
  FrameDecoder d;
  auto e = first_error(d, wire);
  EXPECT_EQ(e.code, Errc::Malformed);
  EXPECT_NE(e.message.find("no compression was negotiated"), std::string::npos);
}

TEST(FrameDecoder, RejectsCorruptCompressedBody) {
  Bytes wire =
      encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(500), Compression::Snappy)
          .value();
  wire.back() ^= 0xFF;
  wire[wire.size() - 2] ^= 0xFF;
  wire.resize(wire.size() - 1);
  store_be32(wire.data() + 5, static_cast<uint32_t>(wire.size() - kFrameHeaderSize));
  FrameDecoder d;
  d.set_compression(Compression::Snappy);
  EXPECT_EQ(first_error(d, wire).code, Errc::Compression);
}

// The v5 handshake: STARTUP/READY as plain frames, then segments. The READY frame and the first
// segments arrive in one read, so the decoder must hand the leftover bytes to the segment decoder.
TEST(FrameDecoder, SwitchesToSegmentsAfterReadyWithBytesAlreadyBuffered) {
  for (auto c : {Compression::None, Compression::Lz4}) {
    Bytes wire =
        encode_frame(header(ProtocolVersion::V5, Opcode::Ready, 0, Direction::Response), {})
            .value();
    FrameEncoder enc;
    ASSERT_TRUE(enc.enable_segments(c));
    auto frames = samples(ProtocolVersion::V5);
    for (const auto& s : frames) ASSERT_TRUE(enc.encode(s.header, s.body, wire));
    ASSERT_TRUE(enc.flush(wire));

    FrameDecoder d;
    d.feed(wire);
    auto ready = d.next();
    ASSERT_TRUE(ready && *ready);
    EXPECT_EQ((*ready)->header.opcode, Opcode::Ready);
    ASSERT_TRUE(d.enable_segments(c));
    EXPECT_TRUE(d.segments_enabled());
    auto out = decode_chunked(d, {}, {});
    ASSERT_EQ(out.size(), frames.size()) << compression_name(c);
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(out[i].body, frames[i].body);
      EXPECT_EQ(out[i].header.stream, frames[i].header.stream);
    }
  }
}

TEST(FrameDecoder, DecodesSegmentsUnderEveryChunking) {
  std::mt19937 rng(5);
  for (auto c : {Compression::None, Compression::Lz4}) {
    FrameEncoder enc;
    ASSERT_TRUE(enc.enable_segments(c));
    Bytes wire;
    auto frames = samples(ProtocolVersion::V5);
    for (const auto& s : frames) ASSERT_TRUE(enc.encode(s.header, s.body, wire));
    ASSERT_TRUE(enc.flush(wire));
    for (int round = 0; round < 4; ++round) {
      std::vector<size_t> cuts;
      if (round == 0) {
        for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
      } else {
        for (size_t at = 1 + rng() % 9; at < wire.size();
             at += 1 + rng() % (static_cast<unsigned>(round) * 5000u)) {
          cuts.push_back(at);
        }
      }
      FrameDecoder d;
      ASSERT_TRUE(d.enable_segments(c));
      auto out = decode_chunked(d, wire, cuts);
      ASSERT_EQ(out.size(), frames.size());
      for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(out[i].body, frames[i].body);
    }
  }
}

TEST(FrameDecoder, RejectsNonV5FrameInsideASegment) {
  Bytes frame = encode_frame(header(ProtocolVersion::V4, Opcode::Query, 1), text(20)).value();
  Bytes wire;
  ASSERT_TRUE(encode_segment(frame, SelfContained::Yes, Compression::None, wire));
  FrameDecoder d;
  ASSERT_TRUE(d.enable_segments(Compression::None));
  EXPECT_EQ(first_error(d, wire).code, Errc::Malformed);
}

TEST(FrameDecoder, RejectsCompressionFlagInsideASegment) {
  Bytes frame = encode_frame(header(ProtocolVersion::V5, Opcode::Query, 1), text(20)).value();
  frame[1] |= frame_flags::kCompression;
  Bytes wire;
  ASSERT_TRUE(encode_segment(frame, SelfContained::Yes, Compression::None, wire));
  FrameDecoder d;
  ASSERT_TRUE(d.enable_segments(Compression::None));
  EXPECT_EQ(first_error(d, wire).code, Errc::Malformed);
}

TEST(FrameDecoder, RejectsSnappySegmentsAndEnablingTwice) {
  FrameDecoder d;
  auto snappy = d.enable_segments(Compression::Snappy);
  ASSERT_FALSE(snappy);
  EXPECT_EQ(snappy.error().code, Errc::Unsupported);
  EXPECT_FALSE(d.segments_enabled());
  ASSERT_TRUE(d.enable_segments(Compression::Lz4));
  EXPECT_FALSE(d.enable_segments(Compression::Lz4));
}

TEST(FrameEncoder, ForwardsEncodedFramesIntoSegments) {
  Bytes frame = encode_frame(header(ProtocolVersion::V5, Opcode::Query, 3), text(80)).value();
  FrameEncoder enc;
  Bytes plain;
  ASSERT_TRUE(enc.write_encoded(frame, plain));
  EXPECT_EQ(plain, frame);
  ASSERT_TRUE(enc.enable_segments(Compression::None));
  Bytes wire;
  ASSERT_TRUE(enc.write_encoded(frame, wire));
  EXPECT_TRUE(wire.empty());  // pending until flush
  ASSERT_TRUE(enc.flush(wire));
  EXPECT_EQ(wire.size(), 3 + 3 + frame.size() + 4);
  FrameDecoder d;
  ASSERT_TRUE(d.enable_segments(Compression::None));
  auto out = decode_chunked(d, wire, {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].wire, frame);
}

// FramedConnection trims its decoder whenever a read ends; a partial frame must survive that.
TEST(FrameDecoder, TrimBetweenReadsKeepsPartialFramesInFramesAndSegments) {
  for (bool segments : {false, true}) {
    const auto v = segments ? ProtocolVersion::V5 : ProtocolVersion::V4;
    auto frames = samples(v);
    Bytes big_body = text(20000);
    frames.push_back({header(v, Opcode::Query, 7), big_body});
    Bytes wire;
    FrameEncoder enc;
    if (segments) {
      ASSERT_TRUE(enc.enable_segments(Compression::None));
    }
    for (const auto& s : frames) ASSERT_TRUE(enc.encode(s.header, s.body, wire));
    ASSERT_TRUE(enc.flush(wire));
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{1000}, wire.size()}) {
      FrameDecoder d;
      if (segments) {
        ASSERT_TRUE(d.enable_segments(Compression::None));
      }
      std::vector<Bytes> bodies;
      for (size_t at = 0; at < wire.size(); at += chunk) {
        d.feed(ByteView(wire).subspan(at, std::min(chunk, wire.size() - at)));
        for (;;) {
          auto f = d.next();
          ASSERT_TRUE(f) << f.error().to_string();
          if (!*f) break;
          bodies.emplace_back((*f)->body.begin(), (*f)->body.end());
        }
        d.trim(16);
      }
      ASSERT_EQ(bodies.size(), frames.size()) << "chunk " << chunk;
      for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(bodies[i], frames[i].body);
    }
  }
}

}  // namespace
}  // namespace zdm::protocol
