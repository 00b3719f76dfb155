#include "journal/journal.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "journal/frame_reader.hpp"
#include "journal_test_util.hpp"

namespace zdm::journal {
namespace {

namespace fs = std::filesystem;
using testing::insert_record;
using testing::TempDir;

std::unique_ptr<Journal> open_journal(const fs::path& dir, uint64_t segment_bytes = 64ull << 20,
                                      uint64_t max_bytes = 1ull << 30) {
  JournalOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.max_bytes = max_bytes;
  auto j = Journal::open(o);
  EXPECT_TRUE(j) << (j ? "" : j.error().to_string());
  return j ? std::move(*j) : nullptr;
}

// Every record from the cursor on, in order (ids from the first value).
std::vector<int32_t> read_all(Journal& j, JournalPosition from, JournalPosition* end = nullptr) {
  std::vector<int32_t> ids;
  JournalPosition pos = from;
  while (true) {
    auto e = j.read_next(pos);
    EXPECT_TRUE(e) << (e ? "" : e.error().to_string());
    if (!e || !*e) break;
    ids.push_back(
        static_cast<int32_t>(load_be32((*e)->record.statements[0].values[0].bytes.data())));
    pos = (*e)->next;
  }
  if (end) *end = pos;
  return ids;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("segment-", 0) == 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t frame_size(int32_t id) {
  return kFrameHeaderSize + encode_record(insert_record(id)).size();
}

TEST(JournalTest, AppendsReadsInOrderAndCountsPending) {
  TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  for (int32_t i = 0; i < 5; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  auto s = j->stats();
  EXPECT_EQ(s.pending_records, 5u);
  EXPECT_EQ(s.pending_bytes, 5 * frame_size(0));
  EXPECT_EQ(s.appended_total, 5u);
  EXPECT_EQ(s.oldest_pending_created_ms, insert_record(0).created_ms);
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  auto first = j->read_next(j->cursor());
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->record, insert_record(0));
  EXPECT_EQ((*first)->bytes, frame_size(0));
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
  EXPECT_EQ(segment_files(dir.path())[0].filename(), "segment-00000000000000000001.zdmj");
}

TEST(JournalTest, CommitPersistsTheCursorAndPendingCountsSurviveReopen) {
  TempDir dir;
  JournalPosition after_two;
  {
    auto j = open_journal(dir.path());
    for (int32_t i = 0; i < 5; ++i) ASSERT_FALSE(j->append(insert_record(i)));
    auto e = j->read_next(j->cursor());
    e = j->read_next((*e)->next);
    after_two = (*e)->next;
    ASSERT_TRUE(j->commit(after_two));
    EXPECT_EQ(j->stats().pending_records, 3u);
    EXPECT_EQ(j->stats().pending_bytes, 3 * frame_size(0));
    EXPECT_EQ(j->stats().oldest_pending_created_ms, insert_record(2).created_ms);
    ASSERT_TRUE(j->sync());
  }
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->cursor(), after_two);
  EXPECT_EQ(j->stats().pending_records, 3u);
  EXPECT_EQ(j->stats().pending_bytes, 3 * frame_size(0));
  EXPECT_EQ(j->stats().oldest_pending_created_ms, insert_record(2).created_ms);
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{2, 3, 4}));
  // Appends after reopen go to a new segment, read after the old ones.
  ASSERT_FALSE(j->append(insert_record(5)));
  EXPECT_EQ(segment_files(dir.path()).size(), 2u);
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{2, 3, 4, 5}));
  EXPECT_EQ(j->stats().pending_records, 4u);
}

TEST(JournalTest, RejectsACommitBeforeTheCursorOrPastTheEnd) {
  TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_FALSE(j->append(insert_record(0)));
  JournalPosition end;
  read_all(*j, j->cursor(), &end);
  EXPECT_FALSE(j->commit({end.segment, end.offset + 1}));
  ASSERT_TRUE(j->commit(end));
  EXPECT_FALSE(j->commit({0, 0}));
  EXPECT_EQ(j->stats().pending_records, 0u);
  EXPECT_EQ(j->stats().pending_bytes, 0u);
  EXPECT_FALSE(j->stats().oldest_pending_created_ms);
}

TEST(JournalTest, RotatesSegmentsBySize) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  auto j = open_journal(dir.path(), 3 * frame);
  for (int32_t i = 0; i < 10; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  auto files = segment_files(dir.path());
  ASSERT_EQ(files.size(), 4u);  // 3 + 3 + 3 + 1
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(fs::file_size(files[i]), 3 * frame);
  EXPECT_EQ(j->stats().segments, 4u);
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(JournalTest, CommitDeletesFullyConsumedSegments) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  auto j = open_journal(dir.path(), 2 * frame);
  for (int32_t i = 0; i < 6; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  ASSERT_EQ(segment_files(dir.path()).size(), 3u);
  // Commit after record 3 (the first of segment 2): segment 1 goes, segment 2 stays.
  JournalPosition pos = j->cursor();
  for (int i = 0; i < 3; ++i) pos = (*j->read_next(pos))->next;
  ASSERT_TRUE(j->commit(pos));
  auto files = segment_files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].filename(), segment_file_name(2));
  EXPECT_EQ(j->stats().pending_records, 3u);
  EXPECT_EQ(j->stats().pending_bytes, 3 * frame);
  EXPECT_EQ(j->stats().segments, 2u);
  // Everything: only the active segment remains (appends go on there).
  JournalPosition end;
  EXPECT_EQ(read_all(*j, j->cursor(), &end), (std::vector<int32_t>{3, 4, 5}));
  ASSERT_TRUE(j->commit(end));
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
  EXPECT_EQ(j->stats().pending_records, 0u);
  EXPECT_EQ(j->stats().pending_bytes, 0u);
  ASSERT_FALSE(j->append(insert_record(6)));
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{6}));
}

TEST(JournalTest, RefusesAnAppendBeyondMaxBytesAndWritesNothing) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  auto j = open_journal(dir.path(), 64ull << 20, 3 * frame + frame / 2);
  for (int32_t i = 0; i < 3; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  const auto size_before = fs::file_size(segment_files(dir.path())[0]);
  auto error = j->append(insert_record(3));
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, AppendError::Full);
  EXPECT_NE(j->last_error().find("full"), std::string::npos) << j->last_error();
  EXPECT_EQ(fs::file_size(segment_files(dir.path())[0]), size_before);
  EXPECT_EQ(j->stats().pending_records, 3u);
  // Committing frees room.
  ASSERT_TRUE(j->commit((*j->read_next(j->cursor()))->next));
  EXPECT_FALSE(j->append(insert_record(3)));
}

// Flips one byte of record 4's payload and cuts the last record of the segment in half.
void damage(const fs::path& segment, uint64_t frame) {
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(4 * frame + kFrameHeaderSize + 20));
    char c = 0;
    f.seekg(f.tellp());
    f.get(c);
    f.seekp(static_cast<std::streamoff>(4 * frame + kFrameHeaderSize + 20));
    f.put(static_cast<char>(c ^ 0x40));
  }
  fs::resize_file(segment, fs::file_size(segment) - frame / 2);
}

TEST(JournalTest, SkipsAFlippedByteAndATornTailAndReportsThem) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  {
    auto j = open_journal(dir.path());
    for (int32_t i = 0; i < 10; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  }
  damage(segment_files(dir.path())[0], frame);
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  ASSERT_EQ(j->corrupt().size(), 2u);
  EXPECT_EQ(j->corrupt()[0].segment, 1u);
  EXPECT_EQ(j->corrupt()[0].offset, 4 * frame);
  EXPECT_EQ(j->corrupt()[0].reason, "CRC mismatch");
  EXPECT_EQ(j->corrupt()[1].offset, 9 * frame);
  EXPECT_NE(j->corrupt()[1].reason.find("truncated"), std::string::npos) << j->corrupt()[1].reason;
  EXPECT_EQ(j->stats().corrupt_records, 2u);
  EXPECT_EQ(j->stats().pending_records, 8u);
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{0, 1, 2, 3, 5, 6, 7, 8}));
  EXPECT_EQ(j->corrupt().size(), 2u);  // reading again reports nothing twice
  // New appends go to a new segment, never after the torn tail.
  ASSERT_FALSE(j->append(insert_record(10)));
  ASSERT_EQ(segment_files(dir.path()).size(), 2u);
  JournalPosition end;
  EXPECT_EQ(read_all(*j, j->cursor(), &end), (std::vector<int32_t>{0, 1, 2, 3, 5, 6, 7, 8, 10}));
  // Committing past the damage releases it with its segment.
  ASSERT_TRUE(j->commit(end));
  EXPECT_EQ(j->stats().pending_records, 0u);
  EXPECT_EQ(j->stats().pending_bytes, 0u);
  EXPECT_EQ(segment_files(dir.path()).size(), 1u);
}

TEST(JournalTest, ResynchronisesAfterGarbageInTheMiddle) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  {
    auto j = open_journal(dir.path());
    for (int32_t i = 0; i < 4; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  }
  // Overwrite record 1's header (magic and length) with garbage.
  {
    std::fstream f(segment_files(dir.path())[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(frame));
    f.write("\xff\xff\xff\xff\x7f\xff\xff\xff", 8);
  }
  std::vector<CorruptRecord> corrupt;
  auto stats = inspect_stats(dir.path(), &corrupt);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->pending_records, 3u);
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(corrupt[0].offset, frame);
  EXPECT_EQ(corrupt[0].reason, "bad frame magic");
  auto j = open_journal(dir.path());
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{0, 2, 3}));
}

TEST(JournalTest, ASecondOpenFailsNamingThePidHoldingTheLock) {
  TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  JournalOptions o;
  o.dir = dir.path();
  auto second = Journal::open(o);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("in use by pid " + std::to_string(getpid())),
            std::string::npos)
      << second.error().message;
  EXPECT_EQ(journal_lock_holder(dir.path()), static_cast<long>(getpid()));
  j.reset();
  EXPECT_FALSE(journal_lock_holder(dir.path()));
  EXPECT_TRUE(Journal::open(o));
}

TEST(JournalTest, AnotherProcessCannotOpenALockedJournal) {
  TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    JournalOptions o;
    o.dir = dir.path();
    auto second = Journal::open(o);
    const bool names_parent =
        !second && second.error().message.find("in use by pid " + std::to_string(getppid())) !=
                       std::string::npos;
    _exit(names_parent ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(JournalTest, SetsRecordsAsideWithTheirError) {
  TempDir dir;
  {
    auto j = open_journal(dir.path());
    ASSERT_TRUE(j->set_aside(insert_record(1), "Invalid: unconfigured table orders"));
    ASSERT_TRUE(j->set_aside(insert_record(2), "SyntaxError: line 1"));
    EXPECT_EQ(j->stats().aside_records, 2u);
    EXPECT_EQ(j->stats().pending_records, 0u);
    auto aside = j->read_aside();
    ASSERT_TRUE(aside);
    ASSERT_EQ(aside->size(), 2u);
    EXPECT_EQ((*aside)[0].reason, "Invalid: unconfigured table orders");
    WriteRecord expected = insert_record(2);
    expected.reason = "SyntaxError: line 1";
    EXPECT_EQ((*aside)[1], expected);
  }
  auto j = open_journal(dir.path());
  EXPECT_EQ(j->stats().aside_records, 2u);
  auto stats = inspect_stats(dir.path());
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->aside_records, 2u);
}

TEST(JournalTest, InspectAndForEachPendingSeeWhatTheOwnerSees) {
  TempDir dir;
  auto j = open_journal(dir.path(), 2 * frame_size(0));
  for (int32_t i = 0; i < 5; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  ASSERT_TRUE(j->commit((*j->read_next(j->cursor()))->next));
  auto stats = inspect_stats(dir.path());
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->pending_records, j->stats().pending_records);
  EXPECT_EQ(stats->pending_bytes, j->stats().pending_bytes);
  EXPECT_EQ(stats->segments, j->stats().segments);
  EXPECT_EQ(stats->oldest_pending_created_ms, insert_record(1).created_ms);
  std::vector<int64_t> timestamps;
  std::vector<CorruptRecord> corrupt;
  ASSERT_TRUE(for_each_pending(
      dir.path(), [&](const JournalEntry& e) { timestamps.push_back(e.record.timestamp); },
      &corrupt));
  EXPECT_EQ(timestamps,
            (std::vector<int64_t>{insert_record(1).timestamp, insert_record(2).timestamp,
                                  insert_record(3).timestamp, insert_record(4).timestamp}));
  EXPECT_TRUE(corrupt.empty());
}

TEST(JournalTest, InspectTakesATornTailOfALiveJournalForAWriteInProgress) {
  TempDir dir;
  auto j = open_journal(dir.path());
  for (int32_t i = 0; i < 3; ++i) ASSERT_FALSE(j->append(insert_record(i)));
  // Half a frame at the end of the active segment, as a concurrent reader could see it.
  {
    std::ofstream f(segment_files(dir.path())[0], std::ios::app | std::ios::binary);
    Bytes frame(kFrameHeaderSize);
    encode_record_into(insert_record(3), frame);
    patch_frame_header(frame, 0);
    f.write(reinterpret_cast<const char*>(frame.data()),
            static_cast<std::streamsize>(frame.size() / 2));
  }
  std::vector<CorruptRecord> corrupt;
  auto live = inspect_stats(dir.path(), &corrupt);
  ASSERT_TRUE(live);
  EXPECT_EQ(live->pending_records, 3u);
  EXPECT_TRUE(corrupt.empty());
  j.reset();  // no owner any more: the same bytes are damage
  auto dead = inspect_stats(dir.path(), &corrupt);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->pending_records, 3u);
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_NE(corrupt[0].reason.find("truncated"), std::string::npos);
}

TEST(JournalTest, SyncEveryAppendWhenTheIntervalIsZero) {
  TempDir dir;
  JournalOptions o;
  o.dir = dir.path();
  o.sync_interval = std::chrono::milliseconds(0);
  auto j = Journal::open(o);
  ASSERT_TRUE(j);
  for (int32_t i = 0; i < 3; ++i) ASSERT_FALSE((*j)->append(insert_record(i)));
  EXPECT_EQ(read_all(**j, (*j)->cursor()), (std::vector<int32_t>{0, 1, 2}));
}

// RLIMIT_FSIZE with SIGXFSZ ignored: a write past the limit writes what fits, then fails with
// EFBIG. The record must not be in the journal and the segment must stay clean.
TEST(JournalTest, AFailedWriteLeavesNoPartialRecordAndReportsTheErrno) {
  TempDir dir;
  const uint64_t frame = frame_size(0);
  auto j = open_journal(dir.path());
  ASSERT_FALSE(j->append(insert_record(0)));
  ASSERT_TRUE(j->sync());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = static_cast<rlim_t>(2 * frame + frame / 2);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  auto ok = j->append(insert_record(1));
  auto error = j->append(insert_record(2));  // crosses the limit mid-frame
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(ok);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, AppendError::Io);
  EXPECT_NE(j->last_error().find("File too large"), std::string::npos) << j->last_error();
  EXPECT_EQ(fs::file_size(segment_files(dir.path())[0]), 2 * frame);
  EXPECT_EQ(j->stats().pending_records, 2u);
  EXPECT_EQ(j->stats().pending_bytes, 2 * frame);
  // After the limit is lifted, appends work again and nothing is damaged.
  ASSERT_FALSE(j->append(insert_record(3)));
  EXPECT_EQ(read_all(*j, j->cursor()), (std::vector<int32_t>{0, 1, 3}));
  EXPECT_TRUE(j->corrupt().empty());
}

TEST(JournalTest, RefusesAnUnreadableCursorFile) {
  TempDir dir;
  { std::ofstream(dir.path() / "cursor") << "garbage\n"; }
  JournalOptions o;
  o.dir = dir.path();
  auto j = Journal::open(o);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("not a journal cursor"), std::string::npos);
}

}  // namespace
}  // namespace zdm::journal
