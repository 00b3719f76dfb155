#include "protocol/segment.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

// A v5 request frame: 9-byte header and a body of `body_size` bytes, text-like (compressible) or
// random (incompressible).
Bytes make_frame(int16_t stream, size_t body_size, bool compressible = true, uint32_t seed = 1) {
  FrameHeader h{ProtocolVersion::V5, Direction::Request, 0,
                StreamId{stream},    Opcode::Query,      static_cast<uint32_t>(body_size)};
  Bytes out;
  append_frame_header(h, out);
  std::mt19937 rng(seed);
  static const std::string words = "SELECT v FROM ks.t WHERE k = ? ";
  for (size_t i = 0; i < body_size; ++i) {
    out.push_back(compressible ? static_cast<uint8_t>(words[i % words.size()])
                               : static_cast<uint8_t>(rng()));
  }
  return out;
}

SegmentDecoder make_decoder(Compression c, uint32_t max_body = kMaxFrameBodyLength) {
  auto d = SegmentDecoder::create(c, max_body);
  EXPECT_TRUE(d);
  return std::move(*d);
}

SegmentEncoder make_encoder(Compression c) {
  auto e = SegmentEncoder::create(c);
  EXPECT_TRUE(e);
  return std::move(*e);
}

// Drains every complete frame currently decodable; fails the test on a decoder error.
void drain(SegmentDecoder& d, std::vector<Bytes>& frames) {
  for (;;) {
    auto f = d.next_frame();
    ASSERT_TRUE(f) << f.error().to_string();
    if (!*f) return;
    frames.emplace_back((*f)->begin(), (*f)->end());
  }
}

// Feeds `wire` split at the given cut points and returns the frames decoded.
std::vector<Bytes> decode_chunked(Compression c, ByteView wire, std::vector<size_t> cuts) {
  SegmentDecoder d = make_decoder(c);
  std::vector<Bytes> frames;
  size_t at = 0;
  cuts.push_back(wire.size());
  for (size_t cut : cuts) {
    d.feed(wire.subspan(at, cut - at));
    at = cut;
    drain(d, frames);
  }
  EXPECT_EQ(d.buffered_bytes(), 0u);
  EXPECT_FALSE(d.in_large_frame());
  return frames;
}

struct Parsed {
  std::vector<SegmentView> segments;
  std::vector<Bytes> payloads;
};
Parsed parse_all(ByteView wire, Compression c) {
  Parsed p;
  Bytes scratch;
  while (!wire.empty()) {
    auto s = parse_segment(wire, c, scratch);
    EXPECT_TRUE(s && *s);
    if (!s || !*s) break;
    p.segments.push_back(**s);
    p.payloads.emplace_back((*s)->payload.begin(), (*s)->payload.end());
    wire = wire.subspan((*s)->encoded_size);
  }
  return p;
}

std::vector<Bytes> sample_frames(bool compressible) {
  return {make_frame(1, 0, compressible, 1),      make_frame(2, 200, compressible, 2),
          make_frame(3, 5000, compressible, 3),   make_frame(4, 70000, compressible, 4),
          make_frame(5, 300000, compressible, 5), make_frame(6, 31, compressible, 6)};
}

Bytes encode_all(Compression c, const std::vector<Bytes>& frames) {
  SegmentEncoder e = make_encoder(c);
  Bytes wire;
  for (const auto& f : frames) EXPECT_TRUE(e.add_frame(f, wire));
  EXPECT_TRUE(e.flush(wire));
  EXPECT_EQ(e.pending_bytes(), 0u);
  return wire;
}

TEST(SegmentCrc, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32_update(0, as_bytes("123456789")), 0xCBF43926u);
  // Continuing a CRC over a split input gives the same result as one pass.
  uint32_t part = crc32_update(0, as_bytes("12345"));
  EXPECT_EQ(crc32_update(part, as_bytes("6789")), 0xCBF43926u);
}

TEST(SegmentCrc, MatchesValuesFromThePythonDriver) {
  // cassandra/segment.py: compute_crc24(0, 3) and compute_crc32(data, CRC32_INITIAL).
  EXPECT_EQ(segment_header_crc24(0, 3), 0x7DE777u);
  EXPECT_EQ(segment_payload_crc32({}), 0x44777ED3u);
  EXPECT_EQ(segment_payload_crc32(as_bytes("123456789")), 0xE2A261A7u);
}

TEST(Segment, UncompressedHeaderPacksLengthAndSelfContainedFlagLittleEndian) {
  Bytes payload = make_frame(0, 11);  // 20 bytes
  Bytes wire;
  ASSERT_TRUE(encode_segment(payload, SelfContained::Yes, Compression::None, wire));
  ASSERT_EQ(wire.size(), 3 + 3 + 20 + 4u);
  // 20 | 1 << 17 = 0x020014, little-endian.
  EXPECT_EQ(wire[0], 0x14);
  EXPECT_EQ(wire[1], 0x00);
  EXPECT_EQ(wire[2], 0x02);
  uint32_t crc24 = segment_header_crc24(0x020014, 3);
  EXPECT_EQ(wire[3], crc24 & 0xFF);
  EXPECT_EQ(wire[4], (crc24 >> 8) & 0xFF);
  EXPECT_EQ(wire[5], crc24 >> 16);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), wire.begin() + 6));
  uint32_t crc32 = segment_payload_crc32(payload);
  EXPECT_EQ(wire[26], crc32 & 0xFF);
  EXPECT_EQ(wire[29], crc32 >> 24);

  Bytes not_self_contained;
  ASSERT_TRUE(encode_segment(payload, SelfContained::No, Compression::None, not_self_contained));
  EXPECT_EQ(not_self_contained[2], 0x00);
}

TEST(Segment, CompressedHeaderCarriesBothLengthsAndFlagAtBit34) {
  Bytes payload = make_frame(0, 1000);  // compresses well
  Bytes wire;
  ASSERT_TRUE(encode_segment(payload, SelfContained::Yes, Compression::Lz4, wire));
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i) bits |= uint64_t{wire[static_cast<size_t>(i)]} << (8 * i);
  size_t compressed = bits & 0x1FFFF;
  EXPECT_EQ((bits >> 17) & 0x1FFFF, 1009u);
  EXPECT_EQ((bits >> 34) & 1, 1u);
  EXPECT_EQ(bits >> 35, 0u);
  EXPECT_LT(compressed, 1009u);
  EXPECT_EQ(wire.size(), 5 + 3 + compressed + 4);
}

TEST(Segment, IncompressiblePayloadIsSentUncompressedWithZeroUncompressedLength) {
  Bytes payload = make_frame(0, 4000, /*compressible=*/false);
  Bytes wire;
  ASSERT_TRUE(encode_segment(payload, SelfContained::Yes, Compression::Lz4, wire));
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i) bits |= uint64_t{wire[static_cast<size_t>(i)]} << (8 * i);
  EXPECT_EQ(bits & 0x1FFFF, payload.size());
  EXPECT_EQ((bits >> 17) & 0x1FFFF, 0u);
  auto parsed = parse_all(wire, Compression::Lz4);
  ASSERT_EQ(parsed.payloads.size(), 1u);
  EXPECT_EQ(parsed.payloads[0], payload);
}

TEST(Segment, RejectsPayloadOverTheMaximumAndSnappy) {
  Bytes big(kMaxSegmentPayload + 1);
  Bytes wire;
  auto r = encode_segment(big, SelfContained::No, Compression::None, wire);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::TooLarge);
  EXPECT_TRUE(wire.empty());
  auto s = encode_segment(Bytes{1}, SelfContained::Yes, Compression::Snappy, wire);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::Unsupported);
  EXPECT_FALSE(SegmentDecoder::create(Compression::Snappy));
  EXPECT_FALSE(SegmentEncoder::create(Compression::Snappy));
}

TEST(SegmentEncoder, PacksSeveralSmallFramesIntoOneSelfContainedSegment) {
  std::vector<Bytes> frames = {make_frame(1, 10), make_frame(2, 200), make_frame(3, 0)};
  for (auto c : {Compression::None, Compression::Lz4}) {
    Bytes wire = encode_all(c, frames);
    auto parsed = parse_all(wire, c);
    ASSERT_EQ(parsed.segments.size(), 1u);
    EXPECT_EQ(parsed.segments[0].self_contained, SelfContained::Yes);
    Bytes joined;
    for (const auto& f : frames) joined.insert(joined.end(), f.begin(), f.end());
    EXPECT_EQ(parsed.payloads[0], joined);
    EXPECT_EQ(decode_chunked(c, wire, {}), frames);
  }
}

TEST(SegmentEncoder, StartsANewSegmentWhenTheNextFrameDoesNotFit) {
  std::vector<Bytes> frames = {make_frame(1, 100000), make_frame(2, 100000)};
  Bytes wire = encode_all(Compression::None, frames);
  auto parsed = parse_all(wire, Compression::None);
  ASSERT_EQ(parsed.segments.size(), 2u);
  EXPECT_EQ(parsed.payloads[0], frames[0]);
  EXPECT_EQ(parsed.payloads[1], frames[1]);
}

TEST(SegmentEncoder, FrameOfExactlyTheMaximumPayloadFitsOneSelfContainedSegment) {
  Bytes frame = make_frame(1, kMaxSegmentPayload - kFrameHeaderSize);
  ASSERT_EQ(frame.size(), kMaxSegmentPayload);
  Bytes wire = encode_all(Compression::None, {frame});
  auto parsed = parse_all(wire, Compression::None);
  ASSERT_EQ(parsed.segments.size(), 1u);
  EXPECT_EQ(parsed.segments[0].self_contained, SelfContained::Yes);
}

TEST(SegmentEncoder, SplitsALargeFrameAcrossNonSelfContainedSegments) {
  Bytes frame = make_frame(1, 2 * kMaxSegmentPayload + 100);
  for (auto c : {Compression::None, Compression::Lz4}) {
    Bytes wire = encode_all(c, {make_frame(9, 5), frame, make_frame(10, 5)});
    auto parsed = parse_all(wire, c);
    ASSERT_EQ(parsed.segments.size(), 5u);  // small, 3 parts, small
    EXPECT_EQ(parsed.segments[0].self_contained, SelfContained::Yes);
    for (size_t i = 1; i <= 3; ++i) EXPECT_EQ(parsed.segments[i].self_contained, SelfContained::No);
    EXPECT_EQ(parsed.payloads[1].size(), kMaxSegmentPayload);
    EXPECT_EQ(parsed.payloads[3].size(), frame.size() - 2 * kMaxSegmentPayload);
    EXPECT_EQ(parsed.segments[4].self_contained, SelfContained::Yes);
    auto frames = decode_chunked(c, wire, {});
    ASSERT_EQ(frames.size(), 3u);
    EXPECT_EQ(frames[1], frame);
  }
}

TEST(SegmentDecoder, DecodesEveryFrameWhenFedByteByByte) {
  std::vector<Bytes> frames = {make_frame(1, 0), make_frame(2, 200), make_frame(3, 140000),
                               make_frame(4, 7)};
  for (auto c : {Compression::None, Compression::Lz4}) {
    Bytes wire = encode_all(c, frames);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(decode_chunked(c, wire, cuts), frames) << compression_name(c);
  }
}

TEST(SegmentDecoder, DecodesEveryFrameUnderRandomSplits) {
  std::mt19937 rng(20240601);
  for (bool compressible : {true, false}) {
    auto frames = sample_frames(compressible);
    for (auto c : {Compression::None, Compression::Lz4}) {
      Bytes wire = encode_all(c, frames);
      for (int round = 0; round < 20; ++round) {
        std::vector<size_t> cuts;
        size_t at = 0;
        for (;;) {
          at += 1 + rng() % (round % 2 == 0 ? 64 : 40000);
          if (at >= wire.size()) break;
          cuts.push_back(at);
        }
        ASSERT_EQ(decode_chunked(c, wire, cuts), frames)
            << compression_name(c) << " round " << round;
      }
    }
  }
}

TEST(SegmentDecoder, WaitsOnTruncatedInput) {
  Bytes frame = make_frame(1, 50);
  Bytes wire = encode_all(Compression::None, {frame});
  SegmentDecoder d = make_decoder(Compression::None);
  d.feed(ByteView(wire).first(wire.size() - 1));
  auto r = d.next_frame();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(d.buffered_bytes(), wire.size() - 1);
  d.feed(ByteView(wire).last(1));
  auto f = d.next_frame();
  ASSERT_TRUE(f && *f);
  EXPECT_EQ(Bytes((*f)->begin(), (*f)->end()), frame);
}

TEST(SegmentDecoder, RejectsCorruptHeaderCrcAndStaysFailed) {
  Bytes wire = encode_all(Compression::None, {make_frame(1, 50)});
  wire[4] ^= 0x01;  // inside the CRC24
  SegmentDecoder d = make_decoder(Compression::None);
  d.feed(wire);
  auto r = d.next_frame();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::ChecksumMismatch);
  EXPECT_NE(r.error().message.find("CRC24"), std::string::npos);
  d.feed(encode_all(Compression::None, {make_frame(2, 5)}));
  auto again = d.next_frame();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::ChecksumMismatch);
}

TEST(SegmentDecoder, RejectsCorruptHeaderBitsBeforeWaitingForTheirPayload) {
  Bytes wire = encode_all(Compression::None, {make_frame(1, 50)});
  wire[0] ^= 0x40;  // payload length changes; the CRC24 no longer matches
  SegmentDecoder d = make_decoder(Compression::None);
  d.feed(ByteView(wire).first(6));
  auto r = d.next_frame();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::ChecksumMismatch);
}

TEST(SegmentDecoder, RejectsCorruptPayloadCrc) {
  for (auto c : {Compression::None, Compression::Lz4}) {
    Bytes wire = encode_all(c, {make_frame(1, 500)});
    wire[wire.size() / 2] ^= 0x80;  // inside the payload
    SegmentDecoder d = make_decoder(c);
    d.feed(wire);
    auto r = d.next_frame();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::ChecksumMismatch);
    EXPECT_NE(r.error().message.find("CRC32"), std::string::npos);
  }
}

// Builds a segment with valid CRCs around arbitrary header fields and payload bytes.
Bytes raw_segment(Compression c, ByteView sent, uint64_t uncompressed_length, bool self_contained) {
  size_t hl = c == Compression::Lz4 ? 5 : 3;
  uint64_t bits = sent.size();
  unsigned flag = 17;
  if (c == Compression::Lz4) {
    bits |= uncompressed_length << 17;
    flag = 34;
  }
  if (self_contained) bits |= uint64_t{1} << flag;
  Bytes out;
  for (size_t i = 0; i < hl; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  uint32_t crc24 = segment_header_crc24(bits, hl);
  for (int i = 0; i < 3; ++i) out.push_back(static_cast<uint8_t>(crc24 >> (8 * i)));
  out.insert(out.end(), sent.begin(), sent.end());
  uint32_t crc32 = segment_payload_crc32(sent);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(crc32 >> (8 * i)));
  return out;
}

Error decode_error(Compression c, ByteView wire, uint32_t max_body = kMaxFrameBodyLength) {
  SegmentDecoder d = make_decoder(c, max_body);
  d.feed(wire);
  for (int i = 0; i < 100; ++i) {
    auto r = d.next_frame();
    if (!r) return r.error();
    if (!*r) break;
  }
  ADD_FAILURE() << "decoder accepted the input";
  return {};
}

TEST(SegmentDecoder, RejectsCorruptLz4PayloadWithValidCrc) {
  Bytes garbage = {0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02};
  EXPECT_EQ(decode_error(Compression::Lz4, raw_segment(Compression::Lz4, garbage, 1000, true)).code,
            Errc::Compression);
}

TEST(SegmentDecoder, RejectsSelfContainedSegmentEndingInsideAFrame) {
  Bytes frame = make_frame(1, 100);
  Bytes cut(frame.begin(), frame.end() - 1);
  EXPECT_EQ(decode_error(Compression::None, raw_segment(Compression::None, cut, 0, true)).code,
            Errc::Malformed);
  Bytes header_only(frame.begin(), frame.begin() + 5);
  EXPECT_EQ(
      decode_error(Compression::None, raw_segment(Compression::None, header_only, 0, true)).code,
      Errc::Malformed);
}

TEST(SegmentDecoder, RejectsSelfContainedSegmentInsideASplitFrame) {
  Bytes frame = make_frame(1, 1000);
  Bytes wire = raw_segment(Compression::None, ByteView(frame).first(500), 0, false);
  Bytes other = raw_segment(Compression::None, make_frame(2, 1), 0, true);
  wire.insert(wire.end(), other.begin(), other.end());
  EXPECT_EQ(decode_error(Compression::None, wire).code, Errc::Malformed);
}

TEST(SegmentDecoder, RejectsSplitFrameSegmentsCarryingExtraBytes) {
  Bytes frame = make_frame(1, 1000);
  frame.push_back(0x42);
  EXPECT_EQ(decode_error(Compression::None, raw_segment(Compression::None, frame, 0, false)).code,
            Errc::Malformed);
}

TEST(SegmentDecoder, RejectsFramesOverTheBodyLimitBeforeBufferingThem) {
  // Self-contained: the frame's declared body is over the limit.
  EXPECT_EQ(decode_error(Compression::None,
                         raw_segment(Compression::None, make_frame(1, 2000), 0, true), 1000)
                .code,
            Errc::TooLarge);
  // Split: the first part's header already declares 1 GiB.
  Bytes header = make_frame(1, 0);
  store_be32(header.data() + 5, 1u << 30);
  header.resize(100);
  EXPECT_EQ(decode_error(Compression::None, raw_segment(Compression::None, header, 0, false)).code,
            Errc::TooLarge);
}

TEST(SegmentDecoder, ReassemblesSplitFrameWhoseHeaderSpansSegments) {
  Bytes frame = make_frame(1, 40);
  Bytes wire = raw_segment(Compression::None, ByteView(frame).first(4), 0, false);
  Bytes rest = raw_segment(Compression::None, ByteView(frame).subspan(4), 0, false);
  wire.insert(wire.end(), rest.begin(), rest.end());
  EXPECT_EQ(decode_chunked(Compression::None, wire, {}), std::vector<Bytes>{frame});
}

TEST(SegmentDecoder, AcceptsEmptySelfContainedSegment) {
  // The Python driver encodes an empty message as one empty self-contained segment.
  Bytes wire = raw_segment(Compression::None, {}, 0, true);
  Bytes frame = make_frame(3, 3);
  Bytes next = raw_segment(Compression::None, frame, 0, true);
  wire.insert(wire.end(), next.begin(), next.end());
  EXPECT_EQ(decode_chunked(Compression::None, wire, {}), std::vector<Bytes>{frame});
}

TEST(SegmentDecoder, HandedOutFrameStaysValidUntilTheNextCall) {
  // Frames view the decoder's buffers; check the view after draining only the first frame, then
  // feeding more (which may move the buffers) before asking again.
  std::vector<Bytes> frames = {make_frame(1, 30), make_frame(2, 40)};
  Bytes wire = encode_all(Compression::None, frames);
  SegmentDecoder d = make_decoder(Compression::None);
  d.feed(wire);
  auto first = d.next_frame();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(Bytes((*first)->begin(), (*first)->end()), frames[0]);
  Bytes more = encode_all(Compression::None, {make_frame(3, 50)});
  for (int i = 0; i < 50; ++i) d.feed(more);  // grows the input buffer
  auto second = d.next_frame();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(Bytes((*second)->begin(), (*second)->end()), frames[1]);
  std::vector<Bytes> rest;
  drain(d, rest);
  EXPECT_EQ(rest.size(), 50u);
}

}  // namespace
}  // namespace zdm::protocol
