// FramedConnection over a real loopback socket: pipelined frames in any chunking, coalesced
// writes, v5 segment switch, and clean closes on lost framing.
#include "net/framed_connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"
#include "protocol/segment.hpp"

namespace zdm::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using protocol::Message;
using protocol::ProtocolVersion;
using protocol::StreamId;

// Answers OPTIONS with SUPPORTED and STARTUP with READY (switching v5 to segments); anything
// else gets an ERROR. Framing errors are answered with a PROTOCOL_ERROR on stream 0.
class TestConnection final : public FramedConnection {
 public:
  using FramedConnection::FramedConnection;
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<int> framing_errors{0};

 protected:
  void on_frame(const protocol::Frame& frame) override {
    auto message = protocol::decode_message(frame.header, frame.body);
    ASSERT_TRUE(message.has_value()) << message.error().to_string();
    const auto& body = std::get<protocol::RequestBody>(message->body);
    if (std::holds_alternative<protocol::OptionsMessage>(body)) {
      protocol::SupportedMessage supported;
      supported.options = {{"CQL_VERSION", {"3.4.5"}}};
      (void)send(protocol::make_response(message->version, message->stream, supported));
    } else if (std::holds_alternative<protocol::StartupMessage>(body)) {
      (void)send(
          protocol::make_response(message->version, message->stream, protocol::ReadyMessage{}));
      if (protocol::uses_segments(message->version)) {
        ASSERT_TRUE(enable_segments(protocol::Compression::None).has_value());
      }
    } else {
      (void)send(protocol::make_response(
          message->version, message->stream,
          protocol::ErrorMessage{protocol::ErrorCode::Invalid, "unexpected", {}}));
    }
    reads = read_count();
    writes = write_count();
  }
  void on_framing_error(const Error& error) override {
    ++framing_errors;
    (void)send(protocol::make_response(
        ProtocolVersion::V4, StreamId{0},
        protocol::ErrorMessage{protocol::ErrorCode::ProtocolError, error.message, {}}));
  }
};

class FramedConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client_.connect(acceptor.local_endpoint());
    // A bounded wait: a broken server fails the test instead of hanging it.
    timeval tv{10, 0};
    setsockopt(client_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    tcp::socket server_socket = acceptor.accept();
    FramedConnectionOptions options;
    options.max_frame_body_length = 1024;
    server_ = std::make_shared<TestConnection>(Stream(std::move(server_socket)),
                                               ConnectionRole::Server, options);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    asio::post(io_, [s = server_] { s->close(); });
    work_.reset();  // run() returns once the closed connection's handlers are done
    thread_.join();
  }

  void write(ByteView bytes) { asio::write(client_, asio::buffer(bytes.data(), bytes.size())); }

  // Reads until one whole frame is decoded; nullopt on EOF or timeout.
  std::optional<Message> read_message() {
    for (int i = 0; i < 10000; ++i) {
      auto frame = decoder_.next();
      if (!frame) return std::nullopt;
      if (*frame) {
        auto m = protocol::decode_message((*frame)->header, (*frame)->body);
        if (!m) return std::nullopt;
        return *m;
      }
      uint8_t buf[4096];
      boost::system::error_code ec;
      size_t n = client_.read_some(asio::buffer(buf), ec);
      if (ec) return std::nullopt;
      decoder_.feed(ByteView(buf, n));
    }
    return std::nullopt;
  }

  bool at_eof() {
    uint8_t buf[64];
    boost::system::error_code ec;
    for (int i = 0; i < 100; ++i) {
      client_.read_some(asio::buffer(buf), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
    return false;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{asio::make_work_guard(io_)};
  tcp::socket client_{io_};
  std::shared_ptr<TestConnection> server_;
  std::thread thread_;
  protocol::FrameDecoder decoder_;
};

Bytes options_frames(int count, ProtocolVersion version = ProtocolVersion::V4) {
  Bytes out;
  for (int i = 0; i < count; ++i) {
    auto frame = protocol::encode_frame(protocol::make_request(
        version, StreamId{static_cast<int16_t>(i)}, protocol::OptionsMessage{}));
    out.insert(out.end(), frame.begin(), frame.end());
  }
  return out;
}

TEST_F(FramedConnectionTest, AnswersPipelinedFramesSplitAcrossWritesInOrder) {
  Bytes frames = options_frames(100);
  // Odd chunking: a lone first byte, then the rest in 7-byte pieces.
  write(ByteView(frames).first(1));
  for (size_t at = 1; at < frames.size(); at += 7) {
    write(ByteView(frames).subspan(at, std::min<size_t>(7, frames.size() - at)));
  }
  for (int i = 0; i < 100; ++i) {
    auto m = read_message();
    ASSERT_TRUE(m.has_value()) << "response " << i;
    EXPECT_EQ(m->stream.value, i);
    EXPECT_EQ(m->opcode(), protocol::Opcode::Supported);
  }
}

TEST_F(FramedConnectionTest, CoalescesResponsesOfOneReadIntoOneWrite) {
  Bytes frames = options_frames(50);
  write(frames);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(read_message().has_value());
  // Each read batch leads to at most one write; 50 separate writes would mean no coalescing.
  EXPECT_LE(server_->writes.load(), server_->reads.load());
  EXPECT_LT(server_->writes.load(), 50u);
}

TEST_F(FramedConnectionTest, SwitchesToSegmentsAfterReadyInV5) {
  auto startup = protocol::encode_frame(protocol::make_request(
      ProtocolVersion::V5, StreamId{1}, protocol::StartupMessage{{{"CQL_VERSION", "3.0.0"}}}));
  write(startup);
  auto ready = read_message();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->opcode(), protocol::Opcode::Ready);
  ASSERT_TRUE(decoder_.enable_segments(protocol::Compression::None).has_value());
  auto encoder = protocol::SegmentEncoder::create(protocol::Compression::None);
  ASSERT_TRUE(encoder.has_value());
  Bytes segments;
  Bytes frames = options_frames(3, ProtocolVersion::V5);
  ASSERT_TRUE(encoder->encode_message(frames, segments).has_value());
  write(segments);
  for (int i = 0; i < 3; ++i) {
    auto m = read_message();
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->opcode(), protocol::Opcode::Supported);
    EXPECT_EQ(m->stream.value, i);
  }
}

TEST_F(FramedConnectionTest, AnswersProtocolErrorAndClosesOnUnknownOpcode) {
  Bytes bad = {0x04, 0x00, 0x00, 0x07, 0x77, 0x00, 0x00, 0x00, 0x00};
  write(bad);
  auto m = read_message();
  ASSERT_TRUE(m.has_value());
  const auto& error = std::get<protocol::ErrorMessage>(std::get<protocol::ResponseBody>(m->body));
  EXPECT_EQ(error.code, protocol::ErrorCode::ProtocolError);
  EXPECT_TRUE(at_eof());
  EXPECT_EQ(server_->framing_errors.load(), 1);
}

TEST_F(FramedConnectionTest, RejectsOversizedFrameBeforeReadingItsBody) {
  // Announces 1 MiB against the 1 KiB bound; the body never comes.
  Bytes big = {0x04, 0x00, 0x00, 0x01, 0x07, 0x00, 0x10, 0x00, 0x00};
  write(big);
  auto m = read_message();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::get<protocol::ErrorMessage>(std::get<protocol::ResponseBody>(m->body)).code,
            protocol::ErrorCode::ProtocolError);
  EXPECT_TRUE(at_eof());
}

// Answers OPTIONS; stops reading while `pause` is set (backpressure from elsewhere, as a proxy
// session whose upstream queue is full).
class PausingConnection final : public FramedConnection {
 public:
  using FramedConnection::FramedConnection;
  std::atomic<bool> pause{false};
  std::atomic<int> frames{0};

 protected:
  void on_frame(const protocol::Frame& frame) override {
    ++frames;
    (void)send(protocol::make_response(frame.header.version, frame.header.stream,
                                       protocol::SupportedMessage{}));
  }
  bool should_pause_reading() override { return pause.load(); }
};

TEST(FramedConnectionBackpressure, StopsReadingWhileAskedAndResumesOnRequest) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  timeval tv{10, 0};
  setsockopt(client.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto server =
      std::make_shared<PausingConnection>(Stream(acceptor.accept()), ConnectionRole::Server);
  server->pause = true;
  server->start();
  std::thread thread([&] { io.run(); });

  protocol::FrameDecoder decoder;
  auto read_one = [&]() -> bool {
    for (int i = 0; i < 100; ++i) {
      auto frame = decoder.next();
      if (!frame) return false;
      if (*frame) return true;
      uint8_t buf[4096];
      boost::system::error_code ec;
      size_t n = client.read_some(asio::buffer(buf), ec);
      if (ec) return false;
      decoder.feed(ByteView(buf, n));
    }
    return false;
  };
  Bytes first = options_frames(1);
  asio::write(client, asio::buffer(first));
  EXPECT_TRUE(read_one());  // delivered by the read that then paused
  Bytes second = options_frames(1);
  asio::write(client, asio::buffer(second));
  // Not read while paused: no answer within 300 ms (an answer would fail the test).
  pollfd pfd{client.native_handle(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 300), 0);
  EXPECT_EQ(server->frames.load(), 1);

  asio::post(io, [server] {
    server->pause = false;
    server->resume_reading();
  });
  EXPECT_TRUE(read_one());
  EXPECT_EQ(server->frames.load(), 2);

  asio::post(io, [server] { server->close(); });
  work.reset();
  thread.join();
}

}  // namespace
}  // namespace zdm::net
