#include "proxy/session/deadline_list.hpp"

namespace zdm::proxy {

bool DeadlineList::insert(uint32_t index, Clock::time_point deadline) {
  reserve(static_cast<size_t>(index) + 1);
  Node& n = nodes_[index];
  if (n.linked) remove(index);
  n.deadline = deadline;
  int32_t after = tail_;
  while (after >= 0 && nodes_[static_cast<size_t>(after)].deadline > deadline) {
    after = nodes_[static_cast<size_t>(after)].prev;
  }
  const auto self = static_cast<int32_t>(index);
  n.prev = after;
  n.next = after >= 0 ? nodes_[static_cast<size_t>(after)].next : head_;
  if (n.prev >= 0) {
    nodes_[static_cast<size_t>(n.prev)].next = self;
  } else {
    head_ = self;
  }
  if (n.next >= 0) {
    nodes_[static_cast<size_t>(n.next)].prev = self;
  } else {
    tail_ = self;
  }
  n.linked = true;
  return head_ == self;
}

void DeadlineList::remove(uint32_t index) {
  if (!contains(index)) return;
  Node& n = nodes_[index];
  if (n.prev >= 0) {
    nodes_[static_cast<size_t>(n.prev)].next = n.next;
  } else {
    head_ = n.next;
  }
  if (n.next >= 0) {
    nodes_[static_cast<size_t>(n.next)].prev = n.prev;
  } else {
    tail_ = n.prev;
  }
  n.prev = n.next = -1;
  n.linked = false;
}

void DeadlineList::clear() {
  for (auto& n : nodes_) n = Node{};
  head_ = tail_ = -1;
}

}  // namespace zdm::proxy
