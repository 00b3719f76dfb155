#include "node/storage/table_schema.hpp"

#include <algorithm>

namespace zdm::node {

const ColumnSchema* TableSchema::find_column(std::string_view name) const {
  for (const auto& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const ColumnSchema* TableSchema::find_column(ColumnId id) const {
  for (const auto& c : columns) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

namespace {
std::vector<const ColumnSchema*> key_columns(const std::vector<ColumnSchema>& columns,
                                             ColumnKind kind) {
  std::vector<const ColumnSchema*> out;
  for (const auto& c : columns) {
    if (c.kind == kind) out.push_back(&c);
  }
  std::sort(out.begin(), out.end(),
            [](const ColumnSchema* a, const ColumnSchema* b) { return a->position < b->position; });
  return out;
}
}  // namespace

std::vector<const ColumnSchema*> TableSchema::partition_key() const {
  return key_columns(columns, ColumnKind::PartitionKey);
}

std::vector<const ColumnSchema*> TableSchema::clustering() const {
  return key_columns(columns, ColumnKind::Clustering);
}

std::vector<const ColumnSchema*> TableSchema::value_columns() const {
  std::vector<const ColumnSchema*> out;
  for (const auto& c : columns) {
    if (!c.is_primary_key()) out.push_back(&c);
  }
  return out;
}

bool TableSchema::has_static_columns() const {
  return std::any_of(columns.begin(), columns.end(),
                     [](const ColumnSchema& c) { return c.kind == ColumnKind::Static; });
}

bool TableSchema::is_counter_table() const {
  return std::any_of(columns.begin(), columns.end(),
                     [](const ColumnSchema& c) { return !c.is_primary_key() && c.is_counter(); });
}

}  // namespace zdm::node
