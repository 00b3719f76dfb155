#pragma once
// How the migrator reads one table: the columns it selects (token, primary key, then each other
// column with its WRITETIME and TTL where the origin can tell them), the range and point queries,
// and the order Cassandra returns rows in (token, partition key, clustering) so that two clusters'
// answers for the same range can be merged.
//
// Rows stay as the [bytes] cells of the result (protocol::Row): nothing is decoded on the way
// from origin to target, except writetimes, TTLs and, to order rows, the key columns.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "migrate/schema.hpp"
#include "migrate/token_range.hpp"
#include "protocol/messages.hpp"

namespace zdm::migrate {

// Where one non-key column's value, writetime and TTL are in a selected row.
struct CellSlot {
  size_t column = 0;  // index in Table::columns
  size_t value = 0;   // index in the row
  std::optional<size_t> writetime;
  std::optional<size_t> ttl;
};

inline constexpr int64_t kNoWritetime = INT64_MIN;

class TableLayout {
 public:
  // `schema` is the cluster the rows are read from: it says which writetimes can be selected.
  TableLayout(const Table& table, const Schema& schema, Partitioner partitioner);

  const Table& table() const { return table_; }
  Partitioner partitioner() const { return partitioner_; }

  // SELECT <columns> FROM ks.t WHERE token(pk) > ? [AND token(pk) <= ?]
  std::string range_query(bool bounded_end) const;
  // SELECT <columns> FROM ks.t WHERE pk1 = ? ... [AND ck1 = ? ...]: one row (with clustering) or
  // the static row of a partition (without).
  std::string row_query(bool with_clustering) const;

  size_t width() const { return width_; }  // columns selected per row
  size_t token_index() const { return 0; }
  size_t key_index(size_t key_column) const { return 1 + key_column; }  // pk then ck
  size_t key_count() const { return table_.partition_key_count + table_.clustering_count; }
  const std::vector<CellSlot>& cells() const { return cells_; }
  bool has_unreadable_writetimes() const { return unreadable_writetimes_; }

  // The bound values of row_query for a row of this layout's result.
  std::vector<protocol::BoundValue> key_values(const protocol::Row& row,
                                               bool with_clustering) const;
  // A row whose clustering columns are null: a partition with static cells and no rows.
  bool is_static_only(const protocol::Row& row) const;

  TokenValue token(const protocol::Row& row) const;
  // <0, 0, >0: the order Cassandra returns rows of a range in.
  int compare(const protocol::Row& a, const protocol::Row& b) const;
  // Same partition (token and partition key).
  bool same_partition(const protocol::Row& a, const protocol::Row& b) const;

  int64_t writetime(const protocol::Row& row, const CellSlot& slot) const;  // kNoWritetime if none
  int32_t ttl(const protocol::Row& row, const CellSlot& slot) const;        // 0 when none

  // {"pk": literal, ...} and the hex of each key column, for diff files and logs.
  std::string key_text(const protocol::Row& row) const;

 private:
  const Table& table_;
  Partitioner partitioner_;
  std::string select_list_;
  std::vector<CellSlot> cells_;
  size_t width_ = 0;
  bool unreadable_writetimes_ = false;
};

}  // namespace zdm::migrate
