#pragma once
// Stream ids of one upstream connection: which proxy-side id carries which request. A request of
// the client (client stream id c) goes upstream on a free id u; the response on u is routed back
// to the request's owner. Single-threaded (one io thread per session), O(1), no allocation after
// construction.
//
// A request abandoned before its answer (proxy-side timeout, client gone) leaves its id
// *orphaned*: still taken, so a late answer cannot be mistaken for the answer to a newer request
// that reused the id; the late answer releases it and is dropped.

#include <cstdint>
#include <optional>
#include <vector>

namespace zdm::proxy {

// Upper bound of the protocol (ids are non-negative int16 in v3+).
inline constexpr int kMaxProtocolStreamIds = 32768;

class StreamIdMap {
 public:
  // Owner value of an orphaned id.
  static constexpr uint32_t kOrphan = UINT32_MAX - 1;

  // `capacity` is clamped into 1..32768.
  explicit StreamIdMap(int capacity);

  // A free id now owned by `owner` (anything but kOrphan); nullopt when every id is taken.
  std::optional<int16_t> acquire(uint32_t owner);
  // Frees `id` and returns who owned it (kOrphan for an orphan); nullopt when the id is not
  // taken or out of range (an answer we never asked for).
  std::optional<uint32_t> release(int16_t id);
  // The owner of a taken id, nullopt otherwise.
  std::optional<uint32_t> owner(int16_t id) const;
  // Keeps `id` taken but forgets its owner. Returns false when the id is not taken.
  bool orphan(int16_t id);

  int capacity() const { return static_cast<int>(owners_.size()); }
  int in_use() const { return capacity() - static_cast<int>(free_.size()); }
  int orphans() const { return orphans_; }
  bool full() const { return free_.empty(); }

 private:
  static constexpr uint32_t kFree = UINT32_MAX;

  std::vector<uint32_t> owners_;  // by id; kFree when not taken
  std::vector<int16_t> free_;     // LIFO: recently used ids first (their state is warm)
  int orphans_ = 0;
};

}  // namespace zdm::proxy
