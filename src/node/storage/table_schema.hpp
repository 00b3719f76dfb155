#pragma once
// Schema of the embedded node: keyspaces, user types and tables with their columns.
//
// Columns carry a stable ColumnId assigned by the Catalog. Stored cells are keyed by that id, so a
// column that is dropped and re-added under the same name does not resurrect the old data.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/data_type.hpp"

namespace zdm::node {

using protocol::DataType;
using protocol::TypeId;

using ColumnId = uint32_t;

enum class ColumnKind : uint8_t { PartitionKey, Clustering, Regular, Static };
enum class ClusteringOrder : uint8_t { Asc, Desc };
// Non-frozen collections store one cell per element; frozen ones (and every non-collection type)
// store the whole value in one cell.
enum class CellLayout : uint8_t { Frozen, MultiCell };

struct ColumnSchema {
  std::string name;
  DataType type;
  ColumnKind kind = ColumnKind::Regular;
  ClusteringOrder order = ClusteringOrder::Asc;  // clustering columns only
  CellLayout layout = CellLayout::Frozen;        // MultiCell only for non-frozen collections
  ColumnId id = 0;                               // assigned by the Catalog
  uint32_t position = 0;  // index among the key columns of its kind (partition/clustering)

  bool is_multi_cell() const { return layout == CellLayout::MultiCell; }
  bool is_counter() const { return type.id == TypeId::Counter; }
  bool is_primary_key() const {
    return kind == ColumnKind::PartitionKey || kind == ColumnKind::Clustering;
  }
};

struct UserTypeSchema {
  std::string keyspace;
  std::string name;
  std::vector<std::string> field_names;
  std::vector<DataType> field_types;
};

struct KeyspaceSchema {
  std::string name;
  std::map<std::string, std::string> replication;  // e.g. class -> SimpleStrategy
  bool durable_writes = true;
};

struct TableSchema {
  std::string keyspace;
  std::string table;
  // Every column; partition key columns and clustering columns appear in key order.
  std::vector<ColumnSchema> columns;
  int32_t default_ttl = 0;  // default_time_to_live, seconds; applied by the executor
  ColumnId next_column_id = 0;

  const ColumnSchema* find_column(std::string_view name) const;
  const ColumnSchema* find_column(ColumnId id) const;
  // Key columns in key order.
  std::vector<const ColumnSchema*> partition_key() const;
  std::vector<const ColumnSchema*> clustering() const;
  // Regular and static columns in declaration order.
  std::vector<const ColumnSchema*> value_columns() const;
  bool has_static_columns() const;
  // Counter tables hold only counter columns outside the primary key.
  bool is_counter_table() const;
};

// One column of a table being created, before ids are assigned.
struct ColumnDefinition {
  std::string name;
  DataType type;
  ColumnKind kind = ColumnKind::Regular;
  ClusteringOrder order = ClusteringOrder::Asc;
  CellLayout layout = CellLayout::Frozen;
};

}  // namespace zdm::node
