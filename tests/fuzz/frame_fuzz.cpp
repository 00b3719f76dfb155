// Fuzzes FrameDecoder: arbitrary bytes fed in arbitrary chunks.
// Input layout: byte 0 chooses the mode, the rest is the connection's byte stream.
//   bits 0-1  compression: 0 none, 1 lz4, 2 snappy, 3 lz4
//   bit 2     segment mode from the start (v5 after READY)
//   bit 3     switch to segment mode after the first frame (the v5 handshake)
//   bits 4-7  seed of the chunk sizes (0: one chunk)
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "protocol/frame_codec.hpp"

namespace {

using zdm::ByteView;
using zdm::protocol::Compression;

constexpr uint32_t kMaxBody = 1u << 20;

Compression compression_of(uint8_t mode) {
  switch (mode & 3) {
    case 1:
    case 3:
      return Compression::Lz4;
    case 2:
      return Compression::Snappy;
    default:
      return Compression::None;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  ByteView stream(data + 1, size - 1);
  const Compression compression = compression_of(mode);
  // Segments allow only LZ4: with snappy selected, segment mode runs uncompressed.
  const Compression segment_compression =
      compression == Compression::Snappy ? Compression::None : compression;

  zdm::protocol::FrameDecoder decoder(kMaxBody);
  decoder.set_compression(compression);
  if ((mode & 4) && !decoder.enable_segments(segment_compression)) __builtin_trap();
  bool switch_after_first = (mode & 8) != 0;

  uint32_t rng = (mode >> 4) * 2654435761u + 1;
  size_t at = 0;
  while (at < stream.size()) {
    size_t n = stream.size() - at;
    if ((mode >> 4) != 0) {
      rng = rng * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (rng >> 16) % 64);
    }
    decoder.feed(stream.subspan(at, n));
    at += n;
    for (;;) {
      auto frame = decoder.next();
      if (!frame) return 0;  // fatal error: the connection would close
      if (!*frame) break;
      const auto& f = **frame;
      if (f.body.size() != f.header.body_length || f.body.size() > kMaxBody) __builtin_trap();
      if (f.wire.size() < zdm::protocol::kFrameHeaderSize) __builtin_trap();
      if (switch_after_first && !decoder.segments_enabled()) {
        switch_after_first = false;
        if (!decoder.enable_segments(segment_compression)) __builtin_trap();
      }
    }
  }
  return 0;
}
