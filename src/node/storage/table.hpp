#pragma once
// The data of one table: partitions ordered by (token, key bytes), each holding a partition
// tombstone, a static row, clustering-ordered rows and range tombstones, merged by Cassandra's
// last-write-wins rules.
//
// Thread-safe: a shared_mutex guards the partition map (exclusive only to add a partition, swap
// the schema or truncate) and each partition has its own mutex, so writes and reads of different
// partitions run in parallel and apply() is atomic per partition.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "node/storage/cell.hpp"
#include "node/storage/clustering.hpp"
#include "node/storage/mutation.hpp"
#include "node/storage/read_command.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

// Microseconds since the Unix epoch. Injectable so tests can move time without sleeping.
using Clock = std::function<int64_t()>;
Clock system_clock();

// Murmur3Partitioner token of a serialized partition key.
int64_t partition_token(ByteView key);

// The serialized partition key: the bare value for one column, Cassandra's composite encoding for
// several. Fails when a component of a compound key exceeds 65535 bytes.
Result<Bytes> partition_key_bytes(std::span<const ByteView> components);

struct CasResult {
  bool applied = false;
  ReadResult current;  // what the condition was evaluated on (for the [applied] result)
};

class Table {
 public:
  Table(std::shared_ptr<const TableSchema> schema, Clock clock);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  std::shared_ptr<const TableSchema> schema() const;
  // After ALTER TABLE (same primary key). Data of dropped columns is no longer read.
  void set_schema(std::shared_ptr<const TableSchema> schema);
  void truncate();

  Result<void> apply(const Mutation& mutation);
  Result<ReadResult> read(const ReadCommand& command) const;

  // Lightweight transactions: under the partition's lock, reads `condition_read` (a
  // SinglePartition read of the mutation's partition), and applies `mutation` only if
  // `predicate` holds for what was read.
  Result<CasResult> compare_and_set(const ReadCommand& condition_read,
                                    const std::function<bool(const ReadResult&)>& predicate,
                                    const Mutation& mutation);

  size_t partition_count() const;

  struct Partition;

 private:
  struct Key {
    int64_t token;
    Bytes key;
  };
  struct KeyView {
    int64_t token;
    ByteView key;
  };
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (a.token != b.token) return a.token < b.token;
      return compare_bytes(a.key, b.key) < 0;
    }
    static int compare_bytes(ByteView a, ByteView b);
  };
  using PartitionMap = std::map<Key, std::unique_ptr<Partition>, KeyLess>;

  Result<void> validate(const TableSchema& schema, const Mutation& mutation) const;
  Result<void> check_list_indices(const TableSchema& schema, const Partition& partition,
                                  const Mutation& mutation) const;
  void apply_locked(const TableSchema& schema, Partition& partition, const Mutation& mutation);
  Partition& get_or_create(const Mutation& mutation, int64_t token,
                           std::shared_lock<std::shared_mutex>& shared,
                           std::unique_lock<std::shared_mutex>& exclusive);
  int64_t now_seconds() const;
  void cache_schema();  // with mu_ held exclusively (or during construction)
  // Fresh list cell paths: increasing for appends, decreasing (before all appends) for prepends.
  Bytes next_append_path();
  Bytes next_prepend_path();

  Clock clock_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<const TableSchema> schema_;
  std::shared_ptr<const ClusteringComparator> comparator_;
  std::vector<const ColumnSchema*> value_columns_;  // into *schema_
  std::vector<ColumnId> value_column_ids_;          // sorted
  bool counter_table_ = false;
  PartitionMap partitions_;
  std::atomic<int64_t> append_ticks_{0};
  std::atomic<int64_t> prepend_ticks_;
};

}  // namespace zdm::node
