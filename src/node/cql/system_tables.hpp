#pragma once
// The system keyspaces drivers read at connect time, kept as real tables in the StorageEngine so
// that ordinary SELECT execution (projection, WHERE, paging) answers them: system.local,
// system.peers, system.peers_v2 and system_schema.* with Cassandra 4.0's column sets, plus the
// (empty) system_auth, system_distributed and system_traces keyspaces.
//
// system_schema rows mirror the Catalog: after every schema change the executor calls
// refresh_keyspace() for the affected keyspace, which rewrites that keyspace's rows in every
// system_schema table and stores the Catalog's schema version in system.local.
//
// With NodeIdentity::cassandra_version V2_2 the node answers like Cassandra 2.2.18 instead
// (system_tables_v22.cpp): system.local and system.peers with 2.2's columns, no peers_v2, no
// system_schema keyspace; the schema lives in system.schema_keyspaces, schema_columnfamilies,
// schema_columns, schema_usertypes (and empty schema_triggers, schema_functions,
// schema_aggregates) with marshal class names as validators; system.size_estimates exists (empty).

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "node/cql/node_identity.hpp"
#include "node/storage/table_schema.hpp"

namespace zdm::node {

class StorageEngine;

// system, system_schema, system_auth, system_distributed, system_traces (and the virtual schema
// keyspaces): users may not write to them.
bool is_system_keyspace(std::string_view keyspace);

// The CQL type text Cassandra writes into system_schema.columns and system_schema.types:
// frozen<...> around frozen collections, tuples and UDTs, UDTs by bare name.
std::string schema_type_text(const DataType& type, bool frozen);
// A column's type text (frozen unless it is a multi-cell collection).
std::string schema_type_text(const ColumnSchema& column);

// Cassandra 2.x's type strings (AbstractType.toString()) as written into system.schema_columns,
// schema_columnfamilies and schema_usertypes: "org.apache.cassandra.db.marshal.Int32Type",
// ListType(...)/SetType(...)/MapType(...) for non-frozen collections, FrozenType(...) around frozen
// ones (not inside frozen collections, tuples or UDTs), TupleType(...), UserType(ks,hexname,
// hexfield:type,...), ReversedType(...) when `reversed`.
std::string legacy_type_name(const DataType& type, bool frozen, bool reversed = false);
// The validator of one column in system.schema_columns.
std::string legacy_validator(const ColumnSchema& column);
// system.schema_columnfamilies.key_validator: the partition key column's type, or
// CompositeType(...) of them when there are several.
std::string legacy_key_validator(const TableSchema& table);
// system.schema_columnfamilies.comparator of a (non-compact) CQL table: CompositeType(clustering
// types..., UTF8Type[, ColumnToCollectionType(hexname:collection type,...)]), the collections in
// the iteration order of the Java HashMap Cassandra builds them in.
std::string legacy_comparator(const TableSchema& table);

// Host id and token of a node that advertises peers (`zdm node --peer`), derived from its address.
Uuid peer_host_id(std::string_view address);
int64_t peer_token(std::string_view address);

class SystemTables {
 public:
  SystemTables(StorageEngine& engine, const NodeIdentity& identity);

  // Creates the system keyspaces and tables, fills system.local and the system_schema rows of
  // every keyspace that exists.
  Result<void> install();

  // Rewrites the system_schema rows of `keyspace` (deleting them when it no longer exists) and
  // bumps system.local.schema_version.
  Result<void> refresh_keyspace(const std::string& keyspace);

 private:
  int64_t next_timestamp();
  Result<void> write_local();
  Result<void> write_peers();
  Result<void> write_schema_version();

  // Cassandra 2.2 (system_tables_v22.cpp).
  Result<void> install_v22();
  Result<void> refresh_keyspace_v22(const std::string& keyspace);
  Result<void> write_local_v22();
  Result<void> write_peers_v22();

  StorageEngine& engine_;
  const NodeIdentity& identity_;
  std::atomic<int64_t> last_timestamp_{0};
};

}  // namespace zdm::node
