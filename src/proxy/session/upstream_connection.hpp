#pragma once
// One connection from a client session to a cluster node (origin, target, or the async dual-read
// connection). Framing and coalesced writes come from net::FramedConnection; this adds the stream
// id map of the connection, its node metrics, and hands every response to the owning session.
//
// Threading: created, used and closed on the session's io thread; no locks.
// Lifetime: the session owns it (shared_ptr) and detaches itself before it goes away, so a
// response arriving after the session closed is dropped instead of reaching freed memory.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/result.hpp"
#include "net/framed_connection.hpp"
#include "net/stream.hpp"
#include "proxy/cluster/cluster_tls.hpp"
#include "proxy/cluster/node_stream.hpp"
#include "proxy/proxy_metrics.hpp"
#include "proxy/session/stream_id_map.hpp"

namespace zdm::proxy {

enum class UpstreamRole : uint8_t { Origin, Target, Async };
std::string_view upstream_role_name(UpstreamRole role);  // "origin"

class UpstreamConnection;

// Implemented by the client session.
class UpstreamHandler {
 public:
  virtual ~UpstreamHandler() = default;
  // A whole response or event frame (views valid during the call only).
  virtual void on_upstream_frame(UpstreamConnection& connection, const protocol::Frame& frame) = 0;
  virtual void on_upstream_closed(UpstreamConnection& connection) = 0;
  // A write to the node completed (its queue shrank): a session that stopped reading its client
  // because this queue was full may resume.
  virtual void on_upstream_written(UpstreamConnection& connection) { (void)connection; }
};

class UpstreamConnection final : public net::FramedConnection {
 public:
  // `node` labels the node metrics ("ip:port"); `metrics` may be null (tests).
  UpstreamConnection(net::Stream stream, UpstreamRole role, std::string node, int max_stream_ids,
                     const NodeMetrics* metrics, net::FramedConnectionOptions options = {});
  ~UpstreamConnection() override;

  // Starts reading, delivering to `handler` until detach().
  void attach(UpstreamHandler* handler);
  // Forgets the handler and closes the socket.
  void detach();

  UpstreamRole role() const { return role_; }
  const std::string& node() const { return node_; }
  StreamIdMap& ids() { return ids_; }
  const NodeMetrics* metrics() const { return metrics_; }

  // Queues an encoded request frame (header + body as received from the client) under upstream
  // stream id `stream`. The frame's stream id bytes are overwritten in place: `wire` must be a
  // frame view of a decoder that owns its buffer (FramedConnection's), and is not read again.
  Result<void> forward(ByteView wire, int16_t stream);
  // Flushes once the current event-loop turn is over, so every frame queued in this turn leaves
  // in one write.
  void schedule_flush();
  // Tracks used stream ids in the gauge (call after acquire/release batches).
  void publish_stream_ids();

  using FramedConnection::enable_compression;
  using FramedConnection::enable_segments;
  using FramedConnection::segments_enabled;

 private:
  void on_frame(const protocol::Frame& frame) override;
  void on_closed() override;
  void on_write_done() override;

  UpstreamRole role_;
  std::string node_;
  StreamIdMap ids_;
  const NodeMetrics* metrics_;
  UpstreamHandler* handler_ = nullptr;
  int published_ids_ = 0;
  bool flush_scheduled_ = false;
  bool counted_ = false;
};

}  // namespace zdm::proxy

namespace zdm::proxy {

// SASL PLAIN initial response: "\0user\0password" (PasswordAuthenticator, DseAuthenticator).
Bytes plain_sasl_token(std::string_view username, std::string_view password);

// An AUTH_RESPONSE request frame (uncompressed; v5 framing is the connection's business).
Bytes auth_response_frame(protocol::ProtocolVersion version, int16_t stream, ByteView token);

}  // namespace zdm::proxy
