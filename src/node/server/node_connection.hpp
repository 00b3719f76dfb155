#pragma once
// One client connection of the embedded node: the CQL connection state machine (OPTIONS,
// STARTUP, AUTH_RESPONSE, REGISTER), protocol version checks as Cassandra does them, then
// QUERY/PREPARE/EXECUTE/BATCH handed to the QueryProcessor, with fault injection in between.
// Lives on one io thread (see net::FramedConnection); the server reaches it only by post.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "net/framed_connection.hpp"
#include "node/cql/query_processor.hpp"
#include "node/server/authenticator.hpp"
#include "node/server/fault_injector.hpp"
#include "protocol/messages.hpp"

namespace zdm::node {

class NodeConnection;

// What every connection of a server shares; immutable while serving except the atomics.
struct NodeServerShared {
  QueryProcessor* processor = nullptr;
  FaultInjector* faults = nullptr;
  const Authenticator* authenticator = nullptr;  // nullptr: no authentication (AllowAll)
  AuthenticatorKind authenticator_kind = AuthenticatorKind::Password;
  std::vector<protocol::ProtocolVersion> versions;  // accepted, ascending
  bool v5_beta = false;  // v5 needs the USE_BETA flag (as Cassandra before v5 was final)
  protocol::SupportedMessage supported;
  std::string cql_version;
  CassandraVersion cassandra_version = CassandraVersion::V4_0;  // wording of version errors
  std::atomic<uint64_t> connections{0};                         // open now
  std::atomic<uint64_t> accepted{0};                            // ever

  bool accepts(protocol::ProtocolVersion v) const;
  protocol::ProtocolVersion max_version() const { return versions.back(); }
  // "3/v3, 4/v4, 5/v5" as in Cassandra's error message.
  std::string supported_versions_text() const;
  // The ProtocolError text for a version not served: Cassandra 4.0's "Invalid or unsupported
  // protocol version (5); supported versions are (3/v3, 4/v4)", or 2.2's "...; the lowest
  // supported version is 3 and the greatest is 4".
  std::string unsupported_version_message(uint8_t requested) const;
  static std::string version_label(protocol::ProtocolVersion v, bool beta);
};

// The connections of one io thread; touched only from that thread, so no locks.
class ConnectionRegistry {
 public:
  void add(NodeConnection* c) { connections_.insert(c); }
  void remove(NodeConnection* c) { connections_.erase(c); }
  void broadcast_schema_change(const protocol::SchemaChange& change);
  void close_all();
  size_t size() const { return connections_.size(); }

 private:
  std::unordered_set<NodeConnection*> connections_;
};

class NodeConnection final : public net::FramedConnection {
 public:
  NodeConnection(net::Stream stream, NodeServerShared& shared, ConnectionRegistry& registry,
                 net::FramedConnectionOptions options);
  ~NodeConnection() override;

  // Registers with the thread's registry and starts reading. Call on the connection's thread.
  void open();
  // Sends a SCHEMA_CHANGE event (stream -1) if the client registered for them.
  void push_schema_change(const protocol::SchemaChange& change);

 private:
  enum class State : uint8_t { Uninitialized, Authenticating, Ready };

  void on_frame(const protocol::Frame& frame) override;
  bool on_first_bytes(ByteView prefix) override;
  void on_framing_error(const Error& error) override;
  void on_closed() override;

  // OPTIONS, STARTUP, AUTH_RESPONSE, REGISTER; statements go to execute().
  void process_control(const protocol::Message& request);
  void process_options(const protocol::Message& request);
  void process_startup(const protocol::Message& request);
  void process_auth_response(const protocol::Message& request);
  void process_register(const protocol::Message& request);
  void process_statement(protocol::Message request);
  // Runs the statement now and queues its response.
  void execute(const protocol::Message& request);
  void apply_fault(protocol::Message request, FaultInjector::Decision decision);
  void finish_fault(const protocol::Message& request, const FaultRule& rule);

  void respond(const protocol::Message& request, protocol::ResponseBody body);
  void respond(protocol::ProtocolVersion version, protocol::StreamId stream,
               protocol::ResponseBody body);
  void protocol_error(protocol::ProtocolVersion version, protocol::StreamId stream,
                      std::string message);
  // Answers a request in a version the server does not accept, then closes.
  void reject_version(uint8_t requested, protocol::StreamId stream, std::string message);
  std::shared_ptr<NodeConnection> self();

  NodeServerShared& shared_;
  ConnectionRegistry& registry_;
  State state_ = State::Uninitialized;
  std::optional<protocol::ProtocolVersion> version_;  // set by STARTUP
  SessionState session_;
  bool schema_events_ = false;
  bool registered_ = false;
  bool sasl_mechanism_chosen_ = false;  // DseAuthenticator: "PLAIN" received, token expected
};

}  // namespace zdm::node
