#pragma once
// Async dual reads (ZDM_READ_MODE=DUAL_ASYNC_ON_SECONDARY): a third upstream connection per client
// session, to the secondary cluster. Eligible requests are copied to it fire-and-forget: the
// client's answer never waits for it. What is bounded: requests in flight on the connection
// (ASYNC_CONNECTOR_WRITE_QUEUE_SIZE_FRAMES, and the connection's stream ids); beyond that, and
// while the connection is still connecting or handshaking, copies are dropped and counted.
// Answers feed the async node metrics (latency, errors) and are then discarded, except for
// sampled reads, whose answer is digested and compared with the primary's (ReadComparisons).
//
// Every copy has a deadline (PROXY_REQUEST_TIMEOUT_MS): past it the request counts as a
// client_timeout failure of the async node, its slot is freed and its stream id orphaned (the
// late answer is dropped). An UNPREPARED from the secondary makes the connection re-prepare the
// statement (its text is in the prepared cache), once per id at a time, so later copies of the
// EXECUTE work; the failed copy itself is not retried.
//
// Threading: on the owning session's io thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "protocol/compression.hpp"
#include "protocol/version.hpp"
#include "proxy/routing/prepared_cache.hpp"
#include "proxy/session/deadline_list.hpp"
#include "proxy/session/read_comparison.hpp"
#include "proxy/session/upstream_connection.hpp"

namespace zdm::proxy {

struct AsyncReadsOptions {
  int max_in_flight = 2048;
  int max_stream_ids = 2048;
  protocol::ProtocolVersion version = protocol::ProtocolVersion::V4;
  protocol::Compression compression = protocol::Compression::None;
  Bytes startup_frame;   // the client's STARTUP frame, replayed
  Bytes credentials;     // PLAIN token for the secondary cluster (empty: no auth expected)
  std::string keyspace;  // USE'd once the handshake is done (the client may have switched)
  std::chrono::milliseconds timeout{10000};  // per request (PROXY_REQUEST_TIMEOUT_MS)
  // UNPREPARED from the secondary: where the statement text is found (null: no re-prepare), and
  // whether the ids sent to the secondary are target ids (secondary = TARGET) or origin ids.
  const PreparedCache* prepared = nullptr;
  bool secondary_is_target = true;
  metrics::Counter* reprepares = nullptr;  // zdm_async_reprepares_total (may be null)
};

class AsyncReads final : private UpstreamHandler {
 public:
  explicit AsyncReads(AsyncReadsOptions options);
  ~AsyncReads() override;
  AsyncReads(const AsyncReads&) = delete;
  AsyncReads& operator=(const AsyncReads&) = delete;

  // Takes the connected stream and runs the handshake.
  void start(std::shared_ptr<UpstreamConnection> connection);
  void close();

  bool ready() const { return state_ == State::Ready; }
  // Copies a request (header + body as received) to the secondary. Never blocks; false when
  // dropped. `wire` is patched in place (see UpstreamConnection::forward).
  // `comparison`: a sampled read's ticket (invalid: not compared); on false the caller still
  // owns it.
  bool send(ByteView wire, bool is_read, ReadComparisons::Ticket comparison = {});
  // The client switched keyspace (USE answered): follow it.
  void set_keyspace(std::string keyspace);

  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t answered() const { return answered_; }
  uint64_t timeouts() const { return timeouts_; }
  uint64_t reprepares() const { return reprepares_; }
  ReadComparisons& comparisons() { return comparisons_; }

 private:
  enum class State : uint8_t { Idle, StartupSent, Authenticating, Ready, Failed };
  static constexpr uint32_t kHandshake = 0xFFFF0000u;
  static constexpr uint32_t kInternal = 0xFFFF0001u;
  static constexpr uint32_t kReprepare = 0xFFFF0002u;
  using Clock = std::chrono::steady_clock;

  void on_upstream_frame(UpstreamConnection& connection, const protocol::Frame& frame) override;
  void on_upstream_closed(UpstreamConnection& connection) override;
  void on_handshake(const protocol::Frame& frame);
  void send_internal_query(const std::string& cql);
  void arm_timer();
  void on_timer();
  void expire(int16_t id);
  void reprepare(ByteView sent_id);

  AsyncReadsOptions options_;
  std::shared_ptr<UpstreamConnection> conn_;
  State state_ = State::Idle;
  int in_flight_ = 0;
  int auth_rounds_ = 0;
  std::vector<std::chrono::steady_clock::time_point> started_;  // by stream id
  std::vector<uint8_t> is_read_;                                // by stream id
  std::vector<ReadComparisons::Ticket> ticket_;                 // by stream id
  DeadlineList deadlines_;                                      // in-flight stream ids
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool timer_armed_ = false;
  // Cleared on destruction: the timer's handler may run after this object is gone.
  std::shared_ptr<AsyncReads*> alive_;
  std::vector<std::pair<int16_t, Bytes>> repreparing_;  // re-PREPAREs in flight: stream, id
  ReadComparisons comparisons_;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
  uint64_t answered_ = 0;
  uint64_t timeouts_ = 0;
  uint64_t reprepares_ = 0;
};

}  // namespace zdm::proxy
