#pragma once
// The embedded node as a network server (`zdm node`): io threads, the CQL listener (plain or TLS),
// one NodeConnection per client, the QueryProcessor over an in-memory StorageEngine, optional
// PasswordAuthenticator, fault injection and its admin HTTP endpoint.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "net/framed_connection.hpp"
#include "net/io_threads.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"
#include "node/cql/node_identity.hpp"
#include "node/cql/query_processor.hpp"
#include "node/server/authenticator.hpp"
#include "node/server/fault_injector.hpp"
#include "node/server/node_admin_http.hpp"
#include "node/server/node_connection.hpp"
#include "node/storage/storage_engine.hpp"

namespace zdm::node {

struct NodeServerOptions {
  net::HostPort listen{"127.0.0.1", 9042};
  size_t threads = 0;  // 0: one per hardware thread
  // Cluster, datacenter, rack; the address and port are filled in from `listen` once bound.
  // identity.cassandra_version V2_2 (see set_cassandra_version) serves only v3 and v4 of
  // `protocol_versions`.
  NodeIdentity identity;
  std::vector<protocol::ProtocolVersion> protocol_versions{
      protocol::ProtocolVersion::V3, protocol::ProtocolVersion::V4, protocol::ProtocolVersion::V5};
  bool v5_beta = false;
  std::vector<UserCredential> users;  // non-empty: PasswordAuthenticator (or `authenticator`)
  AuthenticatorKind authenticator = AuthenticatorKind::Password;  // used when users are given
  std::optional<net::ServerTlsOptions> tls;
  std::string prepared_id_salt;
  std::optional<net::HostPort> admin;  // fault-injection HTTP endpoint
  std::vector<FaultRule> faults;
  net::FramedConnectionOptions framing;
};

// Parses "3,4,5" (also "v4", "V5", and DSE_V1/DSE_V2 as "65"/"dse_v1", "66"/"dse_v2").
Result<std::vector<protocol::ProtocolVersion>> parse_protocol_versions(std::string_view text);

// Parses "2.2", "2.2.18", "4.0", "4.0.11": the Cassandra release the node answers like.
Result<CassandraVersion> parse_cassandra_version(std::string_view text);

class NodeServer {
 public:
  explicit NodeServer(NodeServerOptions options);
  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // Binds, installs the system tables, starts the threads. Errors say what could not be set up.
  Result<void> start();
  // Closes the listener and every connection and joins the threads. Idempotent; call it from a
  // thread that is not one of the server's io threads.
  void stop();

  uint16_t port() const;
  std::optional<uint16_t> admin_port() const;
  // "zdm node: listening on 127.0.0.1:9042 (cql), admin on 127.0.0.1:8080"
  std::string ready_line() const;

  QueryProcessor& processor() { return *processor_; }
  FaultInjector& faults() { return faults_; }
  StorageEngine& storage() { return storage_; }
  uint64_t open_connections() const;

 private:
  void accept(boost::asio::ip::tcp::socket socket, size_t thread_index);

  NodeServerOptions options_;
  // Declared before the threads: connections still queued in an io_context when it is destroyed
  // unregister from these, and use the shared state.
  StorageEngine storage_;
  FaultInjector faults_;
  std::unique_ptr<QueryProcessor> processor_;
  std::unique_ptr<Authenticator> authenticator_;
  NodeServerShared shared_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::vector<std::unique_ptr<ConnectionRegistry>> registries_;
  std::unique_ptr<net::IoThreads> threads_;
  std::shared_ptr<net::Listener> listener_;
  std::shared_ptr<NodeAdminHttp> admin_;
  bool started_ = false;
  bool running_ = false;
  bool stopped_ = false;
};

}  // namespace zdm::node
