#pragma once
// Who this node says it is in system.local / system.peers and to drivers: cluster and datacenter
// names, addresses, host id, tokens, versions. Fixed for the node's lifetime.

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace zdm::node {

// Which Cassandra release the node answers like (`zdm node --cassandra-version`): its system
// tables, protocol versions, version strings and the few CQL rules that differ.
//   V4_0: system.local/peers/peers_v2 and system_schema.* as Cassandra 4.0, protocol v3-v5.
//   V2_2: system.local/peers and system.schema_* (no system_schema, no peers_v2) as Cassandra
//         2.2.18, protocol v3-v4, WRITETIME/TTL refused on every collection (frozen too).
enum class CassandraVersion : uint8_t { V2_2, V4_0 };

struct NodeIdentity {
  std::string cluster_name = "zdm";
  std::string datacenter = "dc1";
  std::string rack = "rack1";
  std::string listen_address = "127.0.0.1";  // also broadcast and rpc address
  uint16_t native_port = 9042;
  Uuid host_id{};                          // random per start unless set
  std::vector<int64_t> tokens;             // empty: a single token chosen at start
  std::string release_version = "4.0.11";  // what drivers see as the Cassandra version
  std::string cql_version = "3.4.5";
  std::string partitioner = "org.apache.cassandra.dht.Murmur3Partitioner";
  // Other nodes of the same cluster (IP addresses, same datacenter, rack and native port) listed
  // in system.peers / peers_v2, so that drivers and the proxy discover them (`zdm node --peer`).
  // Nodes only advertise each other: they do not replicate. With peers, the host id and token
  // derive from the address (peer_host_id, peer_token), so what A says about B is what B says
  // about itself.
  std::vector<std::string> peers;
  CassandraVersion cassandra_version = CassandraVersion::V4_0;
};

// Sets cassandra_version and the release and CQL versions that release reports
// (4.0: "4.0.11", "3.4.5"; 2.2: "2.2.18", "3.3.1").
inline void set_cassandra_version(NodeIdentity& identity, CassandraVersion version) {
  identity.cassandra_version = version;
  if (version == CassandraVersion::V2_2) {
    identity.release_version = "2.2.18";
    identity.cql_version = "3.3.1";
  } else {
    identity.release_version = "4.0.11";
    identity.cql_version = "3.4.5";
  }
}

}  // namespace zdm::node
