#pragma once
// Who this node says it is in system.local / system.peers and to drivers: cluster and datacenter
// names, addresses, host id, tokens, versions. Fixed for the node's lifetime.

#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace zdm::node {

struct NodeIdentity {
  std::string cluster_name = "zdm";
  std::string datacenter = "dc1";
  std::string rack = "rack1";
  std::string listen_address = "127.0.0.1";  // also broadcast and rpc address
  uint16_t native_port = 9042;
  Uuid host_id{};                            // random per start unless set
  std::vector<int64_t> tokens;               // empty: a single token chosen at start
  std::string release_version = "4.0.11";    // what drivers see as the Cassandra version
  std::string cql_version = "3.4.5";
  std::string partitioner = "org.apache.cassandra.dht.Murmur3Partitioner";
  // Other nodes of the same cluster (IP addresses, same datacenter, rack and native port) listed
  // in system.peers / peers_v2, so that drivers and the proxy discover them (`zdm node --peer`).
  // Nodes only advertise each other: they do not replicate. With peers, the host id and token
  // derive from the address (peer_host_id, peer_token), so what A says about B is what B says
  // about itself.
  std::vector<std::string> peers;
};

}  // namespace zdm::node
