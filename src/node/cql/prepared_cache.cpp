#include "node/cql/prepared_cache.hpp"

#include <mutex>

namespace zdm::node {

PreparedCache::Shard& PreparedCache::shard_for(ByteView id) const {
  // Ids are MD5 digests: any byte is well distributed.
  const size_t h = id.empty() ? 0 : id[id.size() - 1];
  return shards_[h % kShards];
}

std::shared_ptr<const PreparedStatement> PreparedCache::find(ByteView id) const {
  const Shard& s = shard_for(id);
  std::shared_lock lock(s.mu);
  auto it = s.map.find(as_chars(id));
  return it == s.map.end() ? nullptr : it->second;
}

void PreparedCache::put(std::shared_ptr<const PreparedStatement> statement) {
  Shard& s = shard_for(statement->id);
  std::string key(as_chars(statement->id));
  std::unique_lock lock(s.mu);
  s.map[std::move(key)] = std::move(statement);
}

void PreparedCache::clear() {
  for (auto& s : shards_) {
    std::unique_lock lock(s.mu);
    s.map.clear();
  }
}

size_t PreparedCache::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace zdm::node
