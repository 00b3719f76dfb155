#pragma once
// Live read comparison (ZDM_READ_COMPARISON_RATE, with READ_MODE=DUAL_ASYNC_ON_SECONDARY): a
// sampled async read's answer from the secondary is compared with the primary's answer to the
// client. Each answer is reduced to a RowsDigest while its frame passes through (no copy of the
// body): the row count, and an order-insensitive multiset hash of the rows, each row hashed over
// its serialized cells including their [bytes] length (so null differs from empty). Only cell
// bytes count: metadata may be absent (skip-metadata EXECUTE) or differ in names without
// changing the verdict. A page with more pages after it is compared as it is (both clusters got
// the same page size); continuation pages are not sampled (they carry the primary's paging
// state), see ClientSession.
//
// Outcomes, the `result` label of zdm_proxy_read_comparisons_total{keyspace,table,result}:
//   match     both ROWS, same row count and same multiset hash
//   mismatch  both ROWS, different
//   error     either answer is an ERROR
//   skipped   sampled but not comparable (not ROWS, malformed, the copy could not be sent, the
//             primary request went away)
//   timeout   one of the answers did not arrive within PROXY_REQUEST_TIMEOUT_MS
//
// Threading: ReadComparisons and ComparisonCounters belong to one session's io thread. The
// mismatch log limiter is process-wide (atomics).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/metrics.hpp"
#include "common/result.hpp"
#include "protocol/version.hpp"
#include "proxy/routing/answer_join.hpp"

namespace zdm::proxy {

enum class ComparisonResult : uint8_t { Match, Mismatch, Error, Skipped, Timeout };
inline constexpr size_t kComparisonResultCount = 5;
std::string_view comparison_result_name(ComparisonResult result);  // "match"

// zdm_proxy_read_comparisons_total series of one table, bound on first use (a table that is
// never compared gets no series).
class ComparisonCounters {
 public:
  ComparisonCounters() = default;
  ComparisonCounters(metrics::CounterFamily* family, std::string keyspace, std::string table);

  void count(ComparisonResult result);
  const std::string& keyspace() const { return keyspace_; }
  const std::string& table() const { return table_; }

 private:
  metrics::CounterFamily* family_ = nullptr;
  std::string keyspace_;
  std::string table_;
  std::array<metrics::Counter*, kComparisonResultCount> series_{};
};

// One row as remembered for the mismatch log: its hash and the start of its first cell.
struct RowSample {
  uint64_t hash = 0;
  int32_t lead_size = 0;  // [bytes] length of the first cell (< 0: null)
  uint8_t lead_kept = 0;  // bytes of it in `lead`
  std::array<uint8_t, 19> lead{};
};

class RowsDigest {
 public:
  enum class Kind : uint8_t { None, Rows, Error, OtherResult, Malformed };
  // Rows remembered (in arrival order) to name the first differing row; the digest itself
  // covers every row.
  static constexpr size_t kMaxSamples = 64;

  void clear();
  // Digests a response read by peek_response(). Never fails: an undecodable ROWS body gives
  // Kind::Malformed. Keeps no view into the response.
  void add_response(protocol::ProtocolVersion version, const ResponsePeek& peek);
  // A ROWS result: `message` starts at the result kind [int] (as ResponsePeek::message).
  Result<void> add_rows(protocol::ProtocolVersion version, ByteView message);

  Kind kind() const { return kind_; }
  int32_t row_count() const { return row_count_; }
  bool has_more_pages() const { return more_pages_; }
  protocol::ErrorCode error() const { return error_; }
  const std::vector<RowSample>& samples() const { return samples_; }
  // The order-insensitive digest (two 64-bit multiset sums).
  uint64_t sum() const { return sum_; }
  uint64_t mix() const { return mix_; }

 private:
  Kind kind_ = Kind::None;
  bool more_pages_ = false;
  int32_t row_count_ = 0;
  uint64_t sum_ = 0;
  uint64_t mix_ = 0;
  protocol::ErrorCode error_ = protocol::ErrorCode::ServerError;
  std::vector<RowSample> samples_;
};

ComparisonResult compare_digests(const RowsDigest& primary, const RowsDigest& secondary);

// For the mismatch log: row counts and the first row (by hash order) present on one side only,
// shown by its leading column ("k=0x0000002a" style, text when printable). Cold.
std::string describe_difference(const RowsDigest& primary, const RowsDigest& secondary);

// Process-wide: true for at most `per_minute` calls per minute (mismatch log sampling).
bool mismatch_log_allowed(int per_minute = 10);

// The comparisons in flight on one session's async connection: the primary's and the
// secondary's digests meet here, whichever arrives last decides. Bounded (`capacity` entries:
// open() fails when full); entries are reused, so their vectors and strings keep their capacity
// and steady state does not allocate.
class ReadComparisons {
 public:
  struct Ticket {
    int32_t index = -1;
    uint32_t seq = 0;
    bool valid() const { return index >= 0; }
  };

  ReadComparisons(size_t capacity, protocol::ProtocolVersion version);

  // `counters` may be null (metrics off); `statement` is kept (truncated) for the mismatch log.
  Ticket open(ComparisonCounters* counters, std::string_view statement);
  void primary(Ticket ticket, const ResponsePeek& peek);
  void secondary(Ticket ticket, const ResponsePeek& peek);
  // The other answer will not come (timeout, request dropped): counts `why` and forgets it.
  void abandon(Ticket ticket, ComparisonResult why);
  // Forgets everything without counting (the session closed).
  void clear();

  size_t open_count() const { return open_; }
  uint64_t count(ComparisonResult r) const { return totals_[static_cast<size_t>(r)]; }

 private:
  struct Entry {
    uint32_t seq = 0;
    bool in_use = false;
    bool have_primary = false;
    bool have_secondary = false;
    ComparisonCounters* counters = nullptr;
    std::string statement;
    RowsDigest primary;
    RowsDigest secondary;
  };
  Entry* find(Ticket ticket);
  void finish(Entry& e, ComparisonResult result);
  void release(Entry& e);

  protocol::ProtocolVersion version_;
  std::vector<Entry> entries_;
  std::vector<int32_t> free_;
  size_t capacity_ = 0;
  uint32_t next_seq_ = 1;
  size_t open_ = 0;
  std::array<uint64_t, kComparisonResultCount> totals_{};
};

}  // namespace zdm::proxy
