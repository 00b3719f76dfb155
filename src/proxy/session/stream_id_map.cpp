#include "proxy/session/stream_id_map.hpp"

#include <algorithm>

namespace zdm::proxy {

StreamIdMap::StreamIdMap(int capacity) {
  const int n = std::clamp(capacity, 1, kMaxProtocolStreamIds);
  owners_.assign(static_cast<size_t>(n), kFree);
  free_.reserve(static_cast<size_t>(n));
  // Highest first so that id 0 is handed out first.
  for (int id = n - 1; id >= 0; --id) free_.push_back(static_cast<int16_t>(id));
}

std::optional<int16_t> StreamIdMap::acquire(uint32_t owner) {
  if (free_.empty() || owner >= kOrphan) return std::nullopt;
  const int16_t id = free_.back();
  free_.pop_back();
  owners_[static_cast<size_t>(id)] = owner;
  return id;
}

std::optional<uint32_t> StreamIdMap::release(int16_t id) {
  if (id < 0 || static_cast<size_t>(id) >= owners_.size()) return std::nullopt;
  uint32_t& slot = owners_[static_cast<size_t>(id)];
  if (slot == kFree) return std::nullopt;
  const uint32_t owner = slot;
  if (owner == kOrphan) --orphans_;
  slot = kFree;
  free_.push_back(id);
  return owner;
}

std::optional<uint32_t> StreamIdMap::owner(int16_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= owners_.size()) return std::nullopt;
  const uint32_t o = owners_[static_cast<size_t>(id)];
  if (o == kFree) return std::nullopt;
  return o;
}

bool StreamIdMap::orphan(int16_t id) {
  if (id < 0 || static_cast<size_t>(id) >= owners_.size()) return false;
  uint32_t& slot = owners_[static_cast<size_t>(id)];
  if (slot == kFree) return false;
  if (slot != kOrphan) {
    slot = kOrphan;
    ++orphans_;
  }
  return true;
}

}  // namespace zdm::proxy
