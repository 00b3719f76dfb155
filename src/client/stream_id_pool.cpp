#include "client/stream_id_pool.hpp"

#include <algorithm>

namespace zdm::client {

StreamIdPool::StreamIdPool(int capacity) {
  capacity = std::clamp(capacity, 1, kMaxStreamIds);
  taken_.assign(static_cast<size_t>(capacity), 0);
  free_.reserve(static_cast<size_t>(capacity));
  // Pushed in reverse so that id 0 is handed out first.
  for (int id = capacity - 1; id >= 0; --id) free_.push_back(static_cast<int16_t>(id));
}

std::optional<int16_t> StreamIdPool::acquire() {
  if (free_.empty()) return std::nullopt;
  int16_t id = free_.back();
  free_.pop_back();
  taken_[static_cast<size_t>(id)] = 1;
  return id;
}

bool StreamIdPool::release(int16_t id) {
  if (!in_use(id)) return false;
  taken_[static_cast<size_t>(id)] = 0;
  free_.push_back(id);
  return true;
}

bool StreamIdPool::in_use(int16_t id) const {
  return id >= 0 && static_cast<size_t>(id) < taken_.size() && taken_[static_cast<size_t>(id)] != 0;
}

}  // namespace zdm::client
