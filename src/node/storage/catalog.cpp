#include "node/storage/catalog.hpp"

#include <mutex>
#include <set>

#include <fmt/format.h>

#include "common/timeuuid.hpp"

namespace zdm::node {

namespace {

std::string qualified(const std::string& keyspace, const std::string& name) {
  return fmt::format("{}.{}", keyspace, name);
}

Result<void> validate_value_column(const TableSchema& schema, const ColumnDefinition& c) {
  if (c.layout == CellLayout::MultiCell && !c.type.is_collection()) {
    return fail(Errc::InvalidArgument,
                fmt::format("column {} of {}: only collections can be non-frozen", c.name,
                            qualified(schema.keyspace, schema.table)));
  }
  if (c.kind == ColumnKind::Static && schema.clustering().empty()) {
    return fail(Errc::InvalidArgument,
                fmt::format("static column {} of {}: a table without clustering columns cannot "
                            "have static columns",
                            c.name, qualified(schema.keyspace, schema.table)));
  }
  const bool counter = c.type.id == TypeId::Counter;
  for (const auto* other : schema.value_columns()) {
    if (other->is_counter() != counter) {
      return fail(Errc::InvalidArgument,
                  fmt::format("column {} of {}: counter and non-counter columns cannot be mixed",
                              c.name, qualified(schema.keyspace, schema.table)));
    }
  }
  return {};
}

void append_column(TableSchema& schema, const ColumnDefinition& c, uint32_t position) {
  ColumnSchema col;
  col.name = c.name;
  col.type = c.type;
  col.kind = c.kind;
  col.order = c.order;
  col.layout = c.layout;
  col.id = schema.next_column_id++;
  col.position = position;
  schema.columns.push_back(std::move(col));
}

}  // namespace

Catalog::Catalog() : version_(random_uuid()) {}

void Catalog::bump_version() { version_ = random_uuid(); }

Uuid Catalog::schema_version() const {
  std::shared_lock lock(mu_);
  return version_;
}

Result<void> Catalog::create_keyspace(KeyspaceSchema keyspace) {
  std::unique_lock lock(mu_);
  if (keyspace.name.empty()) return fail(Errc::InvalidArgument, "keyspace name is empty");
  if (keyspaces_.count(keyspace.name) != 0) {
    return fail(Errc::InvalidArgument, fmt::format("keyspace {} already exists", keyspace.name));
  }
  std::string name = keyspace.name;
  keyspaces_.emplace(std::move(name), std::move(keyspace));
  bump_version();
  return {};
}

Result<void> Catalog::alter_keyspace(KeyspaceSchema keyspace) {
  std::unique_lock lock(mu_);
  auto it = keyspaces_.find(keyspace.name);
  if (it == keyspaces_.end()) {
    return fail(Errc::InvalidArgument, fmt::format("keyspace {} does not exist", keyspace.name));
  }
  it->second = std::move(keyspace);
  bump_version();
  return {};
}

Result<std::vector<std::shared_ptr<const TableSchema>>> Catalog::drop_keyspace(
    const std::string& name) {
  std::unique_lock lock(mu_);
  if (keyspaces_.erase(name) == 0) {
    return fail(Errc::InvalidArgument, fmt::format("keyspace {} does not exist", name));
  }
  std::vector<std::shared_ptr<const TableSchema>> dropped;
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (it->first.first == name) {
      dropped.push_back(it->second);
      it = tables_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = types_.begin(); it != types_.end();) {
    it = it->first.first == name ? types_.erase(it) : std::next(it);
  }
  bump_version();
  return dropped;
}

std::optional<KeyspaceSchema> Catalog::find_keyspace(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = keyspaces_.find(name);
  if (it == keyspaces_.end()) return std::nullopt;
  return it->second;
}

std::vector<KeyspaceSchema> Catalog::keyspaces() const {
  std::shared_lock lock(mu_);
  std::vector<KeyspaceSchema> out;
  for (const auto& [name, ks] : keyspaces_) out.push_back(ks);
  return out;
}

Result<void> Catalog::create_type(UserTypeSchema type) {
  std::unique_lock lock(mu_);
  if (keyspaces_.count(type.keyspace) == 0) {
    return fail(Errc::InvalidArgument, fmt::format("keyspace {} does not exist", type.keyspace));
  }
  if (type.field_names.size() != type.field_types.size() || type.field_names.empty()) {
    return fail(Errc::InvalidArgument,
                fmt::format("type {}: needs one type per field and at least one field",
                            qualified(type.keyspace, type.name)));
  }
  TableKey key{type.keyspace, type.name};
  if (types_.count(key) != 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("type {} already exists", qualified(type.keyspace, type.name)));
  }
  types_.emplace(std::move(key), std::move(type));
  bump_version();
  return {};
}

Result<void> Catalog::drop_type(const std::string& keyspace, const std::string& name) {
  std::unique_lock lock(mu_);
  if (types_.erase(TableKey{keyspace, name}) == 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("type {} does not exist", qualified(keyspace, name)));
  }
  bump_version();
  return {};
}

std::optional<UserTypeSchema> Catalog::find_type(const std::string& keyspace,
                                                 const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = types_.find(TableKey{keyspace, name});
  if (it == types_.end()) return std::nullopt;
  return it->second;
}

std::vector<UserTypeSchema> Catalog::types(const std::string& keyspace) const {
  std::shared_lock lock(mu_);
  std::vector<UserTypeSchema> out;
  for (const auto& [key, type] : types_) {
    if (key.first == keyspace) out.push_back(type);
  }
  return out;
}

Result<std::shared_ptr<const TableSchema>> Catalog::create_table(
    std::string keyspace, std::string table, std::vector<ColumnDefinition> columns,
    int32_t default_ttl) {
  std::unique_lock lock(mu_);
  if (keyspaces_.count(keyspace) == 0) {
    return fail(Errc::InvalidArgument, fmt::format("keyspace {} does not exist", keyspace));
  }
  TableKey key{keyspace, table};
  if (tables_.count(key) != 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("table {} already exists", qualified(keyspace, table)));
  }
  auto schema = std::make_shared<TableSchema>();
  schema->keyspace = keyspace;
  schema->table = table;
  schema->default_ttl = default_ttl;
  std::set<std::string> names;
  uint32_t partition_position = 0;
  uint32_t clustering_position = 0;
  // Key columns first so that value-column checks (statics need clustering) see them.
  for (const auto& c : columns) {
    if (!names.insert(c.name).second) {
      return fail(Errc::InvalidArgument,
                  fmt::format("table {}: duplicate column {}", qualified(keyspace, table), c.name));
    }
    if (c.kind == ColumnKind::PartitionKey) {
      append_column(*schema, c, partition_position++);
    } else if (c.kind == ColumnKind::Clustering) {
      append_column(*schema, c, clustering_position++);
    }
    if (c.kind != ColumnKind::Regular && c.kind != ColumnKind::Static &&
        (c.layout == CellLayout::MultiCell || c.type.id == TypeId::Counter)) {
      return fail(Errc::InvalidArgument,
                  fmt::format("table {}: primary key column {} cannot be a counter or a "
                              "non-frozen collection",
                              qualified(keyspace, table), c.name));
    }
  }
  if (partition_position == 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("table {}: no partition key column", qualified(keyspace, table)));
  }
  for (const auto& c : columns) {
    if (c.kind != ColumnKind::Regular && c.kind != ColumnKind::Static) continue;
    auto ok = validate_value_column(*schema, c);
    if (!ok) return tl::unexpected(std::move(ok.error()));
    append_column(*schema, c, 0);
  }
  std::shared_ptr<const TableSchema> frozen = std::move(schema);
  tables_.emplace(std::move(key), frozen);
  bump_version();
  return frozen;
}

Result<std::shared_ptr<const TableSchema>> Catalog::add_column(const std::string& keyspace,
                                                               const std::string& table,
                                                               ColumnDefinition column) {
  std::unique_lock lock(mu_);
  auto it = tables_.find(TableKey{keyspace, table});
  if (it == tables_.end()) {
    return fail(Errc::InvalidArgument,
                fmt::format("table {} does not exist", qualified(keyspace, table)));
  }
  if (column.kind != ColumnKind::Regular && column.kind != ColumnKind::Static) {
    return fail(Errc::InvalidArgument, fmt::format("table {}: cannot add primary key column {}",
                                                   qualified(keyspace, table), column.name));
  }
  if (it->second->find_column(column.name) != nullptr) {
    return fail(Errc::InvalidArgument, fmt::format("table {}: column {} already exists",
                                                   qualified(keyspace, table), column.name));
  }
  auto schema = std::make_shared<TableSchema>(*it->second);
  auto ok = validate_value_column(*schema, column);
  if (!ok) return tl::unexpected(std::move(ok.error()));
  append_column(*schema, column, 0);
  it->second = schema;
  bump_version();
  return it->second;
}

Result<std::shared_ptr<const TableSchema>> Catalog::drop_column(const std::string& keyspace,
                                                                const std::string& table,
                                                                const std::string& column) {
  std::unique_lock lock(mu_);
  auto it = tables_.find(TableKey{keyspace, table});
  if (it == tables_.end()) {
    return fail(Errc::InvalidArgument,
                fmt::format("table {} does not exist", qualified(keyspace, table)));
  }
  const ColumnSchema* existing = it->second->find_column(column);
  if (existing == nullptr) {
    return fail(Errc::InvalidArgument, fmt::format("table {}: column {} does not exist",
                                                   qualified(keyspace, table), column));
  }
  if (existing->is_primary_key()) {
    return fail(Errc::InvalidArgument, fmt::format("table {}: cannot drop primary key column {}",
                                                   qualified(keyspace, table), column));
  }
  auto schema = std::make_shared<TableSchema>(*it->second);
  std::erase_if(schema->columns, [&](const ColumnSchema& c) { return c.name == column; });
  it->second = schema;
  bump_version();
  return it->second;
}

Result<std::shared_ptr<const TableSchema>> Catalog::drop_table(const std::string& keyspace,
                                                               const std::string& table) {
  std::unique_lock lock(mu_);
  auto it = tables_.find(TableKey{keyspace, table});
  if (it == tables_.end()) {
    return fail(Errc::InvalidArgument,
                fmt::format("table {} does not exist", qualified(keyspace, table)));
  }
  auto dropped = it->second;
  tables_.erase(it);
  bump_version();
  return dropped;
}

std::shared_ptr<const TableSchema> Catalog::find_table(const std::string& keyspace,
                                                       const std::string& table) const {
  std::shared_lock lock(mu_);
  auto it = tables_.find(TableKey{keyspace, table});
  return it == tables_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const TableSchema>> Catalog::tables(const std::string& keyspace) const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const TableSchema>> out;
  for (const auto& [key, schema] : tables_) {
    if (key.first == keyspace) out.push_back(schema);
  }
  return out;
}

}  // namespace zdm::node
