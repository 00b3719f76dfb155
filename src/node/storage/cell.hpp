#pragma once
// Cells, liveness and deletion times, and Cassandra's rules for merging them.
//
// Times: write timestamps are microseconds (client or server supplied, any int64); local
// deletion and expiration times are seconds since the Unix epoch, taken from the node's clock.

#include <cstdint>
#include <limits>

#include "common/bytes.hpp"

namespace zdm::node {

inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kNoDeletionTime = std::numeric_limits<int64_t>::max();

// A deletion (partition, range, row or collection tombstone): shadows every cell and marker whose
// timestamp is <= marked_for_delete_at.
struct DeletionTime {
  int64_t marked_for_delete_at = kNoTimestamp;
  int64_t local_deletion_time = kNoDeletionTime;

  bool is_live() const { return marked_for_delete_at == kNoTimestamp; }
  bool deletes(int64_t timestamp) const { return timestamp <= marked_for_delete_at; }
  // Keeps the stronger deletion (higher timestamp; then later local deletion time).
  void merge(const DeletionTime& other) {
    if (other.marked_for_delete_at > marked_for_delete_at ||
        (other.marked_for_delete_at == marked_for_delete_at &&
         other.local_deletion_time > local_deletion_time && !other.is_live())) {
      *this = other;
    }
  }
  friend bool operator==(const DeletionTime&, const DeletionTime&) = default;
};

// The row marker written by INSERT (not by UPDATE): keeps a row alive with every column null.
struct LivenessInfo {
  int64_t timestamp = kNoTimestamp;
  int32_t ttl = 0;                             // seconds; 0 = does not expire
  int64_t local_expiration = kNoDeletionTime;  // seconds; when the marker expires

  bool is_empty() const { return timestamp == kNoTimestamp; }
  bool is_live(int64_t now_seconds) const { return !is_empty() && now_seconds < local_expiration; }
  // Cassandra's LivenessInfo.supersedes: higher timestamp; at equal timestamps the expiring one,
  // then the later expiration.
  bool supersedes(const LivenessInfo& other) const {
    if (timestamp != other.timestamp) return timestamp > other.timestamp;
    if ((ttl != 0) != (other.ttl != 0)) return ttl != 0;
    return local_expiration > other.local_expiration;
  }
};

enum class CellState : uint8_t { Live, Tombstone };

struct Cell {
  Bytes value;  // empty for tombstones
  int64_t timestamp = kNoTimestamp;
  int32_t ttl = 0;  // seconds; 0 = not expiring
  // Tombstone: when it was deleted. Expiring cell: when it expires. Otherwise kNoDeletionTime.
  int64_t local_deletion_time = kNoDeletionTime;
  CellState state = CellState::Live;

  static Cell live(Bytes value, int64_t timestamp) {
    return Cell{std::move(value), timestamp, 0, kNoDeletionTime, CellState::Live};
  }
  static Cell expiring(Bytes value, int64_t timestamp, int32_t ttl, int64_t now_seconds) {
    return Cell{std::move(value), timestamp, ttl, now_seconds + ttl, CellState::Live};
  }
  static Cell tombstone(int64_t timestamp, int64_t now_seconds) {
    return Cell{{}, timestamp, 0, now_seconds, CellState::Tombstone};
  }

  bool is_tombstone() const { return state == CellState::Tombstone; }
  bool is_expiring() const { return state == CellState::Live && ttl != 0; }
  // Live: not a tombstone and, if expiring, not yet expired at `now_seconds`.
  bool is_live(int64_t now_seconds) const {
    return state == CellState::Live && now_seconds < local_deletion_time;
  }
};

// True when `update` wins over `existing` under Cassandra's Cells.reconcile for regular cells:
// higher timestamp; at equal timestamps a tombstone or expiring cell beats a plain live cell, a
// tombstone beats an expiring cell, then the later local deletion time, then the greater value
// (unsigned bytes; the existing cell is kept when the values are equal).
bool cell_supersedes(const Cell& update, const Cell& existing);

// Merges `update` into `existing` (regular cells).
inline void reconcile_into(Cell& existing, Cell&& update) {
  if (cell_supersedes(update, existing)) existing = std::move(update);
}

// Counter cells hold an 8-byte big-endian sum. A counter tombstone wins over any live counter
// cell regardless of timestamps (Cassandra does the same, CASSANDRA-7346).
Bytes encode_counter(int64_t sum);
int64_t decode_counter(ByteView value);

}  // namespace zdm::node
