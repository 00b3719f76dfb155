#pragma once
// A write to one partition, applied atomically by Table::apply.
//
// Timestamps are the statement's write timestamps in microseconds; TTLs are seconds (0: none).
// Local deletion and expiration times come from the table's clock when the mutation is applied.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "node/storage/clustering.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

enum class ColumnOpKind : uint8_t {
  Set,             // simple (or frozen) column := value
  Delete,          // simple column: cell tombstone; multi-cell collection: collection tombstone
  Overwrite,       // multi-cell collection := elements (tombstone at timestamp - 1, then adds)
  AddElements,     // set: add elements; map: put entries
  RemoveElements,  // set: remove elements; map: remove keys (elements[i].first)
  Append,          // list: append values (elements[i].second)
  Prepend,         // list: prepend values, keeping their order, before every existing element
  SetIndex,        // list[index] := value
  RemoveIndex,     // DELETE list[index]
  RemoveValues,    // list: remove every element equal to one of the values
  CounterAdd,      // counter column += delta
};

struct ColumnOp {
  ColumnId column = 0;
  ColumnOpKind kind = ColumnOpKind::Set;
  int64_t timestamp = 0;
  int32_t ttl = 0;
  Bytes value;  // Set, SetIndex
  // Overwrite/AddElements: set (element, {}), map (key, value), list ({}, value).
  // RemoveElements: (element or key, {}). Append/Prepend/RemoveValues: ({}, value).
  std::vector<std::pair<Bytes, Bytes>> elements;
  int32_t index = 0;  // SetIndex, RemoveIndex
  int64_t delta = 0;  // CounterAdd

  static ColumnOp set(ColumnId column, Bytes value, int64_t timestamp, int32_t ttl = 0) {
    ColumnOp op;
    op.column = column;
    op.kind = ColumnOpKind::Set;
    op.value = std::move(value);
    op.timestamp = timestamp;
    op.ttl = ttl;
    return op;
  }
  static ColumnOp remove(ColumnId column, int64_t timestamp) {
    ColumnOp op;
    op.column = column;
    op.kind = ColumnOpKind::Delete;
    op.timestamp = timestamp;
    return op;
  }
  static ColumnOp collection(ColumnId column, ColumnOpKind kind,
                             std::vector<std::pair<Bytes, Bytes>> elements, int64_t timestamp,
                             int32_t ttl = 0) {
    ColumnOp op;
    op.column = column;
    op.kind = kind;
    op.elements = std::move(elements);
    op.timestamp = timestamp;
    op.ttl = ttl;
    return op;
  }
  static ColumnOp counter_add(ColumnId column, int64_t delta, int64_t timestamp) {
    ColumnOp op;
    op.column = column;
    op.kind = ColumnOpKind::CounterAdd;
    op.delta = delta;
    op.timestamp = timestamp;
    return op;
  }
};

struct RowMarker {
  int64_t timestamp = 0;
  int32_t ttl = 0;
};

// Writes to one row. Ops on static columns go to the partition's static row whatever the
// clustering; a write with only static ops needs no clustering.
struct RowWrite {
  Clustering clustering;            // the full clustering key
  std::optional<RowMarker> marker;  // INSERT writes one, UPDATE does not
  std::optional<int64_t> deletion;  // DELETE of the whole row at this timestamp
  std::vector<ColumnOp> ops;
};

struct RangeDeletion {
  ClusteringSlice slice;
  int64_t timestamp = 0;
};

struct Mutation {
  Bytes partition_key;  // serialized (see partition_key_bytes for compound keys)
  std::optional<int64_t> partition_deletion;
  std::vector<RangeDeletion> range_deletions;
  std::vector<RowWrite> rows;
};

}  // namespace zdm::node
