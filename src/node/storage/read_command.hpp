#pragma once
// Reads: one partition (with clustering slices), a token range, or every partition; with limits
// and resumable paging. Results hold only live data, already merged and filtered.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/bytes.hpp"
#include "node/storage/clustering.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

enum class ReadKind : uint8_t { SinglePartition, TokenRange, FullScan };
enum class ReadOrder : uint8_t { Forward, Reversed };  // Forward: clustering order

struct ReadCommand {
  ReadKind kind = ReadKind::SinglePartition;
  Bytes partition_key;                // SinglePartition
  int64_t start_token_exclusive = 0;  // TokenRange: token(pk) > start
  int64_t end_token_inclusive = 0;    //             AND token(pk) <= end (no wrap-around)
  // Empty: every row. Otherwise the union of the slices (an IN list gives one per prefix).
  std::vector<ClusteringSlice> slices;
  std::vector<ColumnId> columns;  // empty: every regular and static column
  ReadOrder order = ReadOrder::Forward;
  uint32_t limit = 0;                 // 0: none
  uint32_t per_partition_limit = 0;   // 0: none
  uint32_t page_size = 0;             // 0: no paging
  std::optional<Bytes> paging_state;  // from a previous page's result

  static ReadCommand partition(Bytes key) {
    ReadCommand c;
    c.partition_key = std::move(key);
    return c;
  }
  static ReadCommand token_range(int64_t start_exclusive, int64_t end_inclusive) {
    ReadCommand c;
    c.kind = ReadKind::TokenRange;
    c.start_token_exclusive = start_exclusive;
    c.end_token_inclusive = end_inclusive;
    return c;
  }
  static ReadCommand full_scan() {
    ReadCommand c;
    c.kind = ReadKind::FullScan;
    return c;
  }
};

// For WRITETIME() and TTL(): ttl_remaining is set for expiring cells only.
struct CellValue {
  Bytes value;
  int64_t timestamp = 0;
  std::optional<int32_t> ttl_remaining;
};

// One live element of a multi-cell collection. Set: key is the element, value empty. Map: key
// and value. List: key is the internal timeuuid position, value the element.
struct ElementValue {
  Bytes key;
  Bytes value;
  int64_t timestamp = 0;
  std::optional<int32_t> ttl_remaining;
};

struct ColumnValue {
  std::optional<CellValue> cell;       // simple and frozen columns
  std::vector<ElementValue> elements;  // multi-cell collections, in collection order

  bool is_null() const { return !cell.has_value() && elements.empty(); }
};

struct ResultRow {
  Bytes partition_key;
  int64_t token = 0;
  // Empty for a partition that has only static values (returned when the read has no clustering
  // restrictions, as Cassandra does).
  Clustering clustering;
  bool static_only = false;
  std::vector<ColumnValue> values;  // parallel to ReadResult::columns
};

struct ReadResult {
  std::shared_ptr<const TableSchema> schema;  // keeps `columns` valid
  std::vector<const ColumnSchema*> columns;
  std::vector<ResultRow> rows;
  // Set when more rows may follow: pass it back in ReadCommand::paging_state.
  std::optional<Bytes> paging_state;
};

// The [bytes] form of a multi-cell collection's current elements (protocol v3+ encoding: [int]
// count, then [int]-prefixed elements; map entries as key then value).
Bytes collection_bytes(const ColumnSchema& column, const ColumnValue& value);

}  // namespace zdm::node
