#include "journal/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::journal {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLockFile = "lock";
constexpr const char* kCursorFile = "cursor";
constexpr const char* kCursorTmpFile = "cursor.tmp";
constexpr const char* kAsideFile = "aside.zdmj";
constexpr std::string_view kSegmentPrefix = "segment-";
constexpr std::string_view kSegmentSuffix = ".zdmj";
constexpr const char* kCursorHeader = "zdm-journal-cursor 1";

std::string errno_text() { return std::strerror(errno); }

// segment-<20 digits>.zdmj -> id
std::optional<uint64_t> parse_segment_name(const std::string& name) {
  if (name.size() != kSegmentPrefix.size() + 20 + kSegmentSuffix.size()) return std::nullopt;
  if (name.compare(0, kSegmentPrefix.size(), kSegmentPrefix) != 0) return std::nullopt;
  if (name.compare(name.size() - kSegmentSuffix.size(), kSegmentSuffix.size(), kSegmentSuffix) !=
      0) {
    return std::nullopt;
  }
  uint64_t id = 0;
  for (size_t i = kSegmentPrefix.size(); i < kSegmentPrefix.size() + 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return id;
}

// id -> size of every segment file in `dir`.
Result<std::map<uint64_t, uint64_t>> list_segments(const fs::path& dir) {
  std::map<uint64_t, uint64_t> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto id = parse_segment_name(it->path().filename().string());
    if (!id) continue;
    std::error_code size_ec;
    auto size = fs::file_size(it->path(), size_ec);
    if (size_ec) continue;  // deleted meanwhile (a live proxy committed)
    out[*id] = size;
  }
  if (ec) {
    return fail(Errc::Io, fmt::format("cannot list the journal directory {}: {}", dir.string(),
                                      ec.message()));
  }
  return out;
}

Result<JournalPosition> read_cursor_file(const fs::path& dir) {
  const fs::path path = dir / kCursorFile;
  std::ifstream in(path);
  if (!in) {
    if (!fs::exists(path)) return JournalPosition{};
    return fail(Errc::Io, fmt::format("cannot read {}: {}", path.string(), errno_text()));
  }
  std::string line;
  std::getline(in, line);
  JournalPosition p;
  unsigned long long segment = 0;
  unsigned long long offset = 0;
  char tail = 0;
  if (line.rfind(kCursorHeader, 0) != 0 ||
      std::sscanf(line.c_str() + std::strlen(kCursorHeader), " %llu %llu%c", &segment, &offset,
                  &tail) != 2) {
    return fail(Errc::Malformed,
                fmt::format("{} is not a journal cursor ('{}'): restore it, or delete it to "
                            "replay the journal from its start",
                            path.string(), line.substr(0, 80)));
  }
  p.segment = segment;
  p.offset = offset;
  return p;
}

Result<void> fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::Io, fmt::format("cannot open {}: {}", dir.string(), errno_text()));
  int rc = ::fsync(fd);
  std::string error = rc != 0 ? errno_text() : std::string();
  ::close(fd);
  if (rc != 0) return fail(Errc::Io, fmt::format("cannot fsync {}: {}", dir.string(), error));
  return {};
}

// Writes all of `data` at the end of `fd`; on failure the file is cut back to `size_before`.
Result<void> write_all(int fd, ByteView data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::Io, fmt::format("cannot write {}: {}", path, errno_text()));
    if (n == 0) return fail(Errc::Io, fmt::format("cannot write {}: no progress", path));
    done += static_cast<size_t>(n);
  }
  return {};
}

// The pid holding an flock on `file`, from /proc/locks (read-only: takes no lock itself).
std::optional<long> flock_holder_from_proc(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  std::ifstream locks("/proc/locks");
  std::string line;
  const std::string id = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev), minor(st.st_dev),
                                     static_cast<unsigned long long>(st.st_ino));
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string index, type, mode, access, dev_ino;
    long pid = 0;
    if (!(fields >> index >> type)) continue;
    if (type == "->") {
      if (!(fields >> type)) continue;
    }
    if (!(fields >> mode >> access >> pid >> dev_ino)) continue;
    if (type == "FLOCK" && dev_ino == id) return pid;
  }
  return std::nullopt;
}

std::optional<long> pid_in_lock_file(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  if (in >> pid && pid > 0) return pid;
  return std::nullopt;
}

// Counts (and optionally decodes) the frames of the segments after `cursor`.
Result<void> scan_pending(const fs::path& dir,
                          const std::function<void(const JournalEntry&)>* visit,
                          std::vector<CorruptRecord>* corrupt, JournalStats& stats) {
  if (!fs::is_directory(dir)) {
    return fail(Errc::Io,
                fmt::format("{} is not a journal directory (no such directory)", dir.string()));
  }
  ZDM_TRY(JournalPosition cursor, read_cursor_file(dir));
  ZDM_TRY(auto segments, list_segments(dir));
  const bool live = journal_lock_holder(dir).has_value();
  const uint64_t last = segments.empty() ? 0 : segments.rbegin()->first;
  for (const auto& [id, listed_size] : segments) {
    if (id < cursor.segment) continue;  // done; the owner deletes it
    auto reader = FrameReader::open(dir / segment_file_name(id));
    if (!reader) {
      if (!fs::exists(dir / segment_file_name(id))) continue;  // committed meanwhile
      return tl::unexpected(reader.error());
    }
    reader->set_tail_mode(live && id == last ? TailMode::InProgress : TailMode::Corrupt);
    const uint64_t start = id == cursor.segment ? std::min(cursor.offset, reader->limit()) : 0;
    reader->seek(start);
    ++stats.segments;
    stats.pending_bytes += reader->limit() - start;
    while (true) {
      ZDM_TRY(FrameEvent ev, reader->next());
      if (ev.kind == FrameEvent::Kind::End) break;
      if (ev.kind == FrameEvent::Kind::Corrupt) {
        ++stats.corrupt_records;
        if (corrupt) corrupt->push_back({id, ev.offset, ev.reason});
        continue;
      }
      ++stats.pending_records;
      if (!visit && stats.oldest_pending_created_ms) continue;
      auto record = decode_record(ev.payload);
      if (!record) {
        ++stats.corrupt_records;
        if (corrupt) {
          corrupt->push_back({id, ev.offset, "undecodable record: " + record.error().message});
        }
        continue;
      }
      if (!stats.oldest_pending_created_ms) stats.oldest_pending_created_ms = record->created_ms;
      if (visit) {
        JournalEntry entry{{id, ev.offset}, {id, ev.next}, std::move(*record), ev.next - ev.offset};
        (*visit)(entry);
      }
    }
  }
  return {};
}

}  // namespace

std::string_view append_error_name(AppendError e) { return e == AppendError::Full ? "full" : "io"; }

std::string segment_file_name(uint64_t id) {
  return fmt::format("{}{:020}{}", kSegmentPrefix, id, kSegmentSuffix);
}

std::optional<long> journal_lock_holder(const fs::path& dir) {
  const fs::path file = dir / kLockFile;
  auto pid = flock_holder_from_proc(file);
  if (!pid) return std::nullopt;
  return pid_in_lock_file(file).value_or(*pid);
}

Journal::Journal(JournalOptions options) : options_(std::move(options)) {}

Journal::~Journal() {
  if (active_fd_ >= 0) {
    if (auto synced = sync(); !synced) {
      spdlog::warn("journal {}: {}", options_.dir.string(), synced.error().message);
    }
    ::close(active_fd_);
    auto it = segments_.find(active_id_);
    if (it != segments_.end() && it->second.size == 0) {
      std::error_code ec;
      fs::remove(segment_path(active_id_), ec);
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

fs::path Journal::segment_path(uint64_t id) const { return options_.dir / segment_file_name(id); }

Result<std::unique_ptr<Journal>> Journal::open(JournalOptions options) {
  if (options.dir.empty()) return fail(Errc::InvalidArgument, "journal: no directory given");
  if (options.segment_bytes == 0 || options.max_bytes == 0) {
    return fail(Errc::InvalidArgument, "journal: segment_bytes and max_bytes must be positive");
  }
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return fail(Errc::Io, fmt::format("cannot create the journal directory {}: {}",
                                      options.dir.string(), ec.message()));
  }
  std::unique_ptr<Journal> j(new Journal(std::move(options)));
  ZDM_CHECK(j->lock_directory());
  ZDM_CHECK(j->load_cursor());
  ZDM_CHECK(j->scan());
  j->last_sync_ = std::chrono::steady_clock::now();
  return j;
}

Result<void> Journal::lock_directory() {
  const fs::path file = options_.dir / kLockFile;
  lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return fail(Errc::Io, fmt::format("cannot open {}: {}", file.string(), errno_text()));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (error != EWOULDBLOCK) {
      return fail(Errc::Io, fmt::format("cannot lock {}: {}", file.string(), std::strerror(error)));
    }
    auto pid = pid_in_lock_file(file);
    if (!pid) pid = flock_holder_from_proc(file);
    return fail(Errc::Io, fmt::format("journal {} is in use by pid {}", options_.dir.string(),
                                      pid ? std::to_string(*pid) : std::string("(unknown)")));
  }
  const std::string pid = fmt::format("{}\n", static_cast<long>(::getpid()));
  if (::ftruncate(lock_fd_, 0) != 0 ||
      ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return fail(Errc::Io, fmt::format("cannot write {}: {}", file.string(), errno_text()));
  }
  return {};
}

Result<void> Journal::load_cursor() {
  ZDM_TRY(cursor_, read_cursor_file(options_.dir));
  return {};
}

Result<void> Journal::scan() {
  ZDM_TRY(auto listed, list_segments(options_.dir));
  for (const auto& [id, size] : listed) {
    if (id < cursor_.segment ||
        (id == cursor_.segment && cursor_.offset >= size && cursor_.offset > 0)) {
      // Done before a crash that came between writing the cursor and deleting the segment.
      std::error_code ec;
      fs::remove(segment_path(id), ec);
      continue;
    }
    Segment seg;
    seg.size = size;
    const uint64_t start = id == cursor_.segment ? cursor_.offset : 0;
    ZDM_TRY(FrameReader reader, FrameReader::open(segment_path(id)));
    reader.set_limit(size);
    reader.seek(start);
    while (true) {
      ZDM_TRY(FrameEvent ev, reader.next());
      if (ev.kind == FrameEvent::Kind::End) break;
      if (ev.kind == FrameEvent::Kind::Corrupt) {
        note_corrupt(id, ev.offset, ev.reason);
        continue;
      }
      ++seg.records;
      if (!stats_.oldest_pending_created_ms) {
        if (auto r = decode_record(ev.payload)) stats_.oldest_pending_created_ms = r->created_ms;
      }
    }
    stats_.pending_records += seg.records;
    stats_.pending_bytes += size - start;
    segments_[id] = seg;
  }
  std::error_code ec;
  fs::remove(options_.dir / kCursorTmpFile, ec);
  std::vector<CorruptRecord> aside_corrupt;
  ZDM_TRY(auto aside, read_aside_file(options_.dir, &aside_corrupt));
  stats_.aside_records = aside.size();
  stats_.segments = segments_.size();
  if (!corrupt_.empty()) {
    spdlog::warn("journal {}: {} damaged region(s) after the cursor; they will be skipped",
                 options_.dir.string(), corrupt_.size());
  }
  return {};
}

void Journal::note_corrupt(uint64_t segment, uint64_t offset, std::string reason) {
  if (!corrupt_seen_.emplace(segment, offset).second) return;
  corrupt_.push_back({segment, offset, std::move(reason)});
  stats_.corrupt_records = corrupt_.size();
}

Result<void> Journal::open_new_segment() {
  uint64_t id = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  id = std::max(id, cursor_.segment + 1);
  const fs::path path = segment_path(id);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(Errc::Io, fmt::format("cannot create {}: {}", path.string(), errno_text()));
  active_fd_ = fd;
  active_id_ = id;
  segments_[id] = Segment{};
  stats_.segments = segments_.size();
  dir_sync_needed_ = true;
  return {};
}

std::optional<AppendError> Journal::fail_append(AppendError kind, std::string message) {
  last_error_ = std::move(message);
  return kind;
}

std::optional<AppendError> Journal::append(const WriteRecord& record) {
  if (sync_failed_) {
    return fail_append(AppendError::Io, "an earlier fsync of the journal failed (" + last_error_ +
                                            "); appends fail until a sync succeeds");
  }
  buffer_.clear();
  buffer_.resize(kFrameHeaderSize);
  encode_record_into(record, buffer_);
  if (buffer_.size() - kFrameHeaderSize > kMaxFramePayload) {
    return fail_append(AppendError::Io, fmt::format("record of {} bytes exceeds the journal's "
                                                    "frame limit of {} bytes",
                                                    buffer_.size(), kMaxFramePayload));
  }
  patch_frame_header(buffer_, 0);
  const uint64_t n = buffer_.size();
  if (stats_.pending_bytes + n > options_.max_bytes) {
    return fail_append(
        AppendError::Full,
        fmt::format("journal {} is full: {} pending bytes + {} exceed the "
                    "maximum of {} (ZDM_JOURNAL_MAX_BYTES)",
                    options_.dir.string(), stats_.pending_bytes, n, options_.max_bytes));
  }
  if (active_fd_ >= 0) {
    const Segment& seg = segments_[active_id_];
    if (seg.size > 0 && seg.size + n > options_.segment_bytes) {
      // Rotate: the closed segment is made durable before appends move on.
      if (unsynced_ && ::fdatasync(active_fd_) != 0) {
        sync_failed_ = true;
        return fail_append(
            AppendError::Io,
            fmt::format("cannot fsync {}: {}", segment_path(active_id_).string(), errno_text()));
      }
      ::close(active_fd_);
      active_fd_ = -1;
    }
  }
  if (active_fd_ < 0) {
    if (auto opened = open_new_segment(); !opened) {
      return fail_append(AppendError::Io, opened.error().message);
    }
  }
  Segment& seg = segments_[active_id_];
  const uint64_t before = seg.size;
  auto undo = [&](std::string message) {
    if (::ftruncate(active_fd_, static_cast<off_t>(before)) != 0) {
      // The segment keeps a torn frame (read as damage); appends move to a new segment.
      message += fmt::format("; cutting the partial write off failed too: {}", errno_text());
      struct stat st {};
      if (::fstat(active_fd_, &st) == 0) seg.size = static_cast<uint64_t>(st.st_size);
      stats_.pending_bytes += seg.size - before;
      ::close(active_fd_);
      active_fd_ = -1;
    }
    if (reader_id_ == active_id_) reader_.invalidate();
    return fail_append(AppendError::Io, std::move(message));
  };
  const std::string path = segment_path(active_id_).string();
  if (auto written = write_all(active_fd_, buffer_, path); !written) {
    return undo(written.error().message);
  }
  if (options_.sync_interval.count() == 0) {
    if (::fdatasync(active_fd_) != 0)
      return undo(fmt::format("cannot fsync {}: {}", path, errno_text()));
    if (dir_sync_needed_) {
      if (auto synced = fsync_directory(options_.dir); !synced) return undo(synced.error().message);
      dir_sync_needed_ = false;
    }
  } else {
    unsynced_ = true;
  }
  seg.size += n;
  ++seg.records;
  ++stats_.pending_records;
  stats_.pending_bytes += n;
  ++stats_.appended_total;
  if (!stats_.oldest_pending_created_ms) stats_.oldest_pending_created_ms = record.created_ms;
  if (options_.sync_interval.count() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ >= options_.sync_interval) {
      if (auto synced = sync(); !synced) {
        // Not durable: take this record back; the ones before it were acknowledged already.
        seg.size -= n;
        --seg.records;
        --stats_.pending_records;
        stats_.pending_bytes -= n;
        --stats_.appended_total;
        return undo(synced.error().message);
      }
    }
  }
  return std::nullopt;
}

Result<void> Journal::sync() {
  if (active_fd_ >= 0 && unsynced_) {
    if (::fdatasync(active_fd_) != 0) {
      sync_failed_ = true;
      last_error_ =
          fmt::format("cannot fsync {}: {}", segment_path(active_id_).string(), errno_text());
      return fail(Errc::Io, last_error_);
    }
  }
  if (dir_sync_needed_) {
    if (auto synced = fsync_directory(options_.dir); !synced) {
      sync_failed_ = true;
      last_error_ = synced.error().message;
      return synced;
    }
    dir_sync_needed_ = false;
  }
  unsynced_ = false;
  sync_failed_ = false;
  last_sync_ = std::chrono::steady_clock::now();
  return {};
}

void Journal::sync_if_due(std::chrono::steady_clock::time_point now) {
  if (!unsynced_ && !dir_sync_needed_) return;
  if (now - last_sync_ < options_.sync_interval) return;
  if (auto synced = sync(); !synced) {
    spdlog::error("journal {}: {}", options_.dir.string(), synced.error().message);
  }
}

Result<FrameReader*> Journal::reader_for(uint64_t segment) {
  if (!reader_.is_open() || reader_id_ != segment) {
    ZDM_TRY(reader_, FrameReader::open(segment_path(segment)));
    reader_id_ = segment;
  }
  return &reader_;
}

Result<std::optional<JournalEntry>> Journal::read_next(JournalPosition from) {
  auto it = segments_.lower_bound(from.segment);
  uint64_t offset = it != segments_.end() && it->first == from.segment ? from.offset : 0;
  for (; it != segments_.end(); ++it, offset = 0) {
    const uint64_t id = it->first;
    if (offset >= it->second.size) continue;
    ZDM_TRY(FrameReader * reader, reader_for(id));
    reader->set_limit(it->second.size);
    reader->seek(offset);
    while (true) {
      ZDM_TRY(FrameEvent ev, reader->next());
      if (ev.kind == FrameEvent::Kind::End) break;
      if (ev.kind == FrameEvent::Kind::Corrupt) {
        note_corrupt(id, ev.offset, ev.reason);
        continue;
      }
      auto record = decode_record(ev.payload);
      if (!record) {
        note_corrupt(id, ev.offset, "undecodable record: " + record.error().message);
        continue;
      }
      return JournalEntry{{id, ev.offset}, {id, ev.next}, std::move(*record), ev.next - ev.offset};
    }
  }
  return std::optional<JournalEntry>{};
}

Result<std::optional<int64_t>> Journal::first_created_ms() {
  if (stats_.pending_records == 0) return std::optional<int64_t>{};
  ZDM_TRY(auto entry, read_next(cursor_));
  if (!entry) return std::optional<int64_t>{};
  return std::optional<int64_t>(entry->record.created_ms);
}

Result<void> Journal::write_cursor(JournalPosition position) {
  const fs::path tmp = options_.dir / kCursorTmpFile;
  const std::string text =
      fmt::format("{} {} {}\n", kCursorHeader, position.segment, position.offset);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail(Errc::Io, fmt::format("cannot create {}: {}", tmp.string(), errno_text()));
  auto written = write_all(fd, as_bytes(text), tmp.string());
  if (written && ::fsync(fd) != 0) {
    written = fail(Errc::Io, fmt::format("cannot fsync {}: {}", tmp.string(), errno_text()));
  }
  ::close(fd);
  if (!written) return written;
  if (::rename(tmp.c_str(), (options_.dir / kCursorFile).c_str()) != 0) {
    return fail(Errc::Io,
                fmt::format("cannot rename {} to {}: {}", tmp.string(), kCursorFile, errno_text()));
  }
  return fsync_directory(options_.dir);
}

Result<void> Journal::commit(JournalPosition position) {
  if (position < cursor_) {
    return fail(Errc::InvalidArgument,
                fmt::format("journal commit at {}:{} is before the cursor {}:{}", position.segment,
                            position.offset, cursor_.segment, cursor_.offset));
  }
  if (position == cursor_) return {};
  auto at = segments_.find(position.segment);
  if (at != segments_.end() && position.offset > at->second.size) {
    return fail(Errc::InvalidArgument,
                fmt::format("journal commit at {}:{} is past the end of that segment ({} bytes)",
                            position.segment, position.offset, at->second.size));
  }
  if (!segments_.empty() && position.segment > segments_.rbegin()->first) {
    return fail(Errc::InvalidArgument,
                fmt::format("journal commit at {}:{} is past the last segment", position.segment,
                            position.offset));
  }
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t partial_records = 0;
  for (auto& [id, seg] : segments_) {
    if (id > position.segment) break;
    const uint64_t start = id == cursor_.segment ? std::min(cursor_.offset, seg.size) : 0;
    if (id < position.segment) {
      records += seg.records;
      bytes += seg.size - start;
      continue;
    }
    // The frames of this segment between the cursor and `position`.
    ZDM_TRY(FrameReader counter, FrameReader::open(segment_path(id)));
    counter.set_limit(position.offset);
    counter.seek(start);
    while (true) {
      ZDM_TRY(FrameEvent ev, counter.next());
      if (ev.kind == FrameEvent::Kind::End) break;
      if (ev.kind == FrameEvent::Kind::Frame) ++partial_records;
    }
    partial_records = std::min(partial_records, seg.records);
    records += partial_records;
    bytes += position.offset - start;
  }
  ZDM_CHECK(write_cursor(position));
  cursor_ = position;
  if (at != segments_.end()) at->second.records -= partial_records;
  for (auto it = segments_.begin(); it != segments_.end();) {
    const bool done = it->first < position.segment ||
                      (it->first == position.segment && position.offset >= it->second.size);
    const bool active = active_fd_ >= 0 && it->first == active_id_;
    if (!done || active) {
      ++it;
      continue;
    }
    std::error_code ec;
    fs::remove(segment_path(it->first), ec);
    if (ec) {
      // The cursor is durable: the next open deletes it.
      spdlog::warn("journal {}: cannot delete {}: {}", options_.dir.string(),
                   segment_file_name(it->first), ec.message());
    }
    if (reader_id_ == it->first) reader_ = FrameReader();
    it = segments_.erase(it);
  }
  stats_.pending_records -= std::min(records, stats_.pending_records);
  stats_.pending_bytes -= std::min(bytes, stats_.pending_bytes);
  stats_.segments = segments_.size();
  ZDM_TRY(stats_.oldest_pending_created_ms, first_created_ms());
  return {};
}

Result<void> Journal::set_aside(WriteRecord record, std::string error) {
  record.reason = std::move(error);
  Bytes frame(kFrameHeaderSize);
  encode_record_into(record, frame);
  patch_frame_header(frame, 0);
  const fs::path path = options_.dir / kAsideFile;
  const bool created = !fs::exists(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Errc::Io, fmt::format("cannot open {}: {}", path.string(), errno_text()));
  struct stat st {};
  const bool sized = ::fstat(fd, &st) == 0;
  auto written = write_all(fd, frame, path.string());
  if (written && ::fdatasync(fd) != 0) {
    written = fail(Errc::Io, fmt::format("cannot fsync {}: {}", path.string(), errno_text()));
  }
  if (!written && sized) (void)::ftruncate(fd, st.st_size);
  ::close(fd);
  if (!written) return written;
  if (created) ZDM_CHECK(fsync_directory(options_.dir));
  ++stats_.aside_records;
  return {};
}

Result<std::vector<WriteRecord>> Journal::read_aside() const {
  std::vector<CorruptRecord> damaged;
  ZDM_TRY(auto records, read_aside_file(options_.dir, &damaged));
  for (const auto& c : damaged) {
    spdlog::warn("journal {}: aside.zdmj offset {}: {}", options_.dir.string(), c.offset, c.reason);
  }
  return records;
}

JournalStats Journal::stats() const { return stats_; }

Result<std::vector<WriteRecord>> read_aside_file(const fs::path& dir,
                                                 std::vector<CorruptRecord>* corrupt) {
  std::vector<WriteRecord> out;
  const fs::path path = dir / kAsideFile;
  if (!fs::exists(path)) return out;
  ZDM_TRY(FrameReader reader, FrameReader::open(path));
  while (true) {
    ZDM_TRY(FrameEvent ev, reader.next());
    if (ev.kind == FrameEvent::Kind::End) break;
    if (ev.kind == FrameEvent::Kind::Corrupt) {
      if (corrupt) corrupt->push_back({0, ev.offset, ev.reason});
      continue;
    }
    auto record = decode_record(ev.payload);
    if (!record) {
      if (corrupt)
        corrupt->push_back({0, ev.offset, "undecodable record: " + record.error().message});
      continue;
    }
    out.push_back(std::move(*record));
  }
  return out;
}

Result<JournalStats> inspect_stats(const fs::path& dir, std::vector<CorruptRecord>* corrupt) {
  JournalStats stats;
  ZDM_CHECK(scan_pending(dir, nullptr, corrupt, stats));
  ZDM_TRY(auto aside, read_aside_file(dir, nullptr));
  stats.aside_records = aside.size();
  return stats;
}

Result<void> for_each_pending(const fs::path& dir,
                              const std::function<void(const JournalEntry&)>& visit,
                              std::vector<CorruptRecord>* corrupt) {
  JournalStats stats;
  return scan_pending(dir, &visit, corrupt, stats);
}

}  // namespace zdm::journal
