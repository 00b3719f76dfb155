#pragma once
// The CQL side of the embedded node: executes QUERY, PREPARE, EXECUTE and BATCH requests against
// the StorageEngine and returns the response message. No networking here: the server
// (node/server/node_server.hpp) owns connections, STARTUP/OPTIONS/AUTH/REGISTER, framing and
// compression, and calls process() for the four statement-carrying requests.
//
// Thread-safe: one QueryProcessor serves every connection on every io thread. process() is
// synchronous (storage is in memory) and never throws; every failure is an ErrorMessage with the
// CQL error code a driver expects (SyntaxError, Invalid, AlreadyExists, Unprepared, ...).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "node/cql/node_identity.hpp"
#include "protocol/messages.hpp"
#include "protocol/version.hpp"

namespace zdm::node {

class StorageEngine;

// Per-connection state the processor reads and updates.
struct SessionState {
  protocol::ProtocolVersion version{};  // negotiated at STARTUP
  std::string keyspace;                 // USE <ks> sets it (SetKeyspace result); empty: none
  std::string user;                     // authenticated role; empty when auth is off
};

struct QueryProcessorOptions {
  // Mixed into prepared ids (MD5 of salt + keyspace + query text) so that a target node's ids
  // differ from origin's, as they do between some real clusters. Empty: plain MD5 as Cassandra.
  std::string prepared_id_salt;
};

class QueryProcessor {
 public:
  QueryProcessor(StorageEngine& engine, NodeIdentity identity, QueryProcessorOptions options);
  ~QueryProcessor();
  QueryProcessor(const QueryProcessor&) = delete;
  QueryProcessor& operator=(const QueryProcessor&) = delete;

  // Creates the system keyspaces (system, system_schema, system_auth, system_distributed,
  // system_traces; no system_schema in Cassandra 2.2 mode) and fills system.local. Call once
  // before serving.
  Result<void> install_system_tables();

  // QUERY, PREPARE, EXECUTE or BATCH. Other request kinds get a ProtocolError response.
  protocol::ResponseBody process(const protocol::RequestBody& request, SessionState& session);

  // Called (from the thread that ran the DDL) after every successful schema change, so the
  // server can send SCHEMA_CHANGE events to connections that registered for them.
  void set_schema_change_listener(std::function<void(const protocol::SchemaChange&)> listener);

  // Forgets every prepared statement (tests simulate a restarted node that lost them).
  void clear_prepared();

  const NodeIdentity& identity() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zdm::node
