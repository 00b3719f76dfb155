#pragma once
// Inside a Table (for table.cpp, table_write.cpp and table_read.cpp only): how a partition holds
// its rows and cells in memory, and the liveness rules that writes and reads both apply.

#include <algorithm>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "node/storage/table.hpp"

namespace zdm::node {

namespace table_detail {

struct ElementCell {
  Bytes path;
  Cell cell;
};

struct ColumnData {
  ColumnId id = 0;
  Cell cell;  // simple columns; timestamp kNoTimestamp when never written
  DeletionTime complex_deletion;
  std::vector<ElementCell> elements;  // multi-cell collections, ordered by path
};

struct Row {
  LivenessInfo marker;
  DeletionTime deletion;
  std::vector<ColumnData> columns;  // ordered by id

  ColumnData& column(ColumnId id) {
    auto it = std::lower_bound(columns.begin(), columns.end(), id,
                               [](const ColumnData& c, ColumnId x) { return c.id < x; });
    if (it == columns.end() || it->id != id) {
      it = columns.insert(it, ColumnData{});
      it->id = id;
    }
    return *it;
  }
  bool empty() const { return marker.is_empty() && deletion.is_live() && columns.empty(); }
};

struct RowLess {
  const ClusteringComparator* cmp;
  bool operator()(const Clustering& a, const Clustering& b) const { return cmp->compare(a, b) < 0; }
};

struct RangeTombstone {
  ClusteringSlice slice;
  DeletionTime deletion;
};

}  // namespace table_detail

struct Table::Partition {
  explicit Partition(const ClusteringComparator* cmp) : rows(table_detail::RowLess{cmp}) {}

  Bytes key;
  int64_t token = 0;
  std::mutex mu;
  DeletionTime deletion;
  table_detail::Row static_row;
  std::map<Clustering, table_detail::Row, table_detail::RowLess> rows;
  std::vector<table_detail::RangeTombstone> range_tombstones;
};

namespace table_detail {

inline bool has_value(const Cell& c) { return c.timestamp != kNoTimestamp; }

inline bool cell_is_live(const Cell& cell, const DeletionTime& deletion, int64_t now) {
  return has_value(cell) && !deletion.deletes(cell.timestamp) && cell.is_live(now);
}

// The deletion covering a clustering row: partition deletion, covering range tombstones, then
// the row's own deletion.
inline DeletionTime row_deletion(const Table::Partition& p, const Clustering& key, const Row* row,
                                 const ClusteringComparator& cmp) {
  DeletionTime d = p.deletion;
  for (const auto& rt : p.range_tombstones) {
    if (rt.deletion.marked_for_delete_at > d.marked_for_delete_at && cmp.contains(rt.slice, key)) {
      d.merge(rt.deletion);
    }
  }
  if (row != nullptr) d.merge(row->deletion);
  return d;
}

// Live list elements in order (indices for SetIndex/RemoveIndex).
inline std::vector<const ElementCell*> live_elements(const ColumnData* data, DeletionTime deletion,
                                                     int64_t now) {
  std::vector<const ElementCell*> out;
  if (data == nullptr) return out;
  deletion.merge(data->complex_deletion);
  for (const auto& e : data->elements) {
    if (cell_is_live(e.cell, deletion, now)) out.push_back(&e);
  }
  return out;
}

inline const ColumnData* find_column_data(const Row& row, ColumnId id) {
  auto it = std::lower_bound(row.columns.begin(), row.columns.end(), id,
                             [](const ColumnData& c, ColumnId x) { return c.id < x; });
  return it != row.columns.end() && it->id == id ? &*it : nullptr;
}

// "keyspace.table" in error messages, formatted only when an error is built.
struct QualifiedName {
  const TableSchema* schema;
};

}  // namespace table_detail

}  // namespace zdm::node

template <>
struct fmt::formatter<zdm::node::table_detail::QualifiedName> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const zdm::node::table_detail::QualifiedName& q, Context& ctx) const {
    return fmt::format_to(ctx.out(), "{}.{}", q.schema->keyspace, q.schema->table);
  }
};
