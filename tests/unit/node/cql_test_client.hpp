#pragma once
// A blocking CQL client for server tests: encodes requests with the protocol library, decodes
// responses, follows the v5 switch to segments. Every read is bounded by a socket timeout, so a
// server that never answers fails the test instead of hanging it.

#include <sys/socket.h>
#include <sys/time.h>

#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"
#include "protocol/segment.hpp"

namespace zdm::testing {

class CqlTestClient {
 public:
  explicit CqlTestClient(uint16_t port, int timeout_seconds = 10) : socket_(io_) {
    socket_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    timeval tv{timeout_seconds, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  void send_raw(ByteView bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()));
  }

  void send(const protocol::Message& message) {
    Bytes body = protocol::encode_message(message);
    protocol::FrameHeader h;
    h.version = message.version;
    h.direction = protocol::Direction::Request;
    h.flags = protocol::envelope_flags(message);
    h.stream = message.stream;
    h.opcode = message.opcode();
    Bytes out;
    if (!encoder_.encode(h, body, out) || !encoder_.flush(out)) throw std::runtime_error("encode");
    send_raw(out);
  }

  void send(protocol::ProtocolVersion v, int16_t stream, protocol::RequestBody body) {
    send(protocol::make_request(v, protocol::StreamId{stream}, std::move(body)));
  }

  // The next response; nullopt on EOF, timeout or undecodable bytes.
  std::optional<protocol::Message> receive() {
    for (int i = 0; i < 100000; ++i) {
      auto frame = decoder_.next();
      if (!frame) {
        error_ = frame.error().to_string();
        return std::nullopt;
      }
      if (*frame) {
        auto m = protocol::decode_message((*frame)->header, (*frame)->body);
        if (!m) {
          error_ = m.error().to_string();
          return std::nullopt;
        }
        last_header_ = (*frame)->header;
        return *m;
      }
      uint8_t buf[16384];
      boost::system::error_code ec;
      size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) {
        error_ = ec.message();
        return std::nullopt;
      }
      decoder_.feed(ByteView(buf, n));
    }
    return std::nullopt;
  }

  // Raw bytes until the peer closes (for frames the decoder does not know, e.g. v1 headers).
  Bytes read_until_close() {
    Bytes out;
    uint8_t buf[4096];
    for (int i = 0; i < 10000; ++i) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) break;
      out.insert(out.end(), buf, buf + n);
    }
    return out;
  }

  std::optional<protocol::Message> request(protocol::ProtocolVersion v, int16_t stream,
                                           protocol::RequestBody body) {
    send(v, stream, std::move(body));
    return receive();
  }

  void enable_compression(protocol::Compression c) {
    encoder_.set_compression(c);
    decoder_.set_compression(c);
  }
  bool enable_segments(protocol::Compression c) {
    return decoder_.enable_segments(c).has_value() && encoder_.enable_segments(c).has_value();
  }

  // True when the server closed the connection (reads EOF/reset before the timeout).
  bool closed_by_peer() {
    uint8_t buf[256];
    for (int i = 0; i < 1000; ++i) {
      boost::system::error_code ec;
      socket_.read_some(boost::asio::buffer(buf), ec);
      if (ec) {
        return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
      }
    }
    return false;
  }

  const protocol::FrameHeader& last_header() const { return last_header_; }
  const std::string& error() const { return error_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  protocol::FrameDecoder decoder_;
  protocol::FrameEncoder encoder_;
  protocol::FrameHeader last_header_;
  std::string error_;
};

inline const protocol::ResponseBody& response_of(const protocol::Message& m) {
  return std::get<protocol::ResponseBody>(m.body);
}
inline const protocol::ErrorMessage* error_of(const protocol::Message& m) {
  return std::get_if<protocol::ErrorMessage>(&response_of(m));
}

}  // namespace zdm::testing
