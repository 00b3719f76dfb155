#pragma once
// The node's schema: keyspaces, user types and tables, with a schema version uuid that changes on
// every schema change (drivers compare it to decide when to refresh metadata).
//
// Thread-safe. Readers get immutable snapshots (shared_ptr<const TableSchema>) that stay valid
// after later changes. Errors are Errc::InvalidArgument with a message naming the object; use the
// find_/has_ functions first to tell "already exists" from "does not exist" for CQL error codes.

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

class Catalog {
 public:
  Catalog();

  Result<void> create_keyspace(KeyspaceSchema keyspace);
  Result<void> alter_keyspace(KeyspaceSchema keyspace);
  // Drops the keyspace and returns the tables it held (for the engine to discard their data).
  Result<std::vector<std::shared_ptr<const TableSchema>>> drop_keyspace(const std::string& name);
  std::optional<KeyspaceSchema> find_keyspace(const std::string& name) const;
  std::vector<KeyspaceSchema> keyspaces() const;

  Result<void> create_type(UserTypeSchema type);
  Result<void> drop_type(const std::string& keyspace, const std::string& name);
  std::optional<UserTypeSchema> find_type(const std::string& keyspace,
                                          const std::string& name) const;
  std::vector<UserTypeSchema> types(const std::string& keyspace) const;

  // Validates the definition (at least one partition key column, unique names, counters not
  // mixed with other value columns, multi-cell only for collections) and assigns column ids.
  Result<std::shared_ptr<const TableSchema>> create_table(std::string keyspace, std::string table,
                                                          std::vector<ColumnDefinition> columns,
                                                          int32_t default_ttl = 0);
  // ALTER TABLE ADD: regular or static columns only.
  Result<std::shared_ptr<const TableSchema>> add_column(const std::string& keyspace,
                                                        const std::string& table,
                                                        ColumnDefinition column);
  // ALTER TABLE DROP: value columns only; a later column of the same name gets a new id.
  Result<std::shared_ptr<const TableSchema>> drop_column(const std::string& keyspace,
                                                         const std::string& table,
                                                         const std::string& column);
  Result<std::shared_ptr<const TableSchema>> drop_table(const std::string& keyspace,
                                                        const std::string& table);
  std::shared_ptr<const TableSchema> find_table(const std::string& keyspace,
                                                const std::string& table) const;
  std::vector<std::shared_ptr<const TableSchema>> tables(const std::string& keyspace) const;

  Uuid schema_version() const;

 private:
  using TableKey = std::pair<std::string, std::string>;

  void bump_version();  // with mu_ held exclusively

  mutable std::shared_mutex mu_;
  std::map<std::string, KeyspaceSchema> keyspaces_;
  std::map<TableKey, UserTypeSchema> types_;
  std::map<TableKey, std::shared_ptr<const TableSchema>> tables_;
  Uuid version_{};
};

}  // namespace zdm::node
