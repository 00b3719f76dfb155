#pragma once
// Frames on a connection: a push-style decoder (bytes in any chunking in, whole frames out) and
// the matching encoder, for v3/v4 frames with optional body compression (spec section 5) and for
// v5, where frames travel inside segments once the connection switches after READY or
// AUTHENTICATE (see segment.hpp).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/compression.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/segment.hpp"

namespace zdm::protocol {

// One decoded frame. Views live until the next call to the decoder's feed() or next().
struct Frame {
  // As on the wire, except that when the body was decompressed the compression flag is cleared
  // and body_length is the decompressed length.
  FrameHeader header;
  ByteView body;  // the (decompressed) body
  ByteView wire;  // the frame's bytes as received: 9 header bytes and the body as sent
};

// Whether a frame may carry a compressed body: never STARTUP (it negotiates compression) nor
// OPTIONS (sent before STARTUP, and as a body-less heartbeat), never an empty body (as the
// drivers do), and never in protocol v5, where segments carry the compression instead.
bool may_compress_frame(const FrameHeader& header, size_t body_size);

// Appends a frame to `out`. header.body_length is ignored and the compression flag is recomputed:
// the body is compressed with `compression` when may_compress_frame allows it. A body over the
// spec's 256 MB cap fails with TooLarge.
Result<void> encode_frame_into(const FrameHeader& header, ByteView body, Compression compression,
                               Bytes& out);
Result<Bytes> encode_frame(const FrameHeader& header, ByteView body,
                           Compression compression = Compression::None);

// Push-style frame decoder for one direction of one connection. Feed bytes as they arrive, then
// call next() until it returns nullopt. The body length of each frame is checked against the bound
// as soon as its header is complete, before the body is buffered. Errors are fatal: the decoder
// returns the same error from then on and the connection should be closed.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_body_length = kMaxFrameBodyLength)
      : max_body_length_(max_body_length) {}

  // The compression STARTUP negotiated (v3/v4 and DSE versions): frames with the compression flag
  // are decompressed with it. Default None: a compressed frame is then an error.
  void set_compression(Compression compression) { compression_ = compression; }
  // Switches to v5 segment framing (None or Lz4; Snappy fails with Unsupported). Call it right
  // after next() returned the READY or AUTHENTICATE frame; bytes already fed beyond that frame
  // are decoded as segments.
  Result<void> enable_segments(Compression compression);
  bool segments_enabled() const { return segments_.has_value(); }

  // Buffers `bytes` (copies them). Invalidates views handed out by next().
  void feed(ByteView bytes);
  // The next whole frame, nullopt when more bytes are needed. See Frame for the views' lifetime.
  Result<std::optional<Frame>> next();

  // Bytes fed and not yet returned as frames (excluding the inside of the segment decoder).
  size_t buffered_bytes() const { return input_.size() - input_pos_; }
  // When no partial frame is buffered, gives back buffers larger than `keep` bytes, so a large
  // frame does not stay charged to an idle connection. Ends the views of the last frame.
  void trim(size_t keep);

 private:
  Result<std::optional<Frame>> next_from_segments();
  Result<Frame> finish_frame(const FrameHeader& header, ByteView wire);
  [[gnu::cold]] tl::unexpected<Error> fatal(Errc code, std::string message);
  tl::unexpected<Error> fatal(Error error);

  uint32_t max_body_length_;
  Compression compression_ = Compression::None;
  std::optional<Error> failed_;
  Bytes input_;
  size_t input_pos_ = 0;
  Bytes body_;  // decompressed body of the last frame
  std::optional<SegmentDecoder> segments_;
};

// Encoder for one direction of one connection, mirroring FrameDecoder's modes.
class FrameEncoder {
 public:
  void set_compression(Compression compression) { compression_ = compression; }
  Result<void> enable_segments(Compression compression);
  bool segments_enabled() const { return segments_.has_value(); }

  // Appends the frame to `out`. In segment mode the frame joins the pending self-contained
  // segment (finished segments are appended to `out`); call flush() to emit it.
  Result<void> encode(const FrameHeader& header, ByteView body, Bytes& out);
  // Same for an already encoded frame, forwarded as is (in segment mode: wrapped in segments).
  Result<void> write_encoded(ByteView frame, Bytes& out);
  // Emits the pending segment (segment mode); no-op otherwise.
  Result<void> flush(Bytes& out);

 private:
  Compression compression_ = Compression::None;
  std::optional<SegmentEncoder> segments_;
  Bytes scratch_;
};

}  // namespace zdm::protocol
