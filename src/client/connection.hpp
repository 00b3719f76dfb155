#pragma once
// One CQL connection: TCP or TLS, STARTUP with version negotiation and compression, SASL PLAIN,
// then pipelined requests over up to 32768 stream ids.
//
// Threading: a Connection lives on the executor it was created on and must only be used from
// it (one thread, no locks). Callbacks run on that executor.
//
// Per-request path: send() encodes straight into the connection's write buffer; requests issued
// in the same turn of the event loop go out in one write (coalescing). Responses are decoded in
// the read handler and their callbacks run inline there. A request that times out gets a Timeout
// callback, but its stream id stays taken until the late response arrives (or the connection
// closes), so the id is never reused while the server may still answer it. Idle connections send
// OPTIONS as a heartbeat and close when it goes unanswered.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client/client_error.hpp"
#include "client/connection_options.hpp"
#include "client/stream_id_pool.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"

namespace zdm::client {

using ResponseCallback = std::function<void(ClientResult<protocol::Message>)>;
using EventCallback = std::function<void(const protocol::EventMessage&)>;
using CloseCallback = std::function<void(const ClientError&)>;

struct ConnectionStats {
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t timeouts = 0;
  uint64_t late_responses = 0;     // arrived after their request timed out
  uint64_t unknown_responses = 0;  // stream id not in flight: ignored
  uint64_t writes = 0;             // socket writes (requests / writes = coalescing factor)
  uint64_t heartbeats = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;
  using Executor = boost::asio::any_io_executor;

  // Connects, negotiates and authenticates; the connection is ready for requests when this
  // succeeds. `tls_context` is required when options.tls.enabled (see make_tls_context). Runs
  // on, and binds the connection to, the calling coroutine's executor.
  static boost::asio::awaitable<ClientResult<std::shared_ptr<Connection>>> connect(
      Endpoint endpoint, ConnectionOptions options,
      std::shared_ptr<boost::asio::ssl::context> tls_context = nullptr,
      EventCallback on_event = nullptr);

  Connection(Executor executor, Endpoint endpoint, ConnectionOptions options,
             std::shared_ptr<boost::asio::ssl::context> tls_context);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends a request. `done` runs exactly once, never inline in send(): with the response (an
  // ERROR response is a successful Message too), or with Timeout / ConnectionClosed / Busy.
  // timeout 0 means options.request_timeout.
  void send(protocol::RequestBody body, ResponseCallback done,
            std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // send() for coroutines and other completion tokens; signature void(ClientResult<Message>).
  template <class CompletionToken>
  auto async_request(protocol::RequestBody body, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(ClientResult<protocol::Message>)>(
        [this](auto handler, protocol::RequestBody b) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          send(std::move(b),
               [shared](ClientResult<protocol::Message> r) mutable { (*shared)(std::move(r)); });
        },
        token, std::move(body));
  }

  // Closes the socket; pending requests fail with ConnectionClosed. Idempotent.
  void close(std::string reason = "closed by the client");
  bool is_open() const { return !closed_; }

  void set_close_callback(CloseCallback cb) { on_close_ = std::move(cb); }
  void set_event_callback(EventCallback cb) { on_event_ = std::move(cb); }

  const Endpoint& endpoint() const { return endpoint_; }
  // The TLS alert the node closed the connection with (e.g. 116: certificate required), if any.
  std::optional<uint8_t> tls_alert() const { return tls_alert_; }
  protocol::ProtocolVersion version() const { return version_; }
  protocol::Compression compression() const { return compression_; }
  const std::string& keyspace() const { return keyspace_; }
  // Records the keyspace a USE on this connection switched to (the session keeps them in step).
  void set_keyspace(std::string keyspace) { keyspace_ = std::move(keyspace); }
  // Requests sent and not yet answered, including timed-out ones still holding their id.
  int in_flight() const { return ids_.in_flight(); }
  size_t queued() const { return waiting_.size(); }
  const ConnectionStats& stats() const { return stats_; }
  Executor executor() const { return executor_; }

 private:
  struct Slot {
    ResponseCallback done;
    Clock::time_point deadline{};
    int32_t prev = -1;  // deadline-ordered intrusive list of requests awaiting an answer
    int32_t next = -1;
    bool linked = false;
    bool timed_out = false;
  };
  struct Waiting {
    protocol::RequestBody body;
    ResponseCallback done;
    std::chrono::milliseconds timeout;
  };

  boost::asio::awaitable<ClientResult<void>> open(boost::asio::ip::tcp::resolver::results_type);
  boost::asio::awaitable<ClientResult<void>> startup(protocol::ProtocolVersion version);
  boost::asio::awaitable<ClientResult<void>> authenticate(std::string authenticator);
  boost::asio::awaitable<ClientResult<protocol::Message>> setup_roundtrip(
      protocol::RequestBody body);
  // Adds what a connection closed during setup most likely means (TLS expected, or a client
  // certificate refused) to `error`.
  void explain_closed_setup(ClientError& error) const;
  // The setup deadline (connect_timeout) fired: what the connection was waiting for.
  ClientResult<std::shared_ptr<Connection>> setup_timeout();
  void start();

  void write_request(int16_t id, protocol::RequestBody&& body, ResponseCallback&& done,
                     std::chrono::milliseconds timeout);
  void schedule_write();
  void start_write();
  void do_read();
  void on_read(const boost::system::error_code& ec, size_t n);
  void dispatch(const protocol::Frame& frame);
  void arm_tick();
  void on_tick();
  void link(int16_t id);
  void unlink(int16_t id);
  void fail_all(const ClientError& error);
  void post_error(ResponseCallback done, ClientError error);

  Executor executor_;
  Endpoint endpoint_;
  ConnectionOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  boost::asio::steady_timer timer_;

  protocol::ProtocolVersion version_ = protocol::ProtocolVersion::V4;
  protocol::Compression compression_ = protocol::Compression::None;
  protocol::FrameDecoder decoder_;
  protocol::FrameEncoder encoder_;
  bool version_rejected_ = false;     // set by startup() when the server refused the version
  std::optional<uint8_t> tls_alert_;  // the TLS alert that closed the connection, if one did
  bool tls_done_ = false;             // the TLS handshake completed
  std::optional<protocol::ProtocolVersion> server_version_;
  std::string keyspace_;

  StreamIdPool ids_;
  std::vector<Slot> slots_;
  int32_t head_ = -1;  // earliest deadline
  int32_t tail_ = -1;
  int orphans_ = 0;  // timed out, id still taken
  std::deque<Waiting> waiting_;

  Bytes body_scratch_;
  Bytes write_buf_;    // frames waiting for the next write
  Bytes writing_buf_;  // the write in progress
  bool writing_ = false;
  bool write_scheduled_ = false;
  std::vector<uint8_t> read_buf_;

  bool closed_ = false;
  bool heartbeat_pending_ = false;
  Clock::time_point last_activity_{};
  std::chrono::milliseconds tick_{100};
  CloseCallback on_close_;
  EventCallback on_event_;
  ConnectionStats stats_;
};

}  // namespace zdm::client
