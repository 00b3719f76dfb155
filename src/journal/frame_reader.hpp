#pragma once
// The journal's framing (segments and aside.zdmj): magic, payload length, CRC-32 of the payload,
// payload; big-endian. FrameReader reads frames from a file through a buffer and resynchronises
// after damage: a bad magic, a length running past the end or a CRC mismatch is reported once as
// a corrupt region, and reading goes on at the next offset where a whole valid frame starts.

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::journal {

inline constexpr uint32_t kFrameMagic = 0x5A4A4E4C;  // "ZJNL"
inline constexpr size_t kFrameHeaderSize = 12;       // magic, length, crc (u32 each)
inline constexpr uint32_t kMaxFramePayload = 256u << 20;

// CRC-32 (zlib's) of a payload, as stored in the frame header.
uint32_t frame_crc(ByteView payload);
// Appends the header for `payload_size` bytes whose CRC is `crc`.
void write_frame_header(Bytes& out, uint32_t payload_size, uint32_t crc);
// Overwrites the 12 bytes at `at` (the payload follows them in `buf`).
void patch_frame_header(Bytes& buf, size_t at);

struct FrameEvent {
  enum class Kind : uint8_t { Frame, Corrupt, End };
  Kind kind = Kind::End;
  uint64_t offset = 0;  // where the frame or the corrupt region starts
  uint64_t next = 0;    // after the frame; for Corrupt, where reading resumes
  ByteView payload;     // Frame: valid until the next call
  std::string reason;   // Corrupt
};

enum class TailMode : uint8_t {
  Corrupt,     // a frame cut short at the end is damage (a crash mid-write, a closed segment)
  InProgress,  // it may be a write in progress (a live proxy holds the file): End, not Corrupt
};

class FrameReader {
 public:
  FrameReader() = default;
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;
  FrameReader(FrameReader&& other) noexcept;
  FrameReader& operator=(FrameReader&& other) noexcept;
  ~FrameReader();

  // Opens `file` for reading; the limit is its current size. ENOENT is Errc::Io with the path.
  static Result<FrameReader> open(const std::filesystem::path& file);

  bool is_open() const { return fd_ >= 0; }
  uint64_t limit() const { return limit_; }
  // Bytes past `limit` are not read (the journal passes the size it wrote).
  void set_limit(uint64_t limit);
  void seek(uint64_t offset) { pos_ = offset; }
  uint64_t position() const { return pos_; }
  void set_tail_mode(TailMode mode) { tail_ = mode; }
  // Forget buffered bytes (after the file was truncated).
  void invalidate() { buf_.clear(); }

  Result<FrameEvent> next();

 private:
  // Makes [offset, offset+n) available in buf_; false when the file ends first.
  Result<bool> ensure(uint64_t offset, size_t n);
  const uint8_t* at(uint64_t offset) const { return buf_.data() + (offset - base_); }
  // The first offset >= from where a whole valid frame starts, or limit_.
  Result<uint64_t> resync(uint64_t from);
  Result<bool> valid_frame_at(uint64_t offset);

  int fd_ = -1;
  std::string path_;
  uint64_t limit_ = 0;
  uint64_t pos_ = 0;
  uint64_t base_ = 0;  // file offset of buf_[0]
  Bytes buf_;
  TailMode tail_ = TailMode::Corrupt;
};

}  // namespace zdm::journal
