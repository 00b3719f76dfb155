#pragma once
// Prepared statements by id: the query text, the keyspace it was prepared in, and its compiled
// plan. Thread-safe and sharded (a shared_mutex per shard) so concurrent EXECUTEs of the same or
// different statements only take shared locks.

#include <array>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/bytes.hpp"

namespace zdm::node {

namespace exec {
class Plan;
}

struct PreparedStatement {
  Bytes id;
  Bytes result_metadata_id;
  std::string query;
  std::string keyspace;  // the session (or PREPARE) keyspace the query was prepared in
  std::shared_ptr<const exec::Plan> plan;
};

class PreparedCache {
 public:
  std::shared_ptr<const PreparedStatement> find(ByteView id) const;
  // Inserts or replaces (after a recompilation) the statement under its id.
  void put(std::shared_ptr<const PreparedStatement> statement);
  void clear();
  size_t size() const;

 private:
  // Heterogeneous lookup: find() hashes the id bytes without building a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const PreparedStatement>, Hash, std::equal_to<>>
        map;
  };
  static constexpr size_t kShards = 16;
  Shard& shard_for(ByteView id) const;

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace zdm::node
