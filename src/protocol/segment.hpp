#pragma once
// Protocol v5 segment framing ("checksumming"): after READY or AUTHENTICATE, frames travel inside
// segments. The final v5 spec (section 2, "Message framing") and the DataStax Python driver
// (cassandra/segment.py) define the layout:
//
//   header   3 bytes, uncompressed connection: bits 0-16 payload length, bit 17 self-contained,
//            bits 18-23 padding;
//            5 bytes, LZ4 connection: bits 0-16 compressed payload length, bits 17-33
//            uncompressed length (0: this payload was sent uncompressed), bit 34 self-contained,
//            bits 35-39 padding. Packed little-endian (bit 0 is the low bit of the first byte).
//   CRC24    3 bytes little-endian, over the header bytes (init 0x875060, poly 0x1974F0B).
//   payload  at most 128 KiB - 1 bytes.
//   CRC32    4 bytes little-endian, over the payload as sent: the zlib CRC32 of the bytes
//            FA 2D 55 CA followed by the payload.
//
// A self-contained segment holds one or more whole frames; otherwise it holds part of a single
// frame too large for one segment, and the frame's parts arrive in consecutive segments.
// Only LZ4 compresses segments; v5 does not allow Snappy.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/compression.hpp"
#include "protocol/frame_header.hpp"

namespace zdm::protocol {

inline constexpr size_t kMaxSegmentPayload = 128 * 1024 - 1;
inline constexpr size_t kSegmentHeaderSize = 3;            // uncompressed connection
inline constexpr size_t kCompressedSegmentHeaderSize = 5;  // LZ4 connection
inline constexpr size_t kSegmentHeaderCrcSize = 3;
inline constexpr size_t kSegmentPayloadCrcSize = 4;

// CRC24 of the first `length` (3 or 5) little-endian bytes of `header_bits`.
uint32_t segment_header_crc24(uint64_t header_bits, size_t length);
// Standard CRC-32 (zlib's crc32(crc, data)): continues from a previous result, 0 to start.
uint32_t crc32_update(uint32_t crc, ByteView data);
// The payload CRC of a segment: CRC-32 seeded with the bytes FA 2D 55 CA.
uint32_t segment_payload_crc32(ByteView payload);

enum class SelfContained : uint8_t { No, Yes };

// Appends one segment carrying `payload` (at most kMaxSegmentPayload bytes). With Lz4 the payload
// is compressed unless that does not make it smaller, in which case it goes uncompressed with an
// uncompressed length of 0 (as Cassandra and the drivers do). Snappy fails with Unsupported.
Result<void> encode_segment(ByteView payload, SelfContained self_contained, Compression compression,
                            Bytes& out);

// One decoded segment. `payload` is the uncompressed payload; it views either the input or the
// `scratch` buffer passed to parse_segment, and lives as long as both stay untouched.
struct SegmentView {
  ByteView payload;
  SelfContained self_contained = SelfContained::Yes;
  size_t encoded_size = 0;  // header + CRC24 + payload + CRC32 bytes consumed from the input
};

// Parses one segment from the start of `input`. Returns nullopt when `input` does not yet hold the
// whole segment (more bytes needed; nothing is consumed). CRC mismatches fail with
// Errc::ChecksumMismatch, a bad LZ4 payload with Errc::Compression; every failure is fatal to the
// connection's framing.
Result<std::optional<SegmentView>> parse_segment(ByteView input, Compression compression,
                                                 Bytes& scratch);

// Packs whole frames into segments. Frames accumulate into one self-contained segment until the
// next frame would not fit; a frame larger than a segment's payload is sent alone, split across
// non-self-contained segments. Call flush() once the frames to send now are added.
class SegmentEncoder {
 public:
  // Fails with Unsupported for Snappy.
  static Result<SegmentEncoder> create(Compression compression);

  // `frame` is a whole encoded frame (header and body). Appends finished segments to `out`.
  Result<void> add_frame(ByteView frame, Bytes& out);
  // Appends the pending self-contained segment, if any, to `out`.
  Result<void> flush(Bytes& out);
  // Encodes `payload` as a segment stream exactly as the Python driver's SegmentCodec.encode
  // does for one message: one self-contained segment when it fits (also when empty), otherwise
  // kMaxSegmentPayload-sized non-self-contained pieces. Flushes pending frames first.
  Result<void> encode_message(ByteView payload, Bytes& out);

  Compression compression() const { return compression_; }
  size_t pending_bytes() const { return pending_.size(); }

 private:
  explicit SegmentEncoder(Compression compression) : compression_(compression) {}
  Result<void> encode_large(ByteView payload, Bytes& out);

  Compression compression_;
  Bytes pending_;  // whole frames waiting for the current self-contained segment
};

// Push-style segment decoder for one connection direction: feed bytes in any chunking, then call
// next_frame() until it returns nullopt. Frames spread over non-self-contained segments are
// reassembled. Any error is fatal to the connection (framing is lost); the decoder stays failed.
class SegmentDecoder {
 public:
  // `max_frame_body_length` bounds a reassembled frame before it is buffered.
  static Result<SegmentDecoder> create(Compression compression,
                                       uint32_t max_frame_body_length = kMaxFrameBodyLength);

  // Buffers `bytes` (copies them).
  void feed(ByteView bytes);
  // The next whole frame's bytes (9-byte header and body), nullopt when more input is needed.
  // The view lives until the next call to feed() or next_frame().
  Result<std::optional<ByteView>> next_frame();

  // Bytes fed but not yet decoded into segments.
  size_t buffered_bytes() const { return input_.size() - input_pos_; }
  // True between the parts of a frame split across segments.
  bool in_large_frame() const { return !large_.empty(); }
  // When nothing is buffered or pending, gives back buffers larger than `keep` bytes (a burst
  // must not stay charged to an idle connection). Ends the view of the last frame.
  void trim(size_t keep);
  Compression compression() const { return compression_; }

 private:
  SegmentDecoder(Compression compression, uint32_t max_frame_body_length)
      : compression_(compression), max_frame_body_length_(max_frame_body_length) {}
  Result<std::optional<ByteView>> next_in_payload();
  Result<std::optional<ByteView>> take_large_part(ByteView part);
  [[gnu::cold]] tl::unexpected<Error> fatal(Errc code, std::string message);

  Compression compression_;
  uint32_t max_frame_body_length_;
  std::optional<Error> failed_;
  Bytes input_;  // fed bytes; [input_pos_, end) not yet consumed
  size_t input_pos_ = 0;
  Bytes scratch_;  // decompressed payload of the current segment
  // Frames of the current self-contained segment not yet handed out: [payload_pos_, payload_end_)
  // of input_ (uncompressed segment) or of scratch_ (decompressed). Offsets, not a view, because
  // feed() may move input_.
  bool payload_in_input_ = true;
  size_t payload_pos_ = 0;
  size_t payload_end_ = 0;
  Bytes large_;                // parts of a frame split across segments
  size_t large_expected_ = 0;  // its total size once the header is known, else 0
  Bytes frame_out_;            // the last reassembled frame handed out
};

}  // namespace zdm::protocol
