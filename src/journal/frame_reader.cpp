#include "journal/frame_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "protocol/segment.hpp"

namespace zdm::journal {

namespace {

constexpr size_t kReadChunk = 1 << 20;

}  // namespace

uint32_t frame_crc(ByteView payload) { return protocol::crc32_update(0, payload); }

void write_frame_header(Bytes& out, uint32_t payload_size, uint32_t crc) {
  ByteWriter w(out);
  w.write_u32(kFrameMagic);
  w.write_u32(payload_size);
  w.write_u32(crc);
}

void patch_frame_header(Bytes& buf, size_t at) {
  const size_t payload = buf.size() - at - kFrameHeaderSize;
  uint8_t* p = buf.data() + at;
  store_be32(p, kFrameMagic);
  store_be32(p + 4, static_cast<uint32_t>(payload));
  store_be32(p + 8, frame_crc(ByteView(buf).subspan(at + kFrameHeaderSize)));
}

FrameReader::FrameReader(FrameReader&& other) noexcept { *this = std::move(other); }

FrameReader& FrameReader::operator=(FrameReader&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    limit_ = other.limit_;
    pos_ = other.pos_;
    base_ = other.base_;
    buf_ = std::move(other.buf_);
    tail_ = other.tail_;
  }
  return *this;
}

FrameReader::~FrameReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<FrameReader> FrameReader::open(const std::filesystem::path& file) {
  FrameReader r;
  r.path_ = file.string();
  r.fd_ = ::open(r.path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.fd_ < 0) {
    return fail(Errc::Io, fmt::format("cannot open {}: {}", r.path_, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(r.fd_, &st) != 0) {
    return fail(Errc::Io, fmt::format("cannot stat {}: {}", r.path_, std::strerror(errno)));
  }
  r.limit_ = static_cast<uint64_t>(st.st_size);
  return r;
}

void FrameReader::set_limit(uint64_t limit) {
  if (limit < limit_) buf_.clear();
  limit_ = limit;
}

Result<bool> FrameReader::ensure(uint64_t offset, size_t n) {
  if (offset + n > limit_) return false;
  if (offset >= base_ && offset + n <= base_ + buf_.size()) return true;
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadChunk), limit_ - offset));
  buf_.resize(want);
  base_ = offset;
  size_t got = 0;
  while (got < want) {
    ssize_t r = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      buf_.clear();
      return fail(Errc::Io, fmt::format("cannot read {} at offset {}: {}", path_, offset + got,
                                        std::strerror(errno)));
    }
    if (r == 0) break;  // the file is shorter than the limit (truncated behind our back)
    got += static_cast<size_t>(r);
  }
  buf_.resize(got);
  return got >= n;
}

Result<bool> FrameReader::valid_frame_at(uint64_t offset) {
  ZDM_TRY(bool header, ensure(offset, kFrameHeaderSize));
  if (!header) return false;
  const uint8_t* h = at(offset);
  if (load_be32(h) != kFrameMagic) return false;
  const uint32_t length = load_be32(h + 4);
  const uint32_t crc = load_be32(h + 8);
  if (length > kMaxFramePayload) return false;
  ZDM_TRY(bool whole, ensure(offset, kFrameHeaderSize + length));
  if (!whole) return false;
  return frame_crc(ByteView(at(offset + kFrameHeaderSize), length)) == crc;
}

Result<uint64_t> FrameReader::resync(uint64_t from) {
  const uint8_t first = static_cast<uint8_t>(kFrameMagic >> 24);
  uint64_t offset = from;
  while (offset + kFrameHeaderSize <= limit_) {
    const size_t window = static_cast<size_t>(std::min<uint64_t>(kReadChunk, limit_ - offset));
    ZDM_TRY(bool ok, ensure(offset, window));
    if (!ok) break;
    const uint8_t* start = at(offset);
    const void* hit = std::memchr(start, first, window);
    if (hit == nullptr) {
      offset += window;
      continue;
    }
    const uint64_t candidate =
        offset + static_cast<uint64_t>(static_cast<const uint8_t*>(hit) - start);
    ZDM_TRY(bool valid, valid_frame_at(candidate));
    if (valid) return candidate;
    offset = candidate + 1;
  }
  return limit_;
}

Result<FrameEvent> FrameReader::next() {
  FrameEvent ev;
  if (pos_ >= limit_) {
    ev.offset = ev.next = pos_;
    return ev;
  }
  const uint64_t offset = pos_;
  ev.offset = offset;
  auto corrupt = [&](std::string reason, bool truncated) -> Result<FrameEvent> {
    ZDM_TRY(uint64_t resume, resync(offset + 1));
    if (truncated && resume == limit_ && tail_ == TailMode::InProgress) {
      ev.kind = FrameEvent::Kind::End;  // a write in progress, most likely
      ev.next = offset;
      return ev;
    }
    ev.kind = FrameEvent::Kind::Corrupt;
    ev.reason = std::move(reason);
    ev.next = resume;
    pos_ = resume;
    return ev;
  };
  ZDM_TRY(bool header, ensure(offset, kFrameHeaderSize));
  if (!header) {
    return corrupt(fmt::format("truncated frame header ({} bytes before the end)", limit_ - offset),
                   true);
  }
  const uint8_t* h = at(offset);
  if (load_be32(h) != kFrameMagic) return corrupt("bad frame magic", false);
  const uint32_t length = load_be32(h + 4);
  const uint32_t crc = load_be32(h + 8);
  if (length > kMaxFramePayload) {
    return corrupt(fmt::format("frame length {} exceeds the maximum {}", length, kMaxFramePayload),
                   false);
  }
  ZDM_TRY(bool whole, ensure(offset, kFrameHeaderSize + length));
  if (!whole) {
    return corrupt(fmt::format("truncated frame: {} payload bytes announced, {} present", length,
                               limit_ - offset - kFrameHeaderSize),
                   true);
  }
  ByteView payload(at(offset + kFrameHeaderSize), length);
  if (frame_crc(payload) != crc) return corrupt("CRC mismatch", false);
  ev.kind = FrameEvent::Kind::Frame;
  ev.payload = payload;
  ev.next = offset + kFrameHeaderSize + length;
  pos_ = ev.next;
  return ev;
}

}  // namespace zdm::journal
