#pragma once
// A CQL connection's framing and I/O, shared by the node server and (later) the proxy: reads bytes
// from a Stream into a FrameDecoder (v3/v4 frames, v5 segments once switched), hands whole frames
// to on_frame(), and queues outgoing frames in one buffer that a single async_write drains, so
// the responses to a batch of pipelined requests leave in one write.
//
// Threading: a connection lives on the io thread of its socket; every member is called on it.
// Work from other threads comes in by post() to executor().
//
// Bounds: frame bodies are limited before they are buffered; when more than
// `write_pause_bytes` wait to be written (a peer that does not read), reading stops until the queue
// drains (backpressure), so memory per connection stays bounded.
//
// Memory of idle connections: a plain TCP connection owns no read buffer. It waits for the socket
// to become readable, then reads into a buffer of its io thread (the decoder copies what it keeps),
// so a thousand idle connections do not each hold `read_buffer_size` bytes. TLS connections read
// through their own buffer (allocated at the first read). Once a connection is idle again (no
// partial frame, nothing queued), decoder and write buffers grown by a large frame shrink back to
// `idle_buffer_bytes`.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "net/stream.hpp"
#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"

namespace zdm::net {

struct FramedConnectionOptions {
  // Cassandra's native_transport_max_frame_size defaults to 16 MiB.
  uint32_t max_frame_body_length = 16u * 1024 * 1024;
  size_t read_buffer_size = 64 * 1024;
  size_t write_pause_bytes = 4 * 1024 * 1024;
  // Buffers above this size are given back when the connection is idle.
  size_t idle_buffer_bytes = 8 * 1024;
};

enum class ConnectionRole : uint8_t { Server, Client };  // which side of the TLS handshake

class FramedConnection : public std::enable_shared_from_this<FramedConnection> {
 public:
  FramedConnection(Stream stream, ConnectionRole role, FramedConnectionOptions options = {});
  virtual ~FramedConnection();
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // TLS handshake if any, then the read loop. Call once, on the connection's thread, on an object
  // owned by a shared_ptr.
  void start();
  // Closes now; queued bytes are dropped. Idempotent.
  void close();
  // Stops reading and closes once everything queued is written.
  void close_after_flush();
  bool is_closed() const { return closed_; }

  Stream::executor_type executor() { return stream_.get_executor(); }

  // Appends a message as one frame to the write queue (through the segment encoder once v5
  // framing is on). Nothing is written until flush(), which the read loop calls after each batch
  // of frames it delivered; code running outside on_frame (timers, posted events) calls flush().
  Result<void> send(const protocol::Message& message);
  // Same for an already encoded frame (header + body), forwarded as is.
  Result<void> send_encoded(ByteView frame);
  // Starts writing what is queued, unless a write is already in flight (its completion writes
  // whatever was queued meanwhile).
  void flush();

  size_t queued_bytes() const { return pending_.size() + writing_.size(); }
  // Resumes reading after should_pause_reading() stopped it, once it returns false and this
  // connection's own queue is below half the pause mark. No-op when reading is not paused.
  void resume_reading();
  // Socket operations so far (for tests and stats: writes <= reads shows coalescing).
  uint64_t read_count() const { return reads_; }
  uint64_t write_count() const { return writes_; }

 protected:
  // One whole frame. Its views live until the next decoder call, and also end when the handler
  // calls decoder().enable_segments(): switch only after the frame has been used.
  virtual void on_frame(const protocol::Frame& frame) = 0;
  // The first bytes of the connection (at least 4: version, flags, stream id) before any frame is
  // decoded, so a server can answer a protocol version the decoder does not know on the right
  // stream. Return false to stop: the handler queues its answer and calls close_after_flush().
  virtual bool on_first_bytes(ByteView prefix);
  // Framing was lost (bad header, oversized frame, bad segment CRC). The handler may queue an
  // error; the connection is then closed after flushing.
  virtual void on_framing_error(const Error& error);
  // Called once when the connection closes (from close()).
  virtual void on_closed();
  // Asked after each batch of delivered frames: true stops reading (backpressure from somewhere
  // else than this connection's write queue, e.g. a proxy's full upstream queue) until
  // resume_reading().
  virtual bool should_pause_reading() { return false; }
  // A write completed (the queue shrank).
  virtual void on_write_done() {}

  // v3/v4 body compression for both directions (after STARTUP negotiated it).
  void enable_compression(protocol::Compression compression);
  // v5 segment framing for both directions (None or Lz4), right after READY or AUTHENTICATE was
  // queued (server) or received (client). Ends the views of the frame being handled.
  Result<void> enable_segments(protocol::Compression compression);
  bool segments_enabled() const { return encoder_.segments_enabled(); }

  Stream& stream() { return stream_; }

 private:
  void read_next();
  void on_readable(const boost::system::error_code& ec);
  void on_read(const boost::system::error_code& ec, const uint8_t* data, size_t n);
  void deliver(ByteView data);
  void trim_if_idle();
  void start_write();
  void on_write(const boost::system::error_code& ec);

  Stream stream_;
  ConnectionRole role_;
  FramedConnectionOptions options_;
  protocol::FrameDecoder decoder_;
  protocol::FrameEncoder encoder_;
  std::unique_ptr<uint8_t[]> tls_read_buffer_;  // TLS only; plain TCP reads a per-thread buffer
  Bytes prefix_;                                // first bytes, until on_first_bytes() has seen them
  Bytes pending_;                               // queued, not yet handed to the socket
  Bytes writing_;                               // owned by the write in flight
  Bytes scratch_;                               // message body before segment/compression encoding
  protocol::Compression compression_ = protocol::Compression::None;
  uint64_t reads_ = 0;
  uint64_t writes_ = 0;
  bool prefix_done_ = false;
  bool reading_ = false;
  bool read_paused_ = false;
  bool writing_active_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace zdm::net
