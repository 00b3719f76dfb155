#pragma once
// The write journal: an append-only, on-disk log of WriteRecords owed to a cluster, in one
// directory:
//   lock                              flock'ed by the owner, holds its pid
//   segment-00000000000000000001.zdmj frames (frame_reader.hpp), appended in order; rotated
//   cursor                            the durable replay cursor: records before it are done
//   aside.zdmj                        records the destination refused for good, with the error
//
// Single-threaded: the owner serialises every call. Appends are one write(2) of a frame encoded
// into a reused buffer; fsync is batched (sync_interval). A record that cannot be written is
// not in the journal (a partial write is truncated off) and append says why: nothing is lost
// silently.

#include <chrono>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "journal/frame_reader.hpp"
#include "journal/write_record.hpp"

namespace zdm::journal {

struct JournalOptions {
  std::filesystem::path dir;
  uint64_t segment_bytes = 64ull << 20;  // a segment is rotated when it would exceed this
  uint64_t max_bytes = 1ull << 30;       // bound on pending bytes on disk (all segments)
  // fsync batching (ZDM_JOURNAL_SYNC_MS); 0 = fsync every append.
  std::chrono::milliseconds sync_interval{100};
};

// Full: max_bytes would be exceeded; Io: write/fsync failed (ENOSPC, EFBIG, EIO...).
enum class AppendError : uint8_t { Full, Io };
std::string_view append_error_name(AppendError e);  // "full", "io"

struct JournalPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
  auto operator<=>(const JournalPosition&) const = default;
};

struct JournalEntry {
  JournalPosition position;  // where the record's frame starts
  JournalPosition next;      // just after it: commit(next) marks it done
  WriteRecord record;
  uint64_t bytes = 0;  // frame size (header + payload)
};

// A damaged region: bad CRC, bad magic, truncated or undecodable. Segment 0 is aside.zdmj.
struct CorruptRecord {
  uint64_t segment = 0;
  uint64_t offset = 0;
  std::string reason;
  friend bool operator==(const CorruptRecord&, const CorruptRecord&) = default;
};

struct JournalStats {
  uint64_t pending_records = 0;  // whole frames after the cursor (valid CRC)
  uint64_t pending_bytes = 0;    // bytes on disk after the cursor, framing and damage included
  std::optional<int64_t> oldest_pending_created_ms;
  uint64_t segments = 0;
  uint64_t aside_records = 0;
  uint64_t corrupt_records = 0;
  uint64_t appended_total = 0;  // by this Journal object
};

std::string segment_file_name(uint64_t id);  // "segment-00000000000000000001.zdmj"

class Journal {
 public:
  // Opens (creating the directory) and takes an exclusive lock (flock on DIR/lock, holding the
  // owner's pid); a second open of the same directory, from this or another process, fails with
  // a message naming the pid holding it. Scans the segments after the replay cursor (pending
  // counts, damage). New appends always go to a new segment.
  static Result<std::unique_ptr<Journal>> open(JournalOptions options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one record: one write(2), fsync when sync_interval has passed since the last one.
  // nullopt: appended (maybe not yet synced). Otherwise the record is NOT in the journal and
  // last_error() says why. After a failed fsync every append fails with Io until sync() succeeds.
  std::optional<AppendError> append(const WriteRecord& record);
  // "cannot write .../segment-...zdmj: File too large", "journal full: ...": the last failure of
  // append/sync (empty when none yet).
  const std::string& last_error() const { return last_error_; }

  Result<void> sync();  // fsync now (segment, and the directory when a segment was created)
  void sync_if_due(std::chrono::steady_clock::time_point now);  // the owner's timer calls this

  // The next whole record at/after `from`, in append order (start with cursor()); damaged
  // regions are skipped, counted and listed in corrupt(). nullopt when nothing more.
  Result<std::optional<JournalEntry>> read_next(JournalPosition from);
  JournalPosition cursor() const { return cursor_; }
  // Records before `position` are done (replayed or set aside): persists the cursor (tmp +
  // fsync + rename), deletes segments entirely before it, updates the pending stats. Costs an
  // fsync or two: commit every few hundred records or every second, not after each one.
  Result<void> commit(JournalPosition position);

  // A record the destination refused for a reason that will not change (schema, syntax):
  // appended with `error` as its reason to DIR/aside.zdmj and fsynced. Not pending.
  Result<void> set_aside(WriteRecord record, std::string error);
  Result<std::vector<WriteRecord>> read_aside() const;

  const std::vector<CorruptRecord>& corrupt() const { return corrupt_; }
  JournalStats stats() const;  // O(1)
  const JournalOptions& options() const { return options_; }

 private:
  struct Segment {
    uint64_t size = 0;     // bytes in the file
    uint64_t records = 0;  // whole frames not yet committed
  };

  explicit Journal(JournalOptions options);
  Result<void> lock_directory();
  Result<void> load_cursor();
  Result<void> scan();
  Result<void> open_new_segment();
  std::optional<AppendError> fail_append(AppendError kind, std::string message);
  Result<void> write_cursor(JournalPosition position);
  void note_corrupt(uint64_t segment, uint64_t offset, std::string reason);
  Result<FrameReader*> reader_for(uint64_t segment);
  Result<std::optional<int64_t>> first_created_ms();
  std::filesystem::path segment_path(uint64_t id) const;

  JournalOptions options_;
  int lock_fd_ = -1;
  JournalPosition cursor_;
  std::map<uint64_t, Segment> segments_;
  // The segment appends go to (created by the first append after open or a rotation).
  int active_fd_ = -1;
  uint64_t active_id_ = 0;
  bool dir_sync_needed_ = false;
  bool unsynced_ = false;
  bool sync_failed_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  Bytes buffer_;  // reused for every append
  std::string last_error_;
  // Read side: the segment being read.
  uint64_t reader_id_ = 0;
  FrameReader reader_;
  std::vector<CorruptRecord> corrupt_;
  std::set<std::pair<uint64_t, uint64_t>> corrupt_seen_;
  JournalStats stats_;
};

// Read-only view for `zdm journal status/inspect` of a directory a live proxy may hold: no lock
// taken, nothing written. While the directory is locked, a frame cut short at the end of the
// last segment is taken for a write in progress (not damage).
Result<JournalStats> inspect_stats(const std::filesystem::path& dir,
                                   std::vector<CorruptRecord>* corrupt = nullptr);
Result<void> for_each_pending(const std::filesystem::path& dir,
                              const std::function<void(const JournalEntry&)>& visit,
                              std::vector<CorruptRecord>* corrupt);
// The records of DIR/aside.zdmj (empty when there is none), damaged ones in `corrupt`.
Result<std::vector<WriteRecord>> read_aside_file(const std::filesystem::path& dir,
                                                 std::vector<CorruptRecord>* corrupt);
// The pid in DIR/lock when a process holds the lock; nullopt when the directory is free.
std::optional<long> journal_lock_holder(const std::filesystem::path& dir);

}  // namespace zdm::journal
