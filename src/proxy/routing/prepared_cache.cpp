#include "proxy/routing/prepared_cache.hpp"

#include <algorithm>
#include <limits>
#include <mutex>

namespace zdm::proxy {

namespace {

std::string_view key_of(ByteView id) { return as_chars(id); }

}  // namespace

StoredDecision StoredDecision::from(const ForwardDecision& d) {
  StoredDecision s;
  s.route = d.route;
  s.is_read = d.is_read;
  s.send_async = d.send_async;
  s.track_metrics = d.track_metrics;
  s.statement = d.statement;
  s.keyspace = d.keyspace.empty() ? std::string() : d.keyspace.value();
  s.table = d.table.empty() ? std::string() : d.table.value();
  return s;
}

std::vector<std::shared_ptr<const PreparedEntry>> PreparedCache::recent(size_t max) const {
  std::vector<std::pair<uint64_t, std::shared_ptr<const PreparedEntry>>> all;
  {
    std::shared_lock lock(mutex_);
    all.reserve(by_origin_.size());
    for (const auto& [key, slot] : by_origin_) {
      all.emplace_back(slot.last_used.load(std::memory_order_relaxed), slot.entry);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::shared_ptr<const PreparedEntry>> out;
  for (auto& [stamp, entry] : all) {
    if (out.size() >= max) break;
    out.push_back(std::move(entry));
  }
  return out;
}

PreparedCache::PreparedCache(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void PreparedCache::put(PreparedEntry entry) {
  auto shared = std::make_shared<const PreparedEntry>(std::move(entry));
  Key origin(key_of(shared->origin_id));
  Key target(key_of(shared->target_id));

  std::unique_lock lock(mutex_);
  auto it = by_origin_.find(origin);
  if (it != by_origin_.end()) {
    const Key old_target(key_of(it->second.entry->target_id));
    if (old_target != target) {
      auto rev = origin_by_target_.find(old_target);
      if (rev != origin_by_target_.end() && rev->second == origin) origin_by_target_.erase(rev);
    }
    it->second.entry = shared;
    it->second.last_used.store(tick(), std::memory_order_relaxed);
  } else {
    if (by_origin_.size() >= capacity_) evict_one_locked();
    auto [slot, inserted] = by_origin_.try_emplace(origin);
    slot->second.entry = shared;
    slot->second.last_used.store(tick(), std::memory_order_relaxed);
  }
  origin_by_target_[std::move(target)] = std::move(origin);
  entries_.store(by_origin_.size(), std::memory_order_relaxed);
}

void PreparedCache::evict_one_locked() {
  auto oldest = by_origin_.end();
  uint64_t oldest_stamp = std::numeric_limits<uint64_t>::max();
  for (auto it = by_origin_.begin(); it != by_origin_.end(); ++it) {
    const uint64_t stamp = it->second.last_used.load(std::memory_order_relaxed);
    if (stamp < oldest_stamp) {
      oldest_stamp = stamp;
      oldest = it;
    }
  }
  if (oldest == by_origin_.end()) return;
  auto rev = origin_by_target_.find(key_of(oldest->second.entry->target_id));
  if (rev != origin_by_target_.end() && rev->second == oldest->first) origin_by_target_.erase(rev);
  by_origin_.erase(oldest);
  evictions_.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<const PreparedEntry> PreparedCache::find(ByteView origin_id) const {
  std::shared_lock lock(mutex_);
  auto it = by_origin_.find(key_of(origin_id));
  if (it == by_origin_.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  it->second.last_used.store(tick(), std::memory_order_relaxed);
  return it->second.entry;
}

std::optional<Bytes> PreparedCache::origin_id_for_target(ByteView target_id) const {
  std::shared_lock lock(mutex_);
  auto it = origin_by_target_.find(key_of(target_id));
  if (it == origin_by_target_.end()) return std::nullopt;
  return Bytes(it->second.begin(), it->second.end());
}

bool PreparedCache::erase(ByteView origin_id) {
  std::unique_lock lock(mutex_);
  auto it = by_origin_.find(key_of(origin_id));
  if (it == by_origin_.end()) return false;
  auto rev = origin_by_target_.find(key_of(it->second.entry->target_id));
  if (rev != origin_by_target_.end() && rev->second == it->first) origin_by_target_.erase(rev);
  by_origin_.erase(it);
  entries_.store(by_origin_.size(), std::memory_order_relaxed);
  return true;
}

void PreparedCache::put_intercepted(InterceptedStatement statement) {
  auto shared = std::make_shared<const InterceptedStatement>(std::move(statement));
  Key id(key_of(shared->id));
  std::unique_lock lock(mutex_);
  auto it = intercepted_.find(id);
  if (it == intercepted_.end()) {
    if (intercepted_.size() >= capacity_) evict_intercepted_locked();
    it = intercepted_.try_emplace(std::move(id)).first;
  }
  it->second.statement = std::move(shared);
  it->second.last_used.store(tick(), std::memory_order_relaxed);
}

void PreparedCache::evict_intercepted_locked() {
  auto oldest = intercepted_.end();
  uint64_t oldest_stamp = std::numeric_limits<uint64_t>::max();
  for (auto it = intercepted_.begin(); it != intercepted_.end(); ++it) {
    const uint64_t stamp = it->second.last_used.load(std::memory_order_relaxed);
    if (stamp < oldest_stamp) {
      oldest_stamp = stamp;
      oldest = it;
    }
  }
  if (oldest != intercepted_.end()) intercepted_.erase(oldest);
}

std::shared_ptr<const InterceptedStatement> PreparedCache::find_intercepted(ByteView id) const {
  std::shared_lock lock(mutex_);
  auto it = intercepted_.find(key_of(id));
  if (it == intercepted_.end()) return nullptr;
  it->second.last_used.store(tick(), std::memory_order_relaxed);
  return it->second.statement;
}

size_t PreparedCache::size() const {
  std::shared_lock lock(mutex_);
  return by_origin_.size();
}

}  // namespace zdm::proxy
