#include "net/framed_connection.hpp"

#include <boost/asio/buffer.hpp>
#include <spdlog/spdlog.h>

namespace zdm::net {

namespace asio = boost::asio;

namespace {
constexpr size_t kPrefixBytes = 4;
// Buffers grown by a burst are given back once idle, so an idle connection stays small.
constexpr size_t kRetainedWriteBuffer = 1024 * 1024;

// The read buffer of plain TCP connections, one per io thread: a read fills it and hands the
// bytes to the decoder within the same handler, so no connection needs its own.
uint8_t* thread_read_buffer(size_t size) {
  thread_local std::unique_ptr<uint8_t[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < size) {
    buffer.reset(new uint8_t[size]);
    capacity = size;
  }
  return buffer.get();
}
}  // namespace

FramedConnection::FramedConnection(Stream stream, ConnectionRole role,
                                   FramedConnectionOptions options)
    : stream_(std::move(stream)),
      role_(role),
      options_(options),
      decoder_(options.max_frame_body_length) {
  if (options_.read_buffer_size == 0) options_.read_buffer_size = 1;
}

FramedConnection::~FramedConnection() = default;

bool FramedConnection::on_first_bytes(ByteView) { return true; }
void FramedConnection::on_framing_error(const Error&) {}
void FramedConnection::on_closed() {}

void FramedConnection::start() {
  if (stream_.is_tls()) {
    const auto role = role_ == ConnectionRole::Server ? asio::ssl::stream_base::server
                                                      : asio::ssl::stream_base::client;
    stream_.async_handshake(role, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        spdlog::debug("TLS handshake failed: {}", ec.message());
        self->close();
        return;
      }
      self->read_next();
    });
    return;
  }
  read_next();
}

void FramedConnection::close() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  stream_.close();
  on_closed();
}

void FramedConnection::close_after_flush() {
  if (closed_) return;
  closing_ = true;
  flush();
  if (!writing_active_) close();
}

void FramedConnection::read_next() {
  if (closing_ || reading_) return;
  reading_ = true;
  if (stream_.is_tls()) {
    if (!tls_read_buffer_) tls_read_buffer_.reset(new uint8_t[options_.read_buffer_size]);
    stream_.async_read_some(
        asio::buffer(tls_read_buffer_.get(), options_.read_buffer_size),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          self->on_read(ec, self->tls_read_buffer_.get(), n);
        });
    return;
  }
  stream_.socket().async_wait(
      Stream::Tcp::wait_read,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_readable(ec); });
}

void FramedConnection::on_readable(const boost::system::error_code& ec) {
  if (ec || closed_) {
    reading_ = false;
    if (!closed_) on_read(ec, nullptr, 0);
    return;
  }
  auto& socket = stream_.socket();
  boost::system::error_code rec;
  if (!socket.non_blocking()) socket.non_blocking(true, rec);
  uint8_t* buffer = thread_read_buffer(options_.read_buffer_size);
  const size_t n = rec ? 0 : socket.read_some(asio::buffer(buffer, options_.read_buffer_size), rec);
  if (rec == asio::error::would_block || rec == asio::error::try_again) {
    reading_ = false;  // readable went away (another wakeup consumed it): wait again
    read_next();
    return;
  }
  on_read(rec, buffer, n);
}

void FramedConnection::on_read(const boost::system::error_code& ec, const uint8_t* data, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    if (ec != asio::error::eof && ec != asio::error::operation_aborted &&
        ec != asio::error::connection_reset) {
      spdlog::debug("connection read failed: {}", ec.message());
    }
    close();
    return;
  }
  ++reads_;
  deliver(ByteView(data, n));
  if (closed_) return;
  flush();
  if (closing_) return;
  // A read that did not fill the buffer ends a burst: a good moment to give memory back (a
  // connection streaming full reads keeps its buffers).
  if (n < options_.read_buffer_size) trim_if_idle();
  if (queued_bytes() > options_.write_pause_bytes || should_pause_reading()) {
    read_paused_ = true;  // resumed by on_write / resume_reading once the queues drained
    return;
  }
  read_next();
}

void FramedConnection::resume_reading() {
  if (!read_paused_ || closing_ || queued_bytes() > options_.write_pause_bytes / 2 ||
      should_pause_reading()) {
    return;
  }
  read_paused_ = false;
  read_next();
}

void FramedConnection::trim_if_idle() {
  // No views are alive here: the frames of this read have been handled.
  decoder_.trim(options_.idle_buffer_bytes);
  if (scratch_.capacity() > options_.idle_buffer_bytes) Bytes().swap(scratch_);
  if (pending_.empty() && pending_.capacity() > options_.idle_buffer_bytes) Bytes().swap(pending_);
  if (!writing_active_ && writing_.capacity() > options_.idle_buffer_bytes) Bytes().swap(writing_);
}

void FramedConnection::deliver(ByteView data) {
  if (!prefix_done_) {
    prefix_.insert(prefix_.end(), data.begin(), data.end());
    if (prefix_.size() < kPrefixBytes) return;
    prefix_done_ = true;
    if (!on_first_bytes(prefix_)) return;
    decoder_.feed(prefix_);
    Bytes().swap(prefix_);
  } else {
    decoder_.feed(data);
  }
  while (!closing_) {
    auto frame = decoder_.next();
    if (!frame) {
      on_framing_error(frame.error());
      close_after_flush();
      return;
    }
    if (!*frame) return;
    on_frame(**frame);
  }
}

void FramedConnection::enable_compression(protocol::Compression compression) {
  compression_ = compression;
  decoder_.set_compression(compression);
  encoder_.set_compression(compression);
}

Result<void> FramedConnection::enable_segments(protocol::Compression compression) {
  if (auto ok = decoder_.enable_segments(compression); !ok) return ok;
  return encoder_.enable_segments(compression);
}

Result<void> FramedConnection::send(const protocol::Message& message) {
  if (closed_) return {};
  protocol::FrameHeader header;
  header.version = message.version;
  header.direction = message.direction();
  header.flags = protocol::envelope_flags(message);
  header.stream = message.stream;
  header.opcode = message.opcode();
  if (!encoder_.segments_enabled() && compression_ == protocol::Compression::None) {
    // Hot path: the body is encoded straight into the write queue behind a reserved header.
    const size_t at = pending_.size();
    pending_.resize(at + protocol::kFrameHeaderSize);
    protocol::encode_message_to(message, pending_);
    const size_t body = pending_.size() - at - protocol::kFrameHeaderSize;
    if (body > protocol::kMaxFrameBodyLength) {
      pending_.resize(at);
      return fail(Errc::TooLarge, "response frame exceeds the 256 MB protocol limit");
    }
    header.body_length = static_cast<uint32_t>(body);
    protocol::encode_frame_header(header, pending_.data() + at);
    return {};
  }
  scratch_.clear();
  protocol::encode_message_to(message, scratch_);
  auto ok = encoder_.encode(header, scratch_, pending_);
  if (scratch_.capacity() > kRetainedWriteBuffer) Bytes().swap(scratch_);
  return ok;
}

Result<void> FramedConnection::send_encoded(ByteView frame) {
  if (closed_) return {};
  return encoder_.write_encoded(frame, pending_);
}

void FramedConnection::flush() {
  if (closed_) return;
  if (auto ok = encoder_.flush(pending_); !ok) {
    spdlog::warn("cannot encode outgoing segment: {}", ok.error().to_string());
    close();
    return;
  }
  if (!writing_active_ && !pending_.empty()) start_write();
}

void FramedConnection::start_write() {
  writing_.swap(pending_);
  pending_.clear();
  writing_active_ = true;
  ++writes_;
  stream_.async_write(asio::buffer(writing_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->on_write(ec);
                      });
}

void FramedConnection::on_write(const boost::system::error_code& ec) {
  writing_active_ = false;
  if (closed_) return;
  if (ec) {
    spdlog::debug("connection write failed: {}", ec.message());
    close();
    return;
  }
  writing_.clear();
  if (writing_.capacity() > kRetainedWriteBuffer) Bytes().swap(writing_);
  if (!pending_.empty()) {
    start_write();
  } else if (closing_) {
    close();
    return;
  }
  on_write_done();
  if (closed_) return;
  resume_reading();
}

}  // namespace zdm::net
