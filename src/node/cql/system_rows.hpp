#pragma once
// Building blocks of the system tables (system_tables.cpp for Cassandra 4.0's,
// system_tables_v22.cpp for Cassandra 2.2's): table definitions as data, the [bytes] encodings of
// the values they hold, and writing one row with a row marker. Internal to the node.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "node/storage/mutation.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {
class StorageEngine;
}

namespace zdm::node::sysrows {

struct ColumnSpec {
  const char* name;
  const char* type;  // CQL type text
  ColumnKind kind = ColumnKind::Regular;
};

struct TableSpec {
  const char* keyspace;
  const char* table;
  std::vector<ColumnSpec> columns;  // key columns first, in key order
};

inline constexpr ColumnKind PK = ColumnKind::PartitionKey;
inline constexpr ColumnKind CK = ColumnKind::Clustering;

// Creates the keyspaces (name, replication) and tables that do not exist yet.
Result<void> create_keyspaces(
    StorageEngine& engine,
    const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& keyspaces);
Result<void> create_tables(StorageEngine& engine, const std::vector<TableSpec>& specs);

// What Cassandra 2.2 and 4.0 define alike: the system_auth, system_distributed and system_traces
// keyspaces, and system_auth.roles, system_traces.sessions/events; each mode adds its own.
const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& shared_keyspaces();
const std::vector<TableSpec>& shared_table_specs();

// ---- value encoders (the [bytes] bodies of the native protocol)
Bytes text(std::string_view s);
Bytes int32(int32_t v);
Bytes boolean(bool v);
Bytes float64(double v);
Bytes uuid(const Uuid& u);
Bytes inet(const std::string& address);                  // dotted IPv4 or IPv6 text
Bytes text_list(const std::vector<std::string>& items);  // list<text> and set<text>
Bytes text_map(const std::vector<std::pair<std::string, std::string>>& entries);

using RowValues = std::vector<std::pair<std::string_view, Bytes>>;

// Adds one row (key columns included in `values`) with a row marker at `timestamp` to `m`, whose
// partition key it sets when still empty. Names that are not columns of `schema` are skipped.
void add_row(const TableSchema& schema, Mutation& m, const RowValues& values, int64_t timestamp);

// A version 3 (MD5, name based) uuid of "a.b".
Uuid name_uuid(std::string_view a, std::string_view b);

}  // namespace zdm::node::sysrows
