// Fuzzes v5 segment decoding: parse_segment on the raw input, and SegmentDecoder fed the input in
// chunks. Every frame decoded must survive a re-encode/decode round trip unchanged.
// Input layout: byte 0 bit 0 selects LZ4 segments, bits 1-7 seed the chunk sizes; the rest is
// the segment stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "protocol/segment.hpp"

namespace {

using zdm::Bytes;
using zdm::ByteView;
using zdm::protocol::Compression;

constexpr uint32_t kMaxBody = 1u << 20;

void check_round_trip(ByteView frame, Compression c) {
  auto encoder = zdm::protocol::SegmentEncoder::create(c);
  auto decoder = zdm::protocol::SegmentDecoder::create(c, kMaxBody);
  if (!encoder || !decoder) __builtin_trap();
  Bytes wire;
  if (!encoder->add_frame(frame, wire) || !encoder->flush(wire)) __builtin_trap();
  decoder->feed(wire);
  auto back = decoder->next_frame();
  if (!back || !*back) __builtin_trap();
  if ((*back)->size() != frame.size() ||
      !std::equal((*back)->begin(), (*back)->end(), frame.begin())) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const Compression c = (mode & 1) ? Compression::Lz4 : Compression::None;
  ByteView stream(data + 1, size - 1);

  Bytes scratch;
  auto single = zdm::protocol::parse_segment(stream, c, scratch);
  if (single && *single) {
    if ((*single)->encoded_size > stream.size()) __builtin_trap();
    if ((*single)->payload.size() > zdm::protocol::kMaxSegmentPayload) __builtin_trap();
  }

  auto decoder = zdm::protocol::SegmentDecoder::create(c, kMaxBody);
  if (!decoder) __builtin_trap();
  uint32_t rng = (mode >> 1) * 2654435761u + 7;
  size_t at = 0;
  while (at < stream.size()) {
    size_t n = stream.size() - at;
    if ((mode >> 1) != 0) {
      rng = rng * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (rng >> 16) % 200);
    }
    decoder->feed(stream.subspan(at, n));
    at += n;
    for (;;) {
      auto frame = decoder->next_frame();
      if (!frame) return 0;
      if (!*frame) break;
      Bytes copy((*frame)->begin(), (*frame)->end());
      if (copy.size() < zdm::protocol::kFrameHeaderSize) __builtin_trap();
      check_round_trip(copy, c);
    }
  }
  return 0;
}
