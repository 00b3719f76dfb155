#pragma once
// Requests in flight by index (a session's slot, an async connection's stream id), kept in
// deadline order so that one timer per owner serves them all: the owner arms its timer for
// first() and expires from the front. Requests usually share one timeout, so insert() is an
// append; a shorter timeout (a routing change) walks back from the tail. O(1) removal; no
// allocation once the indices are reserved.
//
// Used by ClientSession (slots) and AsyncReads (stream ids). Single-threaded, like its owners.

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace zdm::proxy {

class DeadlineList {
 public:
  using Clock = std::chrono::steady_clock;

  // Indices below `count` may be inserted (grows, never shrinks).
  void reserve(size_t count) {
    if (nodes_.size() < count) nodes_.resize(count);
  }
  // Links `index` (not linked yet) with `deadline`; true when it became the first to expire
  // (an armed timer must then be moved earlier).
  bool insert(uint32_t index, Clock::time_point deadline);
  // Unlinks `index`; nothing when it is not linked.
  void remove(uint32_t index);
  bool contains(uint32_t index) const { return index < nodes_.size() && nodes_[index].linked; }
  // The index that expires first, if any.
  std::optional<uint32_t> first() const {
    if (head_ < 0) return std::nullopt;
    return static_cast<uint32_t>(head_);
  }
  Clock::time_point deadline(uint32_t index) const { return nodes_[index].deadline; }
  bool empty() const { return head_ < 0; }
  void clear();

 private:
  struct Node {
    int32_t prev = -1;
    int32_t next = -1;
    bool linked = false;
    Clock::time_point deadline{};
  };
  std::vector<Node> nodes_;
  int32_t head_ = -1;
  int32_t tail_ = -1;
};

}  // namespace zdm::proxy
