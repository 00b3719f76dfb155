#include "protocol/frame_codec.hpp"

#include <utility>

#include <fmt/format.h>

namespace zdm::protocol {
namespace {

constexpr size_t kRetainedBufferLimit = 1024 * 1024;

}  // namespace

bool may_compress_frame(const FrameHeader& header, size_t body_size) {
  return body_size > 0 && header.opcode != Opcode::Startup && header.opcode != Opcode::Options &&
         !uses_segments(header.version);
}

Result<void> encode_frame_into(const FrameHeader& header, ByteView body, Compression compression,
                               Bytes& out) {
  if (body.size() > kMaxFrameBodyLength) {
    return fail(Errc::TooLarge, fmt::format("frame body of {} bytes exceeds the {} byte limit",
                                            body.size(), kMaxFrameBodyLength));
  }
  FrameHeader h = header;
  h.flags = static_cast<uint8_t>(h.flags & ~frame_flags::kCompression);
  const size_t at = out.size();
  out.resize(at + kFrameHeaderSize);
  if (compression != Compression::None && may_compress_frame(h, body.size())) {
    if (auto ok = compress_body_into(compression, body, out); !ok) {
      out.resize(at);
      return ok;
    }
    h.flags = static_cast<uint8_t>(h.flags | frame_flags::kCompression);
  } else {
    out.insert(out.end(), body.begin(), body.end());
  }
  const size_t body_size = out.size() - at - kFrameHeaderSize;
  if (body_size > kMaxFrameBodyLength) {
    out.resize(at);
    return fail(Errc::TooLarge, fmt::format("compressed frame body of {} bytes exceeds the {} "
                                            "byte limit",
                                            body_size, kMaxFrameBodyLength));
  }
  h.body_length = static_cast<uint32_t>(body_size);
  encode_frame_header(h, out.data() + at);
  return {};
}

Result<Bytes> encode_frame(const FrameHeader& header, ByteView body, Compression compression) {
  Bytes out;
  if (auto ok = encode_frame_into(header, body, compression, out); !ok) {
    return tl::unexpected(ok.error());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FrameDecoder

tl::unexpected<Error> FrameDecoder::fatal(Errc code, std::string message) {
  return fatal(Error{code, std::move(message)});
}

tl::unexpected<Error> FrameDecoder::fatal(Error error) {
  failed_ = std::move(error);
  return tl::unexpected(*failed_);
}

Result<void> FrameDecoder::enable_segments(Compression compression) {
  if (failed_) return tl::unexpected(*failed_);
  if (segments_) {
    return fail(Errc::InvalidArgument, "segment framing is already enabled on this connection");
  }
  auto decoder = SegmentDecoder::create(compression, max_body_length_);
  if (!decoder) return tl::unexpected(decoder.error());
  segments_.emplace(std::move(*decoder));
  segments_->feed(ByteView(input_).subspan(input_pos_));
  input_.clear();
  input_pos_ = 0;
  return {};
}

void FrameDecoder::feed(ByteView bytes) {
  if (segments_) {
    segments_->feed(bytes);
    return;
  }
  if (input_pos_ > 0 && (input_pos_ == input_.size() || input_pos_ >= input_.size() / 2)) {
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(input_pos_));
    input_pos_ = 0;
  }
  input_.insert(input_.end(), bytes.begin(), bytes.end());
}

void FrameDecoder::trim(size_t keep) {
  if (body_.capacity() > keep) Bytes().swap(body_);
  if (segments_) {
    segments_->trim(keep);
    return;
  }
  if (input_pos_ != input_.size()) return;
  input_.clear();
  input_pos_ = 0;
  if (input_.capacity() > keep) Bytes().swap(input_);
}

Result<std::optional<Frame>> FrameDecoder::next() {
  if (failed_) return tl::unexpected(*failed_);
  if (body_.capacity() > kRetainedBufferLimit) Bytes().swap(body_);
  if (segments_) return next_from_segments();

  ByteView rest = ByteView(input_).subspan(input_pos_);
  if (rest.size() < kFrameHeaderSize) return std::optional<Frame>{};
  auto header = decode_frame_header(rest, max_body_length_);
  if (!header) return fatal(std::move(header.error()));
  const size_t frame_size = kFrameHeaderSize + size_t{header->body_length};
  if (rest.size() < frame_size) return std::optional<Frame>{};
  auto frame = finish_frame(*header, rest.first(frame_size));
  if (!frame) return tl::unexpected(frame.error());
  input_pos_ += frame_size;
  return std::optional<Frame>(*frame);
}

Result<std::optional<Frame>> FrameDecoder::next_from_segments() {
  auto bytes = segments_->next_frame();
  if (!bytes) return fatal(std::move(bytes.error()));
  if (!*bytes) return std::optional<Frame>{};
  auto header = decode_frame_header(**bytes, max_body_length_);
  if (!header) return fatal(std::move(header.error()));
  if (!uses_segments(header->version)) {
    return fatal(Errc::Malformed, fmt::format("frame of version {} inside a v5 segment",
                                              protocol_version_name(header->version)));
  }
  auto frame = finish_frame(*header, **bytes);
  if (!frame) return tl::unexpected(frame.error());
  return std::optional<Frame>(*frame);
}

Result<Frame> FrameDecoder::finish_frame(const FrameHeader& header, ByteView wire) {
  Frame frame{header, wire.subspan(kFrameHeaderSize), wire};
  if (!header.has_flag(frame_flags::kCompression)) return frame;
  if (segments_) {
    return fatal(Errc::Malformed,
                 fmt::format("{} frame on stream {} sets the compression flag inside a v5 "
                             "segment, where only segments are compressed",
                             opcode_name(header.opcode), header.stream.value));
  }
  if (compression_ == Compression::None) {
    return fatal(Errc::Malformed,
                 fmt::format("{} frame on stream {} sets the compression flag but no "
                             "compression was negotiated",
                             opcode_name(header.opcode), header.stream.value));
  }
  body_.clear();
  if (auto ok = decompress_body_into(compression_, frame.body, body_, max_body_length_); !ok) {
    return fatal(ok.error().code,
                 fmt::format("{} frame on stream {}: {}", opcode_name(header.opcode),
                             header.stream.value, ok.error().message));
  }
  frame.body = body_;
  frame.header.flags = static_cast<uint8_t>(frame.header.flags & ~frame_flags::kCompression);
  frame.header.body_length = static_cast<uint32_t>(body_.size());
  return frame;
}

// ---------------------------------------------------------------------------------------------
// FrameEncoder

Result<void> FrameEncoder::enable_segments(Compression compression) {
  if (segments_) {
    return fail(Errc::InvalidArgument, "segment framing is already enabled on this connection");
  }
  auto encoder = SegmentEncoder::create(compression);
  if (!encoder) return tl::unexpected(encoder.error());
  segments_.emplace(std::move(*encoder));
  return {};
}

Result<void> FrameEncoder::encode(const FrameHeader& header, ByteView body, Bytes& out) {
  if (!segments_) return encode_frame_into(header, body, compression_, out);
  scratch_.clear();
  if (auto ok = encode_frame_into(header, body, Compression::None, scratch_); !ok) return ok;
  auto ok = segments_->add_frame(scratch_, out);
  if (scratch_.capacity() > kRetainedBufferLimit) Bytes().swap(scratch_);
  return ok;
}

Result<void> FrameEncoder::write_encoded(ByteView frame, Bytes& out) {
  if (!segments_) {
    out.insert(out.end(), frame.begin(), frame.end());
    return {};
  }
  return segments_->add_frame(frame, out);
}

Result<void> FrameEncoder::flush(Bytes& out) {
  if (!segments_) return {};
  return segments_->flush(out);
}

}  // namespace zdm::protocol
