#include "protocol/segment.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

namespace zdm::protocol {
namespace {

constexpr uint32_t kCrc24Init = 0x875060;
constexpr uint32_t kCrc24Poly = 0x1974F0B;  // includes the x^24 term
constexpr uint32_t kCrc32ReflectedPoly = 0xEDB88320;
constexpr std::array<uint8_t, 4> kCrc32Seed = {0xFA, 0x2D, 0x55, 0xCA};
constexpr uint64_t kPayloadLengthMask = 0x1FFFF;  // 17 bits
constexpr unsigned kLengthBits = 17;
constexpr size_t kRetainedBufferLimit = 1024 * 1024;

// MSB-first CRC-24: the table maps the top byte of the register to what shifting it out yields.
constexpr std::array<uint32_t, 256> make_crc24_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i << 16;
    for (int bit = 0; bit < 8; ++bit) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= kCrc24Poly;
    }
    table[i] = crc & 0xFFFFFF;
  }
  return table;
}
constexpr auto kCrc24Table = make_crc24_table();

// Reflected CRC-32 tables for slicing-by-8: table[k][b] is the CRC of byte b followed by k zeros.
constexpr std::array<std::array<uint32_t, 256>, 8> make_crc32_tables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kCrc32ReflectedPoly : crc >> 1;
    t[0][i] = crc;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  }
  return t;
}
constexpr auto kCrc32Tables = make_crc32_tables();

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

uint64_t load_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void store_le(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

size_t header_size(Compression c) {
  return c == Compression::Lz4 ? kCompressedSegmentHeaderSize : kSegmentHeaderSize;
}

Result<void> check_segment_compression(Compression c) {
  if (c == Compression::Snappy) {
    return fail(Errc::Unsupported, "protocol v5 segments support only lz4 compression, not snappy");
  }
  return {};
}

uint32_t crc32_seed() {
  static const uint32_t seed = crc32_update(0, kCrc32Seed);
  return seed;
}

}  // namespace

uint32_t segment_header_crc24(uint64_t header_bits, size_t length) {
  uint32_t crc = kCrc24Init;
  for (size_t i = 0; i < length; ++i) {
    auto byte = static_cast<uint8_t>(header_bits >> (8 * i));
    crc = ((crc << 8) & 0xFFFFFF) ^ kCrc24Table[((crc >> 16) ^ byte) & 0xFF];
  }
  return crc;
}

uint32_t crc32_update(uint32_t crc, ByteView data) {
  crc = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint32_t lo = load_le32(p) ^ crc;
    uint32_t hi = load_le32(p + 4);
    crc = kCrc32Tables[7][lo & 0xFF] ^ kCrc32Tables[6][(lo >> 8) & 0xFF] ^
          kCrc32Tables[5][(lo >> 16) & 0xFF] ^ kCrc32Tables[4][lo >> 24] ^
          kCrc32Tables[3][hi & 0xFF] ^ kCrc32Tables[2][(hi >> 8) & 0xFF] ^
          kCrc32Tables[1][(hi >> 16) & 0xFF] ^ kCrc32Tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) crc = (crc >> 8) ^ kCrc32Tables[0][(crc ^ *p) & 0xFF];
  return ~crc;
}

uint32_t segment_payload_crc32(ByteView payload) { return crc32_update(crc32_seed(), payload); }

Result<void> encode_segment(ByteView payload, SelfContained self_contained, Compression compression,
                            Bytes& out) {
  if (auto ok = check_segment_compression(compression); !ok) return ok;
  if (payload.size() > kMaxSegmentPayload) {
    return fail(Errc::TooLarge, fmt::format("segment payload of {} bytes exceeds the maximum of {}",
                                            payload.size(), kMaxSegmentPayload));
  }
  const size_t hl = header_size(compression);
  const size_t at = out.size();
  const size_t payload_at = at + hl + kSegmentHeaderCrcSize;
  out.resize(payload_at);
  uint64_t uncompressed_length = 0;
  if (compression == Compression::Lz4) {
    if (auto ok = lz4_compress_block(payload, out); !ok) {
      out.resize(at);
      return ok;
    }
    if (out.size() - payload_at >= payload.size()) {
      // Compression did not help: send the payload as is, flagged by uncompressed length 0.
      out.resize(payload_at);
      out.insert(out.end(), payload.begin(), payload.end());
    } else {
      uncompressed_length = payload.size();
    }
  } else {
    out.insert(out.end(), payload.begin(), payload.end());
  }
  const size_t sent_length = out.size() - payload_at;

  uint64_t bits = sent_length;
  unsigned flag_bit = kLengthBits;
  if (compression == Compression::Lz4) {
    bits |= uncompressed_length << kLengthBits;
    flag_bit += kLengthBits;
  }
  if (self_contained == SelfContained::Yes) bits |= uint64_t{1} << flag_bit;
  store_le(out.data() + at, bits, hl);
  store_le(out.data() + at + hl, segment_header_crc24(bits, hl), kSegmentHeaderCrcSize);

  uint32_t crc = segment_payload_crc32(ByteView(out).subspan(payload_at, sent_length));
  size_t crc_at = out.size();
  out.resize(crc_at + kSegmentPayloadCrcSize);
  store_le(out.data() + crc_at, crc, kSegmentPayloadCrcSize);
  return {};
}

Result<std::optional<SegmentView>> parse_segment(ByteView input, Compression compression,
                                                 Bytes& scratch) {
  if (auto ok = check_segment_compression(compression); !ok) return tl::unexpected(ok.error());
  const size_t hl = header_size(compression);
  if (input.size() < hl + kSegmentHeaderCrcSize) return std::nullopt;

  const uint64_t bits = load_le(input.data(), hl);
  const auto sent_crc = static_cast<uint32_t>(load_le(input.data() + hl, kSegmentHeaderCrcSize));
  const uint32_t computed_crc = segment_header_crc24(bits, hl);
  if (sent_crc != computed_crc) {
    return fail(Errc::ChecksumMismatch,
                fmt::format("segment header CRC24 mismatch: header {:0{}x} carries {:06x}, "
                            "computed {:06x}",
                            bits, hl * 2, sent_crc, computed_crc));
  }
  const size_t payload_length = bits & kPayloadLengthMask;
  size_t uncompressed_length = 0;
  unsigned flag_bit = kLengthBits;
  if (compression == Compression::Lz4) {
    uncompressed_length = (bits >> kLengthBits) & kPayloadLengthMask;
    flag_bit += kLengthBits;
  }
  const auto self_contained = ((bits >> flag_bit) & 1) ? SelfContained::Yes : SelfContained::No;

  const size_t payload_at = hl + kSegmentHeaderCrcSize;
  const size_t total = payload_at + payload_length + kSegmentPayloadCrcSize;
  if (input.size() < total) return std::nullopt;

  ByteView payload = input.subspan(payload_at, payload_length);
  const auto sent_payload_crc =
      static_cast<uint32_t>(load_le(input.data() + payload_at + payload_length, 4));
  const uint32_t computed_payload_crc = segment_payload_crc32(payload);
  if (sent_payload_crc != computed_payload_crc) {
    return fail(Errc::ChecksumMismatch,
                fmt::format("segment payload CRC32 mismatch over {} bytes: carries {:08x}, "
                            "computed {:08x}",
                            payload_length, sent_payload_crc, computed_payload_crc));
  }
  if (uncompressed_length != 0) {
    scratch.clear();
    if (auto ok = lz4_decompress_block(payload, uncompressed_length, scratch); !ok) {
      return fail(Errc::Compression, fmt::format("segment payload: {}", ok.error().message));
    }
    payload = scratch;
  }
  return SegmentView{payload, self_contained, total};
}

// ---------------------------------------------------------------------------------------------
// SegmentEncoder

Result<SegmentEncoder> SegmentEncoder::create(Compression compression) {
  if (auto ok = check_segment_compression(compression); !ok) return tl::unexpected(ok.error());
  return SegmentEncoder(compression);
}

Result<void> SegmentEncoder::add_frame(ByteView frame, Bytes& out) {
  if (frame.size() > kMaxSegmentPayload) {
    if (auto ok = flush(out); !ok) return ok;
    return encode_large(frame, out);
  }
  if (pending_.size() + frame.size() > kMaxSegmentPayload) {
    if (auto ok = flush(out); !ok) return ok;
  }
  pending_.insert(pending_.end(), frame.begin(), frame.end());
  return {};
}

Result<void> SegmentEncoder::flush(Bytes& out) {
  if (pending_.empty()) return {};
  auto ok = encode_segment(pending_, SelfContained::Yes, compression_, out);
  pending_.clear();
  return ok;
}

Result<void> SegmentEncoder::encode_message(ByteView payload, Bytes& out) {
  if (auto ok = flush(out); !ok) return ok;
  if (payload.size() > kMaxSegmentPayload) return encode_large(payload, out);
  return encode_segment(payload, SelfContained::Yes, compression_, out);
}

Result<void> SegmentEncoder::encode_large(ByteView payload, Bytes& out) {
  for (size_t off = 0; off < payload.size(); off += kMaxSegmentPayload) {
    size_t n = std::min(kMaxSegmentPayload, payload.size() - off);
    if (auto ok = encode_segment(payload.subspan(off, n), SelfContained::No, compression_, out);
        !ok) {
      return ok;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// SegmentDecoder

Result<SegmentDecoder> SegmentDecoder::create(Compression compression,
                                              uint32_t max_frame_body_length) {
  if (auto ok = check_segment_compression(compression); !ok) return tl::unexpected(ok.error());
  return SegmentDecoder(compression, max_frame_body_length);
}

void SegmentDecoder::feed(ByteView bytes) {
  // Drop consumed bytes before growing, but keep the pending payload of an uncompressed
  // self-contained segment, which still views input_.
  size_t keep_from = input_pos_;
  if (payload_in_input_ && payload_pos_ < payload_end_)
    keep_from = std::min(keep_from, payload_pos_);
  if (keep_from > 0 && (keep_from == input_.size() || keep_from >= input_.size() / 2)) {
    input_.erase(input_.begin(), input_.begin() + static_cast<std::ptrdiff_t>(keep_from));
    input_pos_ -= keep_from;
    if (payload_in_input_) {
      payload_pos_ = payload_pos_ >= keep_from ? payload_pos_ - keep_from : 0;
      payload_end_ = payload_end_ >= keep_from ? payload_end_ - keep_from : 0;
    }
  }
  input_.insert(input_.end(), bytes.begin(), bytes.end());
}

void SegmentDecoder::trim(size_t keep) {
  if (input_pos_ != input_.size() || payload_pos_ < payload_end_ || !large_.empty()) return;
  input_.clear();
  input_pos_ = payload_pos_ = payload_end_ = 0;
  payload_in_input_ = true;
  if (input_.capacity() > keep) Bytes().swap(input_);
  if (scratch_.capacity() > keep) Bytes().swap(scratch_);
  if (large_.capacity() > keep) Bytes().swap(large_);
  if (frame_out_.capacity() > keep) Bytes().swap(frame_out_);
}

tl::unexpected<Error> SegmentDecoder::fatal(Errc code, std::string message) {
  failed_ = Error{code, std::move(message)};
  return tl::unexpected(*failed_);
}

Result<std::optional<ByteView>> SegmentDecoder::next_frame() {
  if (failed_) return tl::unexpected(*failed_);
  // Do not keep a huge reassembly buffer alive per connection after a rare large frame.
  if (frame_out_.capacity() > kRetainedBufferLimit) Bytes().swap(frame_out_);
  for (;;) {
    if (payload_pos_ < payload_end_) return next_in_payload();

    ByteView rest = ByteView(input_).subspan(input_pos_);
    auto segment = parse_segment(rest, compression_, scratch_);
    if (!segment) return fatal(segment.error().code, std::move(segment.error().message));
    if (!*segment) return std::optional<ByteView>{};
    const SegmentView& seg = **segment;
    const size_t segment_at = input_pos_;
    input_pos_ += seg.encoded_size;

    if (seg.self_contained == SelfContained::No) {
      auto frame = take_large_part(seg.payload);
      if (!frame || *frame) return frame;
      continue;
    }
    if (in_large_frame()) {
      return fatal(Errc::Malformed,
                   fmt::format("self-contained segment arrived while a frame split across "
                               "segments was incomplete ({} of {} bytes received)",
                               large_.size(), large_expected_));
    }
    payload_in_input_ = seg.payload.empty() || seg.payload.data() != scratch_.data();
    if (payload_in_input_) {
      payload_pos_ = segment_at + static_cast<size_t>(seg.payload.data() - rest.data());
    } else {
      payload_pos_ = 0;
    }
    payload_end_ = payload_pos_ + seg.payload.size();
  }
}

Result<std::optional<ByteView>> SegmentDecoder::next_in_payload() {
  const Bytes& source = payload_in_input_ ? input_ : scratch_;
  ByteView rest = ByteView(source).subspan(payload_pos_, payload_end_ - payload_pos_);
  if (rest.size() < kFrameHeaderSize) {
    return fatal(Errc::Malformed,
                 fmt::format("self-contained segment ends inside a frame header ({} bytes left)",
                             rest.size()));
  }
  const uint32_t body_length = load_be32(rest.data() + 5);
  if (body_length > max_frame_body_length_) {
    return fatal(Errc::TooLarge,
                 fmt::format("frame in segment declares a body of {} bytes, over the limit of {}",
                             body_length, max_frame_body_length_));
  }
  const size_t frame_size = kFrameHeaderSize + size_t{body_length};
  if (frame_size > rest.size()) {
    return fatal(Errc::Malformed,
                 fmt::format("self-contained segment ends inside a frame: frame needs {} bytes, "
                             "segment has {} left",
                             frame_size, rest.size()));
  }
  payload_pos_ += frame_size;
  return std::optional<ByteView>(rest.first(frame_size));
}

Result<std::optional<ByteView>> SegmentDecoder::take_large_part(ByteView part) {
  large_.insert(large_.end(), part.begin(), part.end());
  if (large_expected_ == 0 && large_.size() >= kFrameHeaderSize) {
    const uint32_t body_length = load_be32(large_.data() + 5);
    if (body_length > max_frame_body_length_) {
      return fatal(Errc::TooLarge,
                   fmt::format("frame split across segments declares a body of {} bytes, over "
                               "the limit of {}",
                               body_length, max_frame_body_length_));
    }
    large_expected_ = kFrameHeaderSize + size_t{body_length};
  }
  if (large_expected_ == 0 || large_.size() < large_expected_) return std::optional<ByteView>{};
  if (large_.size() > large_expected_) {
    return fatal(Errc::Malformed,
                 fmt::format("segments of a split frame carry {} bytes, {} more than the frame",
                             large_.size(), large_.size() - large_expected_));
  }
  // Hand out the frame from a second buffer so large_ can start the next frame; both keep their
  // capacity.
  std::swap(large_, frame_out_);
  large_.clear();
  large_expected_ = 0;
  return std::optional<ByteView>(ByteView(frame_out_));
}

}  // namespace zdm::protocol
