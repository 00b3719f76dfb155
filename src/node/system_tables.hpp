#pragma once
// The system keyspaces drivers read at connect time, kept as real tables in the StorageEngine so
// that ordinary SELECT execution (projection, WHERE, paging) answers them: system.local,
// system.peers, system.peers_v2 and system_schema.* with Cassandra 4.0's column sets, plus the
// (empty) system_auth, system_distributed and system_traces keyspaces.
//
// system_schema rows mirror the Catalog: after every schema change the executor calls
// refresh_keyspace() for the affected keyspace, which rewrites that keyspace's rows in every
// system_schema table and stores the Catalog's schema version in system.local.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "node/node_identity.hpp"
#include "node/table_schema.hpp"

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

  StorageEngine& engine_;
  const NodeIdentity& identity_;
  std::atomic<int64_t> last_timestamp_{0};
};

}  // namespace zdm::node
