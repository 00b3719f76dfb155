#pragma once
// Prepared-statement id mapping. Clients only ever see ORIGIN's prepared ids; an EXECUTE sent to
// TARGET has its id swapped for TARGET's, and an UNPREPARED from TARGET is translated back to the
// origin id so the driver re-prepares the id it knows. Also holds the statements the proxy
// prepared itself (intercepted system.local/peers queries).
//
// Unlike the reference (which grows forever) the cache is bounded: least recently used entries
// are evicted beyond `capacity`, and their reverse mapping goes with them. An EXECUTE of an
// evicted id gets UNPREPARED and the driver re-prepares.
//
// Thread-safe. Lookups (every EXECUTE and BATCH child) take a shared lock and only touch an
// atomic recency stamp; inserts and evictions take the exclusive lock (PREPAREs are rare).
// Eviction scans for the oldest stamp: O(entries), paid only by an insert into a full cache.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/bytes.hpp"
#include "protocol/messages.hpp"
#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/routing/forward_decision.hpp"
#include "proxy/routing/function_rewriter.hpp"

namespace zdm::proxy {

// A ForwardDecision that owns its names (the original views die with the PREPARE frame). It keeps
// what kind of statement it is (`route`), never which cluster answers: EXECUTE derives the target
// from the routing settings of the moment (target_of), so a phase change applies to statements
// prepared before it.
struct StoredDecision {
  Route route = Route::Both;
  bool is_read = false;
  bool send_async = false;
  bool track_metrics = true;
  protocol::StatementKind statement = protocol::StatementKind::Other;
  std::string keyspace;  // internal names (unquoted folded to lower case)
  std::string table;

  static StoredDecision from(const ForwardDecision& d);
};

struct PreparedEntry {
  Bytes origin_id;
  Bytes target_id;
  StoredDecision decision;  // the statement's decision, used by its EXECUTEs
  protocol::PreparedMetadata origin_variables;
  protocol::PreparedMetadata target_variables;
  std::string query;
  std::string keyspace;  // the keyspace the statement was prepared in ("" if none)
  // ZDM_REPLACE_CQL_FUNCTIONS: how now()/uuid() were turned into bind markers when both clusters
  // prepared the statement (null: not rewritten). Its EXECUTEs must get the values inserted.
  std::shared_ptr<const PrepareRewrite> functions;
};

// A statement the proxy prepared itself.
struct InterceptedStatement {
  Bytes id;
  std::string query;
  std::string keyspace;
  SystemSelect select;
};

class PreparedCache {
 public:
  explicit PreparedCache(size_t capacity);
  PreparedCache(const PreparedCache&) = delete;
  PreparedCache& operator=(const PreparedCache&) = delete;

  // Adds or replaces the entry for entry.origin_id (both PREPARED responses arrived). Replacing
  // drops the old target id's reverse mapping. May evict the least recently used entry.
  void put(PreparedEntry entry);

  // The entry for an origin id, marking it recently used; nullptr (and a miss counted) if absent.
  std::shared_ptr<const PreparedEntry> find(ByteView origin_id) const;
  // TARGET answered UNPREPARED for `target_id`: the origin id the client knows.
  std::optional<Bytes> origin_id_for_target(ByteView target_id) const;
  // Removes an entry (e.g. ORIGIN answered UNPREPARED); false if absent.
  bool erase(ByteView origin_id);

  // Statements the proxy prepared itself, bounded by the same capacity. find_intercepted() counts
  // no miss: an EXECUTE checks it first, then find().
  void put_intercepted(InterceptedStatement statement);
  std::shared_ptr<const InterceptedStatement> find_intercepted(ByteView id) const;

  size_t size() const;
  size_t capacity() const { return capacity_; }
  // At most `max` entries, most recently used first (GET /api/v1/statements). Cold: copies and
  // sorts under the shared lock.
  std::vector<std::shared_ptr<const PreparedEntry>> recent(size_t max) const;

  // Metrics hooks (zdm_pscache_entries_total, zdm_pscache_miss_total): plain atomics.
  const std::atomic<uint64_t>& entries() const { return entries_; }
  const std::atomic<uint64_t>& misses() const { return misses_; }
  const std::atomic<uint64_t>& evictions() const { return evictions_; }

 private:
  struct Slot {
    std::shared_ptr<const PreparedEntry> entry;
    mutable std::atomic<uint64_t> last_used{0};
  };
  struct InterceptedSlot {
    std::shared_ptr<const InterceptedStatement> statement;
    mutable std::atomic<uint64_t> last_used{0};
  };
  // Keys are the raw id bytes; transparent hashing lets lookups use a string_view (no copy).
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Key = std::string;

  uint64_t tick() const { return clock_.fetch_add(1, std::memory_order_relaxed) + 1; }
  void evict_one_locked();
  void evict_intercepted_locked();

  const size_t capacity_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, Slot, KeyHash, std::equal_to<>> by_origin_;
  std::unordered_map<Key, Key, KeyHash, std::equal_to<>> origin_by_target_;
  std::unordered_map<Key, InterceptedSlot, KeyHash, std::equal_to<>> intercepted_;

  mutable std::atomic<uint64_t> clock_{0};
  std::atomic<uint64_t> entries_{0};
  mutable std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace zdm::proxy
