#include "node/storage/storage_engine.hpp"

#include <mutex>

#include <fmt/format.h>

namespace zdm::node {

StorageEngine::StorageEngine(Clock clock) : clock_(clock ? std::move(clock) : system_clock()) {}

Result<void> StorageEngine::create_keyspace(KeyspaceSchema keyspace) {
  return catalog_.create_keyspace(std::move(keyspace));
}

Result<void> StorageEngine::drop_keyspace(const std::string& name) {
  auto dropped = catalog_.drop_keyspace(name);
  if (!dropped) return tl::unexpected(std::move(dropped.error()));
  std::unique_lock lock(mu_);
  for (const auto& schema : *dropped) tables_.erase(TableKey{schema->keyspace, schema->table});
  return {};
}

Result<std::shared_ptr<Table>> StorageEngine::create_table(std::string keyspace, std::string table,
                                                           std::vector<ColumnDefinition> columns,
                                                           int32_t default_ttl) {
  auto schema = catalog_.create_table(keyspace, table, std::move(columns), default_ttl);
  if (!schema) return tl::unexpected(std::move(schema.error()));
  auto store = std::make_shared<Table>(*schema, clock_);
  std::unique_lock lock(mu_);
  tables_[TableKey{std::move(keyspace), std::move(table)}] = store;
  return store;
}

Result<void> StorageEngine::add_column(const std::string& keyspace, const std::string& table,
                                       ColumnDefinition column) {
  auto schema = catalog_.add_column(keyspace, table, std::move(column));
  if (!schema) return tl::unexpected(std::move(schema.error()));
  if (auto store = this->table(keyspace, table)) store->set_schema(*schema);
  return {};
}

Result<void> StorageEngine::drop_column(const std::string& keyspace, const std::string& table,
                                        const std::string& column) {
  auto schema = catalog_.drop_column(keyspace, table, column);
  if (!schema) return tl::unexpected(std::move(schema.error()));
  if (auto store = this->table(keyspace, table)) store->set_schema(*schema);
  return {};
}

Result<void> StorageEngine::drop_table(const std::string& keyspace, const std::string& table) {
  auto dropped = catalog_.drop_table(keyspace, table);
  if (!dropped) return tl::unexpected(std::move(dropped.error()));
  std::unique_lock lock(mu_);
  tables_.erase(TableKey{keyspace, table});
  return {};
}

Result<void> StorageEngine::truncate(const std::string& keyspace, const std::string& table) {
  auto store = this->table(keyspace, table);
  if (!store) {
    return fail(Errc::InvalidArgument, fmt::format("table {}.{} does not exist", keyspace, table));
  }
  store->truncate();
  return {};
}

std::shared_ptr<Table> StorageEngine::table(const std::string& keyspace,
                                            const std::string& table) const {
  std::shared_lock lock(mu_);
  auto it = tables_.find(TableKey{keyspace, table});
  return it == tables_.end() ? nullptr : it->second;
}

}  // namespace zdm::node
