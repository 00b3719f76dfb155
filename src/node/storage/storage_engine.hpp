#pragma once
// The node's storage: the Catalog (schema) plus one Table of data per table, kept in step.
// Thread-safe. Table handles stay usable after the table is dropped (they hold no data the
// engine still reads); look them up again after schema changes.

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "node/storage/catalog.hpp"
#include "node/storage/table.hpp"

namespace zdm::node {

class StorageEngine {
 public:
  explicit StorageEngine(Clock clock = system_clock());

  Catalog& catalog() { return catalog_; }
  const Catalog& catalog() const { return catalog_; }
  const Clock& clock() const { return clock_; }

  Result<void> create_keyspace(KeyspaceSchema keyspace);
  Result<void> drop_keyspace(const std::string& name);
  Result<std::shared_ptr<Table>> create_table(std::string keyspace, std::string table,
                                              std::vector<ColumnDefinition> columns,
                                              int32_t default_ttl = 0);
  Result<void> add_column(const std::string& keyspace, const std::string& table,
                          ColumnDefinition column);
  Result<void> drop_column(const std::string& keyspace, const std::string& table,
                           const std::string& column);
  Result<void> drop_table(const std::string& keyspace, const std::string& table);
  Result<void> truncate(const std::string& keyspace, const std::string& table);

  // nullptr when the table does not exist.
  std::shared_ptr<Table> table(const std::string& keyspace, const std::string& table) const;

 private:
  using TableKey = std::pair<std::string, std::string>;

  Clock clock_;
  Catalog catalog_;
  mutable std::shared_mutex mu_;  // guards tables_; taken after the catalog's own lock is released
  std::map<TableKey, std::shared_ptr<Table>> tables_;
};

}  // namespace zdm::node
