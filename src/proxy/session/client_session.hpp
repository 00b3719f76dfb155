#pragma once
// One client connection of the proxy and everything it drives: an upstream connection to an
// origin node and one to a target node (plus, in DUAL_ASYNC_ON_SECONDARY mode, a third to the
// secondary cluster for async reads), the handshake (STARTUP to both, authentication relayed to
// the auth-primary cluster while the proxy authenticates to the other one with configured
// credentials), and per request: peek, forward decision, stream id remap, forward the original
// bytes (only the stream id patched; EXECUTE/BATCH for target get target prepared ids), join the
// answers of dual requests, deadline.
//
// Threading: the session and its upstream connections live on one io thread; no locks on the
// data path. Shared, read-mostly state (configuration, cluster views, prepared cache, metrics)
// comes from SessionContext.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/timeuuid.hpp"
#include "journal/write_record.hpp"
#include "net/framed_connection.hpp"
#include "protocol/compression.hpp"
#include "proxy/cluster/control_connection.hpp"
#include "proxy/cluster/virtual_topology.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/routing/answer_join.hpp"
#include "proxy/routing/forward_decision.hpp"
#include "proxy/routing/function_rewriter.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/routing/request_plan.hpp"
#include "proxy/routing/routing_snapshot.hpp"
#include "proxy/secondary/secondary_writer.hpp"
#include "proxy/session/async_reads.hpp"
#include "proxy/session/client_info.hpp"
#include "proxy/session/deadline_list.hpp"
#include "proxy/session/handshake_relay.hpp"
#include "proxy/session/upstream_connection.hpp"

namespace zdm::proxy {

class ClientSession;

class WriteTimestamps {
 public:
  int64_t next(int64_t now_us) {
    int64_t last = last_.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t value = now_us > last ? now_us : last + 1;
      if (last_.compare_exchange_weak(last, value, std::memory_order_relaxed)) return value;
    }
  }

 private:
  std::atomic<int64_t> last_{0};
};

// What every session of a proxy shares. Built once by ProxyServer; thread-safe.
class SessionContext {
 public:
  SessionContext(ProxyConfig config, ProxyMetrics* metrics, PreparedCache* prepared);

  // The configuration now. Settings read per connection (timeouts, stream ids, blocked versions)
  // come from here when a connection opens; routing settings from routing(). Cold: takes a lock.
  std::shared_ptr<const ProxyConfig> config() const;
  // Makes `next` the configuration and publishes its routing settings (the topology is kept):
  // the next request of every session is routed by it. Returns the routing generation.
  uint64_t apply_config(std::shared_ptr<const ProxyConfig> next);
  ProxyMetrics* metrics() const { return metrics_; }
  PreparedCache& prepared() const { return *prepared_; }

  // Snapshots published by the control connections and the server (thread-safe).
  void set_view(ClusterType cluster, std::shared_ptr<const ClusterView> view);
  std::shared_ptr<const ClusterView> view(ClusterType cluster) const;
  // The topology is part of the routing snapshot (set_topology publishes a new one).
  void set_topology(std::shared_ptr<const VirtualTopology> topology);
  std::shared_ptr<const VirtualTopology> topology() const;
  // How requests are routed now: primary cluster, read mode, timeouts, ... (routing_snapshot.hpp).
  // Publishing a new snapshot changes the routing of every session's next request.
  RoutingPublisher& routing() { return routing_; }
  const RoutingPublisher& routing() const { return routing_; }

  // Node metric series, bound once per (kind, node) and kept for the process's life. Cold.
  const NodeMetrics* node_metrics(UpstreamRole role, const std::string& node);

  // Round-robin start index over a cluster's assigned nodes for the next connection.
  size_t next_node_index(ClusterType cluster);
  // Nodes a session recently failed to reach ("ip:port"), skipped by new sessions for a while
  // so that only one pays for a hung node's connection timeout. Cold (once per connection).
  void mark_node_down(const std::string& label);
  bool node_recently_down(const std::string& label) const;

  // now() values of ZDM_REPLACE_CQL_FUNCTIONS (lock-free, strictly increasing per proxy).
  TimeuuidGenerator& timeuuids() { return timeuuids_; }
  // Timestamps the proxy gives writes that have none (async mode): microseconds, strictly
  // increasing per proxy, so two writes of one client never share one.
  WriteTimestamps& write_timestamps() { return write_timestamps_; }

  // TLS for upstream connections (no context: plain TCP). Set before the first session opens.
  const UpstreamTls& tls(ClusterType cluster) const {
    return cluster == ClusterType::Origin ? origin_tls_ : target_tls_;
  }
  void set_tls(ClusterType cluster, UpstreamTls tls) {
    (cluster == ClusterType::Origin ? origin_tls_ : target_tls_) = std::move(tls);
  }

  // Opens the stream of an upstream connection: connect_stream (TCP, TLS with tls(cluster)) unless
  // a connector was set. The proxy_session fuzz target sets one that hands out in-process socket
  // pairs to stub nodes. Set before any session starts.
  using Connector = std::function<void(boost::asio::any_io_executor, ClusterType,
                                       const ClusterNode&, StreamCallback)>;
  void set_connector(Connector connector) { connector_ = std::move(connector); }
  void connect(boost::asio::any_io_executor executor, ClusterType cluster, const ClusterNode& node,
               std::chrono::milliseconds timeout, StreamCallback done) const;

  // The highest protocol version both clusters speak (blocked versions aside), and SUPPORTED
  // as the proxy answers it (target's options, COMPRESSION cut to what both support).
  protocol::ProtocolVersion max_version() const;
  protocol::SupportedMessage supported() const;

  std::atomic<int64_t> sessions{0};           // open client sessions
  std::atomic<uint64_t> rejected_clients{0};  // over PROXY_MAX_CLIENT_CONNECTIONS
  std::atomic<uint64_t> async_dropped{0};     // async reads not sent (queue full / not ready)

  // Where writes answered after the primary alone get their secondary copy (null: no journal
  // configured, so async secondary writes are off). Set before the first session opens.
  void set_secondary_writer(SecondaryWriter* writer) { secondary_writer_ = writer; }
  SecondaryWriter* secondary_writer() const { return secondary_writer_; }

  // Graceful shutdown. Sessions register while open (cold: once per connection). begin_drain()
  // sets `draining` and asks every open session, on its own io thread, to answer new requests
  // with OVERLOADED and to close once its in-flight requests are answered or timed out.
  void register_session(const std::shared_ptr<ClientSession>& session,
                        std::shared_ptr<const ClientInfo> info);
  void unregister_session(const ClientSession* session);
  // Every open client connection (GET /api/v1/clients), oldest first.
  std::vector<ClientSnapshot> clients() const;
  void begin_drain();
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> draining_{false};
  mutable std::mutex down_mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> down_until_;
  struct OpenSession {
    std::weak_ptr<ClientSession> session;
    std::shared_ptr<const ClientInfo> info;
  };
  mutable std::mutex sessions_mu_;
  std::unordered_map<const ClientSession*, OpenSession> open_sessions_;
  mutable std::mutex config_mu_;
  std::shared_ptr<const ProxyConfig> config_;
  ProxyMetrics* metrics_;
  PreparedCache* prepared_;
  RoutingPublisher routing_;
  mutable std::mutex mu_;
  std::shared_ptr<const ClusterView> origin_view_, target_view_;
  std::unordered_map<std::string, std::unique_ptr<NodeMetrics>> node_metrics_;
  std::atomic<size_t> next_origin_{0}, next_target_{0};
  UpstreamTls origin_tls_, target_tls_;
  TimeuuidGenerator timeuuids_;
  WriteTimestamps write_timestamps_;
  Connector connector_;
  SecondaryWriter* secondary_writer_ = nullptr;
};

class ClientSession final : public net::FramedConnection, private UpstreamHandler {
 public:
  ClientSession(net::Stream stream, SessionContext& context,
                net::FramedConnectionOptions options = {});
  ~ClientSession() override;

  // Starts reading the client. Call on the session's io thread.
  void open();
  // Graceful shutdown (see SessionContext::begin_drain). Call on the session's io thread.
  void begin_drain();

  // Statistics for tests and logs.
  struct Stats {
    uint64_t requests = 0;
    uint64_t dual_requests = 0;
    uint64_t timeouts = 0;
    uint64_t late_responses = 0;
    uint64_t local_answers = 0;      // OPTIONS, system.local/peers, UNPREPARED for unknown ids
    uint64_t function_rewrites = 0;  // requests changed by ZDM_REPLACE_CQL_FUNCTIONS
    uint64_t upstream_pauses = 0;    // client reads paused because an upstream queue was full
    uint64_t background_writes = 0;  // async mode: copies handed to the SecondaryWriter
    uint64_t sync_writes_in_async_mode = 0;  // async mode: writes kept synchronous
    uint64_t secondary_leg_losses = 0;       // async mode: the secondary's connection closed
  };
  const Stats& stats() const { return stats_; }

 private:
  enum class Phase : uint8_t { AwaitStartup, Connecting, Handshake, Ready, Failed };
  // A connection to one cluster during the handshake: connecting (failover across its nodes),
  // STARTUP sent, answered (the relay decides the rest).
  // Answered: ready for requests once the session is. Restoring: an async-mode secondary
  // connection opened again, logging in or switching keyspace (session_secondary_leg.cpp).
  enum class LegState : uint8_t { Idle, Connecting, StartupSent, Answered, Restoring, Failed };

  struct Leg {
    ClusterType cluster = ClusterType::Origin;
    std::shared_ptr<UpstreamConnection> conn;
    LegState state = LegState::Idle;
    NodeRotation rotation;                                     // which node to try next
    std::string last_error;                                    // why the last node tried failed
    std::chrono::steady_clock::time_point last_sent{};         // for idle heartbeats
    std::chrono::steady_clock::time_point startup_deadline{};  // STARTUP sent, no answer yet
  };

  // Per-table series (zdm_proxy_table_*), bound on first use by this session.
  struct TableCounters {
    metrics::Counter* reads = nullptr;
    metrics::Counter* writes = nullptr;
    metrics::Counter* failed_origin = nullptr;
    metrics::Counter* failed_target = nullptr;
    metrics::Counter* failed_both = nullptr;
    ComparisonCounters compare;  // zdm_proxy_read_comparisons_total, bound on first use
  };

  // One client request in flight (dual requests wait here for their second answer).
  struct Slot {
    int16_t client_stream = 0;
    uint8_t pending = 0;  // bit 0 origin, bit 1 target
    bool in_use = false;
    bool origin_failed = false;
    bool target_failed = false;
    bool has_stored = false;
    bool is_read = false;
    bool track_metrics = false;
    ClusterType primary = ClusterType::Origin;  // the primary when it was sent (joins by it)
    JoinKind join = JoinKind::Other;
    TimeoutKind timeout_kind = TimeoutKind::Write;
    protocol::Opcode opcode = protocol::Opcode::Query;
    uint16_t consistency = 1;
    int16_t origin_id = -1;
    int16_t target_id = -1;
    Bytes stored;                // the first answer of a dual request (as received)
    Bytes stored_body;           // PREPARE: its message after the envelope (for the prepared cache)
    Bytes target_unprepared_id;  // target answered UNPREPARED for this (target) id
    ClusterType stored_from = ClusterType::Origin;
    protocol::ErrorCode origin_error = protocol::ErrorCode::ServerError;  // when origin_failed
    protocol::ErrorCode target_error = protocol::ErrorCode::ServerError;  // when target_failed
    Bytes prepared_id;  // EXECUTE: the origin id (UNPREPARED from target is rewritten to it)
    std::string query;  // PREPARE: statement text and keyspace, for the prepared cache
    std::string keyspace;
    StoredDecision decision;                          // PREPARE: the statement's decision
    std::shared_ptr<const PrepareRewrite> functions;  // PREPARE: now()/uuid() were replaced
    std::vector<Uuid> function_values;  // EXECUTE: the values generated for now()/uuid()
    Bytes function_batch_body;          // BATCH: the body sent with replaced now()/uuid()
    uint64_t function_body_hash = 0;    // EXECUTE/BATCH above: hash of the client body
    TableCounters* table = nullptr;
    ReadComparisons::Ticket compare;  // a sampled async read waiting for the primary's answer
    // ZDM_SECONDARY_WRITE_MODE=async: the secondary's copy, handed to the SecondaryWriter once
    // the primary applied the write.
    std::unique_ptr<journal::WriteRecord> background;  // a pointer: slots stay small
    std::chrono::steady_clock::time_point start{};
  };

  // net::FramedConnection
  void on_frame(const protocol::Frame& frame) override;
  bool on_first_bytes(ByteView prefix) override;
  void on_framing_error(const Error& error) override;
  void on_closed() override;
  bool should_pause_reading() override;
  // PROTOCOL_ERROR on `stream`, then close once it is written (the client broke the protocol).
  void reject_and_close(int16_t stream, std::string message);
  // UpstreamHandler
  void on_upstream_frame(UpstreamConnection& connection, const protocol::Frame& frame) override;
  void on_upstream_closed(UpstreamConnection& connection) override;
  void on_upstream_written(UpstreamConnection& connection) override;
  size_t upstream_backlog() const;

  // Handshake.
  void handle_startup(const protocol::Frame& frame);
  void connect_leg(Leg& leg);
  void arm_handshake_timer();
  void on_handshake_timeout();
  void on_leg_connected(Leg& leg);
  void send_startup(Leg& leg);
  void on_handshake_frame(Leg& leg, const protocol::Frame& frame);
  void carry_out_handshake(HandshakeStep step);
  void handle_client_auth_response(const protocol::Frame& frame);
  void become_ready();
  void start_async_leg();

  // Requests: peek, plan (routing/request_plan.hpp), carry the plan out.
  void handle_request(const protocol::Frame& frame);
  void carry_out(const protocol::Frame& frame, RequestPlan& plan);
  void forward(const protocol::Frame& frame, RequestPlan& plan);
  // The routing snapshot for this request: re-read when a new one was published (one atomic
  // load otherwise). A change of read mode or primary starts, stops or moves the async leg.
  const RoutingSnapshot& routing();
  void on_routing_changed();
  void close_async_leg();
  void answer_options(const protocol::Frame& frame);
  bool reject_unsupported_version(const protocol::Frame& frame);
  void answer_locally(const protocol::Frame& frame, const protocol::ResponseBody& body);
  void answer_error(int16_t stream, protocol::ErrorCode code, std::string message);
  void answer_unprepared(int16_t stream, ByteView id);
  bool dispatch(const protocol::Frame& frame, ForwardTarget target, uint32_t slot_index,
                const Bytes* target_frame);
  // The EXECUTE with target's prepared id, built in target_frame_ (valid until the next call);
  // null when it cannot be built. `origin_id` is the peeked id (a view into frame.body).
  const Bytes* target_execute_frame(const protocol::Frame& frame, ByteView origin_id,
                                    ByteView target_id);
  // `statement` (query text) is kept for the mismatch log when the read is sampled for
  // comparison; continuation pages are not compared.
  // Async secondary writes: the secondary's copy of a plain write (nullopt: it stays
  // synchronous); sets the timestamped body and sends the plan to the primary only.
  std::unique_ptr<journal::WriteRecord> capture_background_write(
      const protocol::Frame& frame, std::optional<Bytes>& rewritten_body, RequestPlan& plan);
  // Async secondary writes: the secondary's connection may close without closing the session
  // (session_secondary_leg.cpp).
  bool keeps_running_without(const UpstreamConnection& connection);
  void lose_secondary_leg(Leg& leg);
  void schedule_leg_restore(ClusterType cluster);
  void restore_leg(Leg& leg);
  void watch_leg_restore(Leg& leg, std::chrono::milliseconds timeout);
  void retry_leg_restore(Leg& leg, const std::string& why);
  void on_restore_frame(Leg& leg, const protocol::Frame& frame);
  void leg_restored(Leg& leg);
  bool leg_ready(const Leg& leg) const;
  void send_async_copy(const protocol::Frame& frame, const Bytes* target_frame, Slot& slot,
                       std::string_view statement, bool continuation_page);
  // READ_COMPARISON_RATE: whether this async read is compared (per-session xorshift, no lock).
  bool sample_comparison(const RoutingSnapshot& routing);
  // The primary's answer of a sampled read, digested as it passes through complete().
  void compare_primary_answer(Slot& slot, ClusterType from, const ResponsePeek& peek);

  // ZDM_REPLACE_CQL_FUNCTIONS (function_rewriter.hpp): the request body with now()/uuid()
  // replaced, rewritten once and sent to both clusters (TARGET's prepared ids patched
  // afterwards). nullopt: nothing to replace. Errors are answered by answer_rewrite_error.
  Result<std::optional<Bytes>> rewrite_query_functions(const protocol::Frame& frame,
                                                       protocol::StatementKind kind);
  Result<std::optional<PrepareBodyRewrite>> rewrite_prepare_functions(const protocol::Frame& frame);
  Result<Bytes> rewrite_execute_functions(const protocol::Frame& frame, const PreparedEntry& entry);
  Result<std::optional<Bytes>> rewrite_batch_functions(const protocol::Frame& frame);
  // Answers a rewritten PREPARE with origin's PREPARED minus the proxy's markers (the client
  // binds only its own); if they cannot be hidden, forgets the statement and answers an error.
  void answer_prepared_for_client(const Slot& slot, ByteView origin_message);
  void answer_rewrite_error(int16_t stream, const Error& error);
  // An EXECUTE with generated values got UNPREPARED from one cluster after the other applied it:
  // the driver re-prepares and sends the same EXECUTE again, which must get the same values, or
  // the cluster that applied it twice (same client timestamp, LWW tie) keeps other values.
  void remember_function_values(const Slot& slot);
  // The reference's request-connection heartbeat: a connection that a read-only workload leaves
  // idle gets an OPTIONS now and then, so clusters that close idle connections (Astra) do not.
  void heartbeat_if_idle(Leg& leg, std::chrono::steady_clock::time_point now);

  // Answers.
  void on_response(UpstreamConnection& connection, const protocol::Frame& frame);
  void on_event(UpstreamConnection& connection, const protocol::Frame& frame);
  void complete(uint32_t index, ClusterType from, const protocol::Frame& frame,
                const ResponsePeek& peek);
  void count_failures(Slot& slot, FailedOn failed_on, ClusterType chosen_from);
  // `*_message`: each PREPARED answer after its envelope.
  void record_prepared(Slot& slot, ByteView origin_message, ByteView target_message);
  // Compression of frames the proxy encodes itself (v3/v4 only; v5 segments compress).
  protocol::Compression compression_for_frames() const {
    return protocol::uses_segments(version_) ? protocol::Compression::None : compression_;
  }
  void send_to_client(ByteView wire, int16_t stream);
  void schedule_client_flush();

  // Slots and deadlines.
  std::optional<uint32_t> take_slot();
  void free_slot(uint32_t index);
  void arm_deadline_timer();
  void on_deadline_timer();
  void expire(uint32_t index);
  // A request that can no longer be answered (its connection closed): ServerError with `why`.
  void abandon(uint32_t index, std::string why);
  // expire/abandon: upstream ids orphaned, gauges and comparisons settled.
  void settle_unanswered(Slot& s);

  // Null when metrics are off, the table is unknown, or the session tracks too many tables.
  TableCounters* table_counters(std::string_view keyspace, bool keyspace_quoted,
                                std::string_view table, bool table_quoted);
  void count_table_failure(TableCounters* table, FailedOn failed_on);

  void fail_session(std::string reason);
  Leg& leg_of(const UpstreamConnection& connection);
  UpstreamConnection* upstream(ClusterType cluster);

  SessionContext& ctx_;
  // The configuration when the connection opened: per-connection settings (timeouts, stream ids,
  // blocked versions, credentials) stay as they were for the connection's life.
  std::shared_ptr<const ProxyConfig> config_holder_;
  const ProxyConfig& config_;
  std::shared_ptr<ClientInfo> info_;
  Phase phase_ = Phase::AwaitStartup;
  protocol::ProtocolVersion version_ = protocol::ProtocolVersion::V4;
  protocol::Compression compression_ = protocol::Compression::None;
  Leg origin_;
  Leg target_;
  Bytes startup_frame_;           // the client's STARTUP, re-sent on failover and to the async leg
  int16_t handshake_stream_ = 0;  // client stream id of the STARTUP / AUTH_RESPONSE in progress
  std::optional<HandshakeRelay> relay_;  // from STARTUP on: who authenticates where
  std::string keyspace_;
  bool registered_schema_events_ = false;
  bool auth_to_target_ = false;  // AUTH_RESPONSE goes to target (chosen at the handshake)
  std::shared_ptr<const RoutingSnapshot> routing_;
  uint64_t routing_generation_ = 0;

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  DeadlineList in_flight_;  // slots waiting for answers, by deadline
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer handshake_timer_;  // a node that accepts but never answers STARTUP
  // Async secondary writes: the wait before opening a lost secondary connection again (the
  // handshake timer serves it once the session is ready), and a USE still to be answered.
  std::chrono::milliseconds restore_backoff_{1000};
  bool restoring_use_ = false;
  bool timer_armed_ = false;
  bool draining_ = false;
  bool upstream_paused_ = false;  // client reads paused until the upstream queues drain
  bool flush_scheduled_ = false;
  bool counted_ = false;

  std::unordered_map<std::string, std::unique_ptr<TableCounters>> tables_;
  std::string table_key_;  // reused lookup key: no allocation per request
  Bytes target_frame_;     // reused EXECUTE-for-target frame: no allocation per request

  std::unique_ptr<AsyncReads> async_;
  ClusterType async_cluster_ = ClusterType::Target;  // where async_ sends its copies
  uint64_t compare_rng_ = 0x9E3779B97F4A7C15ULL;
  Stats stats_;

  // Function replacement: values of the EXECUTE being rewritten (reused buffer), and what to
  // reuse for retried EXECUTEs and BATCHes (remember_function_values): the EXECUTE's values or the
  // BATCH's rewritten body, oldest first, at most kRetryValues.
  struct RetryValues {
    uint64_t body_hash = 0;
    std::vector<Uuid> values;
    Bytes batch_body;
  };
  static constexpr size_t kRetryValues = 16;
  // Hashes the client body (function_body_hash_, for remember_function_values) and takes what the
  // first attempt of the same request left for its retry: an EXECUTE's `values` values, or
  // (values == 0) a BATCH's rewritten body.
  std::optional<RetryValues> take_retry(ByteView client_body, size_t values);
  static constexpr size_t kRetryBatchBodyMax = 64 * 1024;  // larger BATCHes are not remembered
  std::vector<Uuid> function_values_;
  uint64_t function_body_hash_ = 0;
  std::vector<RetryValues> retry_values_;
};

}  // namespace zdm::proxy
