#pragma once
// A session with a cluster: a control connection that reads system.local and system.peers
// (peers_v2 when the server has it), the hosts of the local datacenter with a pool of
// connections each, a Murmur3 token map for token-aware routing, prepared statements (cached,
// re-prepared transparently on UNPREPARED), paging, bounded retries and USE propagation.
//
// Threading: like Connection, a Session and everything it owns live on one executor; call it
// from that executor only. For more cores, run one Session per thread.
//
// Routing: a statement with a routing key (from the prepared metadata's pk_indexes, or given
// explicitly) goes to the host owning its token (the primary replica; replication strategies are
// not modelled), when that host is up and in the local DC; otherwise hosts are used round robin.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/client_error.hpp"
#include "client/connection.hpp"
#include "client/connection_options.hpp"
#include "client/retry_policy.hpp"
#include "client/token_map.hpp"
#include "protocol/messages.hpp"

namespace zdm::client {

// Astra-style clusters: every node is reached through one SNI proxy, the TLS server name (SNI)
// naming the node's host id. The contact points are host ids; peers are found by host id too.
struct SniProxy {
  Endpoint address;                   // the SNI proxy; its certificate carries address.host
  std::vector<std::string> host_ids;  // contact points (the metadata service's list)
};

struct SessionOptions {
  std::vector<Endpoint> contact_points;  // ignored when sni_proxy is set
  std::optional<SniProxy> sni_proxy;
  ConnectionOptions connection;
  // A TLS context built by the caller (e.g. from a secure connect bundle's PEM); when set it is
  // used instead of the files in connection.tls, and TLS is on.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  std::string local_dc;  // empty: the datacenter of the contact point that answered
  int connections_per_host = 1;
  bool discover_peers = true;  // connect to the local-DC hosts listed in system.peers
  bool token_aware = true;
  RetryPolicy retry;
  protocol::Consistency consistency = protocol::Consistency::LocalOne;
  int32_t page_size = 5000;
  bool listen_events = true;  // REGISTER for topology/status changes on the control connection
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{30000};
};

struct Host {
  Endpoint endpoint;
  std::string sni;  // through an SNI proxy: the host id sent as TLS server name; else empty
  std::string datacenter;
  std::string rack;
  std::vector<std::string> tokens;
  bool local = true;  // in the local datacenter: the only hosts requests go to
  bool up = true;
  bool reconnecting = false;
  std::vector<std::shared_ptr<Connection>> pool;
  size_t next_connection = 0;
  std::shared_ptr<boost::asio::steady_timer> reconnect_timer;  // cancelled by Session::close
};

struct PreparedStatement {
  std::string query;
  std::string keyspace;  // the session's keyspace when prepared
  Bytes id;
  Bytes result_metadata_id;  // v5
  protocol::PreparedMetadata metadata;
  protocol::RowsMetadata result_metadata;
};

struct Statement {
  std::string query;                                  // a simple statement, or
  std::shared_ptr<const PreparedStatement> prepared;  // a bound prepared statement
  std::vector<protocol::BoundValue> values;
  std::optional<protocol::Consistency> consistency;  // default: the session's
  std::optional<int32_t> page_size;                  // default: the session's
  std::optional<Bytes> paging_state;                 // to fetch the page after a previous one
  // Rows come without column specs (the prepared statement's result metadata has them): for
  // callers that read cells by position.
  bool skip_metadata = false;
  std::optional<int64_t> timestamp;  // client-side write time (microseconds)
  Idempotence idempotence = Idempotence::NotIdempotent;
  std::optional<Bytes> routing_key;  // simple statements; prepared ones derive it
  // A Murmur3 token to route by when there is no key (a token-range read goes to the node that
  // owns the range's end). Takes precedence over the key.
  std::optional<Token> routing_token;
  std::chrono::milliseconds timeout{0};  // 0: the connection's request timeout
  // A batch: these statements (simple or prepared, with their values) in one BATCH message, at
  // this statement's consistency and timestamp. An UNPREPARED answer re-prepares the statement
  // it names and runs the batch again.
  std::vector<Statement> batch;
  protocol::BatchType batch_type = protocol::BatchType::Unlogged;

  static Statement simple(std::string query, std::vector<protocol::BoundValue> values = {});
  static Statement bound(std::shared_ptr<const PreparedStatement> prepared,
                         std::vector<protocol::BoundValue> values);
  static Statement batch_of(std::vector<Statement> statements,
                            protocol::BatchType type = protocol::BatchType::Unlogged);
};

struct QueryResult {
  protocol::ResultMessage result;
  std::shared_ptr<const PreparedStatement> prepared;  // when the statement was prepared
  Endpoint host;
  int attempts = 1;

  // Rows, or nullptr for other result kinds.
  const protocol::RowsResult* rows() const {
    return std::get_if<protocol::RowsResult>(&result.result);
  }
  // The paging state to fetch the next page with, when there is one.
  std::optional<Bytes> paging_state() const {
    auto* r = rows();
    return r ? r->metadata.paging_state : std::nullopt;
  }
};

using QueryCallback = std::function<void(ClientResult<QueryResult>)>;

struct SessionStats {
  uint64_t retries = 0;
  uint64_t reprepares = 0;
  uint64_t token_routed = 0;
  uint64_t round_robin = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Executor = boost::asio::any_io_executor;

  // Connects the control connection to the first contact point that answers, discovers the
  // cluster and opens the pools. Binds the session to the calling coroutine's executor.
  static boost::asio::awaitable<ClientResult<std::shared_ptr<Session>>> connect(
      SessionOptions options);

  Session(Executor executor, SessionOptions options);
  ~Session();

  // Runs a statement; `done` runs exactly once on the session's executor.
  void execute(Statement statement, QueryCallback done);

  template <class CompletionToken>
  auto async_execute(Statement statement, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(ClientResult<QueryResult>)>(
        [this](auto handler, Statement s) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          execute(std::move(s),
                  [shared](ClientResult<QueryResult> r) mutable { (*shared)(std::move(r)); });
        },
        token, std::move(statement));
  }

  boost::asio::awaitable<ClientResult<QueryResult>> query(std::string cql);

  // Prepares on one host (then, in the background, on the others); cached per keyspace and text.
  boost::asio::awaitable<ClientResult<std::shared_ptr<const PreparedStatement>>> prepare(
      std::string cql);

  // Executes and follows paging_state until the last page; returns every row (with the first
  // page's metadata). `max_rows` bounds memory: more rows fail with InvalidArgument.
  boost::asio::awaitable<ClientResult<protocol::RowsResult>> fetch_all(
      Statement statement, size_t max_rows = 10'000'000);

  // USE on every pooled connection, and for connections opened later.
  boost::asio::awaitable<ClientResult<void>> use_keyspace(std::string keyspace);

  void close();

  protocol::ProtocolVersion version() const { return version_; }
  Executor executor() const { return executor_; }
  const std::vector<Host>& hosts() const { return hosts_; }
  const std::string& local_dc() const { return local_dc_; }
  const std::string& keyspace() const { return options_.connection.keyspace; }
  const TokenMap& token_map() const { return token_map_; }
  const SessionStats& stats() const { return stats_; }
  // Sum over all pooled connections.
  ConnectionStats connection_stats() const;
  void set_event_callback(EventCallback cb) { on_event_ = std::move(cb); }

 private:
  struct RequestState;

  boost::asio::awaitable<ClientResult<void>> start();
  boost::asio::awaitable<ClientResult<void>> discover();
  boost::asio::awaitable<void> fill_pool(HostIndex host);
  void reconnect_later(HostIndex host);
  ConnectionOptions options_for(const Host& host) const;
  static std::string describe(const Host& host);
  void add_connection(HostIndex host, std::shared_ptr<Connection> conn);
  void handle_event(const protocol::EventMessage& event);

  void run(std::shared_ptr<RequestState> state);
  void on_response(std::shared_ptr<RequestState> state, HostIndex host,
                   std::shared_ptr<Connection> conn, ClientResult<protocol::Message> response);
  void reprepare(std::shared_ptr<RequestState> state,
                 std::shared_ptr<const PreparedStatement>* target, HostIndex host,
                 std::shared_ptr<Connection> conn);
  void fail_or_retry(std::shared_ptr<RequestState> state, HostIndex host, ClientError error);
  std::optional<HostIndex> choose_host(const RequestState& state);
  std::shared_ptr<Connection> pick_connection(HostIndex host);
  protocol::RequestBody build_request(const RequestState& state) const;
  void propagate_keyspace(const std::string& keyspace, const Connection* except);
  void prepare_on_other_hosts(const std::string& query, HostIndex except);

  Executor executor_;
  SessionOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  protocol::ProtocolVersion version_ = protocol::ProtocolVersion::V4;
  std::shared_ptr<Connection> control_;
  Endpoint control_endpoint_;
  std::string control_sni_;  // the control connection's host id (SNI proxy mode)
  std::string local_dc_;
  std::vector<Host> hosts_;
  std::vector<HostIndex> live_;  // local hosts with at least one open connection
  size_t round_robin_ = 0;
  TokenMap token_map_;
  std::unordered_map<std::string, std::shared_ptr<const PreparedStatement>> prepared_;
  bool closed_ = false;
  EventCallback on_event_;
  SessionStats stats_;
};

}  // namespace zdm::client
