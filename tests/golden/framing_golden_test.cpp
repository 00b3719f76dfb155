// Framing against the DataStax Python driver (gen_framing.py): v5 segments from its SegmentCodec
// (with and without LZ4) and v3/v4 frames compressed by its lz4/snappy compressors.
#include <lz4.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/bytes.hpp"
#include "golden_data.hpp"
#include "protocol/compression.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/segment.hpp"

namespace zdm::protocol {
namespace {

const nlohmann::json& data() {
  static const nlohmann::json doc = golden::load("framing.json");
  return doc;
}

Bytes hex(const nlohmann::json& j) {
  auto b = from_hex(j.get<std::string>());
  EXPECT_TRUE(b);
  return b ? *b : Bytes{};
}

Compression compression_of(const nlohmann::json& j) {
  const auto name = j.get<std::string>();
  if (name == "none") return Compression::None;
  auto c = compression_from_name(name);
  EXPECT_TRUE(c) << name;
  return c ? *c : Compression::None;
}

// Compressed bytes can be compared byte for byte only when the driver's compressor ran with the
// liblz4 we link (LZ4 output is deterministic per library version but not across versions).
// Otherwise only the decompressed result is compared. Uncompressed segments, headers and CRCs are
// always compared exactly.
bool same_lz4_library() {
  return data().value("lz4_library_version", "") == std::string(LZ4_versionString());
}

const nlohmann::json& cases(const char* key) {
  static const nlohmann::json empty = nlohmann::json::array();
  if (!data().is_object() || !data().contains(key)) {
    ADD_FAILURE() << "framing.json has no '" << key << "' cases";
    return empty;
  }
  EXPECT_FALSE(data()[key].empty());
  return data()[key];
}

TEST(FramingGolden, CrcsMatchTheDriver) {
  for (const auto& c : cases("crc")) {
    if (c["kind"] == "crc24") {
      EXPECT_EQ(segment_header_crc24(c["bits"].get<uint64_t>(), c["length"].get<size_t>()),
                c["crc"].get<uint32_t>())
          << c["bits"];
    } else {
      Bytes input = hex(c["data"]);
      EXPECT_EQ(segment_payload_crc32(input), c["crc"].get<uint32_t>()) << input.size();
    }
  }
}

TEST(FramingGolden, ParsesEveryDriverSegmentBackToItsPayload) {
  for (const auto& c : cases("segments")) {
    SCOPED_TRACE(c["name"].get<std::string>() + "/" + c["compression"].get<std::string>());
    const Compression comp = compression_of(c["compression"]);
    Bytes payload = hex(c["payload"]);
    Bytes encoded = hex(c["encoded"]);
    ByteView rest = encoded;
    Bytes joined;
    Bytes scratch;
    size_t index = 0;
    while (!rest.empty()) {
      auto seg = parse_segment(rest, comp, scratch);
      ASSERT_TRUE(seg) << seg.error().to_string();
      ASSERT_TRUE(*seg) << "segment " << index << " incomplete";
      ASSERT_LT(index, c["segments"].size());
      const auto& expect = c["segments"][index];
      EXPECT_EQ((*seg)->self_contained == SelfContained::Yes, expect["self_contained"].get<bool>());
      joined.insert(joined.end(), (*seg)->payload.begin(), (*seg)->payload.end());
      rest = rest.subspan((*seg)->encoded_size);
      ++index;
    }
    EXPECT_EQ(index, c["segments"].size());
    EXPECT_EQ(joined, payload);
  }
}

TEST(FramingGolden, SegmentDecoderYieldsTheDriversFrames) {
  for (const auto& c : cases("segments")) {
    SCOPED_TRACE(c["name"].get<std::string>() + "/" + c["compression"].get<std::string>());
    const Compression comp = compression_of(c["compression"]);
    Bytes payload = hex(c["payload"]);
    Bytes encoded = hex(c["encoded"]);
    auto decoder = SegmentDecoder::create(comp);
    ASSERT_TRUE(decoder);
    // Feed in uneven chunks to cross segment boundaries.
    Bytes joined;
    for (size_t at = 0; at < encoded.size();) {
      size_t n = std::min<size_t>(encoded.size() - at, 1 + (at * 7) % 9001);
      decoder->feed(ByteView(encoded).subspan(at, n));
      at += n;
      for (;;) {
        auto frame = decoder->next_frame();
        ASSERT_TRUE(frame) << frame.error().to_string();
        if (!*frame) break;
        joined.insert(joined.end(), (*frame)->begin(), (*frame)->end());
      }
    }
    EXPECT_EQ(joined, payload);  // payloads are whole v5 frames, back to back
  }
}

TEST(FramingGolden, EncodesSegmentsLikeTheDriver) {
  const bool exact_lz4 = same_lz4_library();
  for (const auto& c : cases("segments")) {
    SCOPED_TRACE(c["name"].get<std::string>() + "/" + c["compression"].get<std::string>());
    const Compression comp = compression_of(c["compression"]);
    Bytes payload = hex(c["payload"]);
    Bytes expected = hex(c["encoded"]);
    auto encoder = SegmentEncoder::create(comp);
    ASSERT_TRUE(encoder);
    Bytes ours;
    ASSERT_TRUE(encoder->encode_message(payload, ours));
    if (comp == Compression::None || exact_lz4) {
      EXPECT_EQ(to_hex(ours), to_hex(expected));
    } else {
      // Different liblz4: compare what the segments carry instead (see same_lz4_library).
      Bytes scratch;
      Bytes joined;
      for (ByteView rest = ours; !rest.empty();) {
        auto seg = parse_segment(rest, comp, scratch);
        ASSERT_TRUE(seg && *seg);
        joined.insert(joined.end(), (*seg)->payload.begin(), (*seg)->payload.end());
        rest = rest.subspan((*seg)->encoded_size);
      }
      EXPECT_EQ(joined, payload);
    }
  }
}

TEST(FramingGolden, DecodesDriverFramesWithEachCompression) {
  for (const auto& c : cases("frames")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Compression comp = compression_of(c["compression"]);
    Bytes body = hex(c["body"]);
    Bytes encoded = hex(c["encoded"]);
    FrameDecoder decoder;
    decoder.set_compression(comp);
    decoder.feed(encoded);
    auto frame = decoder.next();
    ASSERT_TRUE(frame) << frame.error().to_string();
    ASSERT_TRUE(*frame);
    EXPECT_EQ(version_byte((*frame)->header.version), c["version"].get<uint8_t>());
    EXPECT_EQ((*frame)->header.stream.value, c["stream"].get<int16_t>());
    EXPECT_EQ(static_cast<uint8_t>((*frame)->header.opcode), c["opcode"].get<uint8_t>());
    EXPECT_EQ(Bytes((*frame)->body.begin(), (*frame)->body.end()), body);
    EXPECT_EQ(Bytes((*frame)->wire.begin(), (*frame)->wire.end()), encoded);
    EXPECT_FALSE(decoder.next().value());
  }
}

TEST(FramingGolden, EncodesFramesLikeTheDriver) {
  const bool exact_lz4 = same_lz4_library();
  for (const auto& c : cases("frames")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Compression comp = compression_of(c["compression"]);
    Bytes body = hex(c["body"]);
    Bytes expected = hex(c["encoded"]);
    auto version = protocol_version_from_byte(c["version"].get<uint8_t>());
    ASSERT_TRUE(version);
    FrameHeader h{
        *version, Direction::Request, 0, StreamId{c["stream"].get<int16_t>()}, Opcode::Query, 0};
    auto ours = encode_frame(h, body, comp);
    ASSERT_TRUE(ours) << ours.error().to_string();
    // Snappy: both sides link the same system libsnappy, whose output is deterministic.
    if (comp != Compression::Lz4 || exact_lz4) {
      EXPECT_EQ(to_hex(*ours), to_hex(expected));
    } else {
      // Different liblz4: the header up to the length (version, flags with the compression bit,
      // stream, opcode) is the driver's, the length announces our compressed body, and that
      // body decompresses to the driver's.
      ASSERT_GE(ours->size(), kFrameHeaderSize);
      ASSERT_GE(expected.size(), kFrameHeaderSize);
      EXPECT_EQ(to_hex(ByteView(*ours).first(5)), to_hex(ByteView(expected).first(5)));
      EXPECT_EQ(load_be32(ours->data() + 5), ours->size() - kFrameHeaderSize);
      EXPECT_EQ(decompress_body(comp, ByteView(*ours).subspan(kFrameHeaderSize)).value(), body);
    }
  }
}

}  // namespace
}  // namespace zdm::protocol
