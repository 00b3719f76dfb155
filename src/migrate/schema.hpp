#pragma once
// The schema of the tables a migration covers, as both clusters describe it: keyspaces with their
// replication, user types, tables with their columns in primary-key order. Read from
// system_schema (Cassandra 3.0+, DSE, Astra) or, where that keyspace does not exist, from the
// Cassandra 2.x tables system.schema_keyspaces/columnfamilies/columns/usertypes.
//
// Control plane: reading happens once per run, before any row moves.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/result.hpp"
#include "protocol/data_type.hpp"

namespace zdm::client {
class Session;
}

namespace zdm::migrate {

enum class ColumnKind : uint8_t { PartitionKey, Clustering, Static, Regular };

struct Column {
  std::string name;
  protocol::DataType type;
  ColumnKind kind = ColumnKind::Regular;
  int position = 0;         // within the partition key or the clustering columns
  bool descending = false;  // clustering order
  bool multi_cell = false;  // a non-frozen collection or UDT: one cell per element

  bool is_key() const { return kind == ColumnKind::PartitionKey || kind == ColumnKind::Clustering; }
  bool is_counter() const { return type.id == protocol::TypeId::Counter; }
  bool is_list() const { return multi_cell && type.id == protocol::TypeId::List; }
  // "int", "frozen<list<int>>", "list<int>", "frozen<ks.addr>": how CREATE TABLE spells it.
  std::string cql_type() const;
};

struct Table {
  std::string keyspace;
  std::string name;
  // Partition key columns in order, then clustering columns in order, then static and regular
  // columns by name.
  std::vector<Column> columns;
  size_t partition_key_count = 0;
  size_t clustering_count = 0;

  std::string qualified() const;  // "ks.t" (quoted where needed)
  std::string id() const { return keyspace + "." + name; }
  const Column* find(const std::string& column) const;
  bool is_counter_table() const;
  bool has_static() const;
};

struct UserType {
  std::string keyspace;
  std::string name;
  std::vector<std::string> field_names;
  std::vector<protocol::DataType> field_types;
};

struct Keyspace {
  std::string name;
  std::map<std::string, std::string> replication;  // "class" and its options
  bool durable_writes = true;
};

enum class SchemaSource : uint8_t { SystemSchema, Legacy };

// What one cluster says about the keyspaces asked for.
struct Schema {
  SchemaSource source = SchemaSource::SystemSchema;
  std::string release_version;  // system.local's, e.g. "4.0.11", "2.2.18"
  std::string partitioner;      // full class name
  std::vector<Keyspace> keyspaces;
  std::vector<UserType> types;
  std::vector<Table> tables;

  const Keyspace* keyspace(const std::string& name) const;
  const Table* table(const std::string& keyspace, const std::string& name) const;
  const UserType* type(const std::string& keyspace, const std::string& name) const;
  // Cassandra before 5.0 cannot tell the writetime of a non-frozen collection's cells; 2.x not
  // even of a frozen one.
  bool writetime_readable(const Column& column) const;
  int major_version() const;  // 0 when unknown
};

// System keyspaces a migration never includes.
bool is_system_keyspace(const std::string& name);

// Reads the schema of `keyspaces` (every keyspace but the system ones when empty).
boost::asio::awaitable<Result<Schema>> read_schema(std::shared_ptr<client::Session> session,
                                                   std::vector<std::string> keyspaces);

// CQL quoting of an identifier: bare when it is lower-case letters, digits and underscores
// starting with a letter, "double quoted" otherwise.
std::string quote_identifier(const std::string& name);

// One problem that prevents copying a table to target as it is.
struct SchemaProblem {
  std::string keyspace;
  std::string table;
  std::string message;  // "column 'v' is int on origin but text on target"
};

// Compares each origin table with target's. Target may have extra columns (they stay unset).
std::vector<SchemaProblem> compare_schemas(const std::vector<const Table*>& origin_tables,
                                           const Schema& target);

// CQL that creates what `target` lacks of `origin_tables` (keyspaces with origin's replication,
// the user types they use, the tables), in an order that works.
std::vector<std::string> schema_creation_statements(const Schema& origin,
                                                    const std::vector<const Table*>& tables,
                                                    const Schema& target);

}  // namespace zdm::migrate
