#pragma once
// Stream ids of one connection: a LIFO free list over [0, capacity), O(1) to take and give back.
// v3+ allows 32768 ids per connection. An id taken by a request that timed out stays taken until
// its late response arrives or the connection closes, so a late response can never be matched to
// a newer request.

#include <cstdint>
#include <optional>
#include <vector>

namespace zdm::client {

inline constexpr int kMaxStreamIds = 32768;

class StreamIdPool {
 public:
  // capacity is clamped to [1, kMaxStreamIds].
  explicit StreamIdPool(int capacity = kMaxStreamIds);

  // Reuses the most recently released id first (keeps the hot set of per-id state small).
  std::optional<int16_t> acquire();
  // Returns false (and changes nothing) for an id out of range or not taken: a duplicate or
  // unknown response must not corrupt the free list.
  bool release(int16_t id);

  bool in_use(int16_t id) const;
  int capacity() const { return static_cast<int>(taken_.size()); }
  int available() const { return static_cast<int>(free_.size()); }
  int in_flight() const { return capacity() - available(); }

 private:
  std::vector<int16_t> free_;
  std::vector<uint8_t> taken_;
};

}  // namespace zdm::client
