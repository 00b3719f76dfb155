#pragma once
// A scriptable in-process CQL server for client tests: accepts on 127.0.0.1:0, speaks v3-v5 with
// compression and segments, optional PasswordAuthenticator, and answers a few canned queries.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/frame_codec.hpp"
#include "protocol/messages.hpp"
#include "protocol/value.hpp"

namespace zdm::client::testing {

struct MockServerConfig {
  protocol::ProtocolVersion max_version = protocol::ProtocolVersion::V5;
  std::string username;  // non-empty: require PasswordAuthenticator with these credentials
  std::string password;
  std::string datacenter = "dc1";
  std::vector<std::string> tokens = {"0"};
};

class MockCqlServer {
 public:
  MockCqlServer(boost::asio::io_context& io, MockServerConfig config)
      : io_(io), config_(std::move(config)), acceptor_(io) {
    using boost::asio::ip::tcp;
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void forget_prepared() { prepared_.clear(); }
  int connections = 0;
  int prepares = 0;
  std::vector<std::string> queries;

 private:
  using Message = protocol::Message;

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      ++connections;
      boost::asio::co_spawn(io_, serve(std::move(socket)), boost::asio::detached);
    }
  }

  static protocol::RowsResult rows_of(std::vector<std::pair<std::string, protocol::DataType>> cols,
                                      std::vector<protocol::Row> rows) {
    protocol::RowsResult r;
    r.metadata.global_table_spec = true;
    r.metadata.global_keyspace = "ks";
    r.metadata.global_table = "t";
    r.metadata.column_count = static_cast<int32_t>(cols.size());
    for (auto& [name, type] : cols) {
      r.metadata.columns.push_back({"ks", "t", name, type});
    }
    r.rows = std::move(rows);
    return r;
  }

  static Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

  protocol::ResponseBody answer_query(const std::string& q, const protocol::QueryParameters& p,
                                      protocol::ProtocolVersion v, bool& drop) {
    using protocol::DataType;
    using protocol::TypeId;
    queries.push_back(q);
    if (q.find("system.local") != std::string::npos) {
      Bytes tokens;
      std::vector<protocol::Value> elems;
      for (const auto& t : config_.tokens) elems.push_back(protocol::Value::text(t));
      auto set_type = DataType::set_of(DataType::simple(TypeId::Varchar));
      (void)protocol::encode_value(set_type, protocol::Value::elements(elems), tokens, v);
      return protocol::ResultMessage{
          rows_of({{"data_center", DataType::simple(TypeId::Varchar)},
                   {"rack", DataType::simple(TypeId::Varchar)},
                   {"tokens", set_type}},
                  {{text_bytes(config_.datacenter), text_bytes("r1"), tokens}})};
    }
    if (q.find("system.peers_v2") != std::string::npos) {
      return protocol::ErrorMessage{
          protocol::ErrorCode::Invalid, "unconfigured table peers_v2", {}};
    }
    if (q.find("system.peers") != std::string::npos) {
      return protocol::ResultMessage{rows_of({{"peer", DataType::simple(TypeId::Inet)}}, {})};
    }
    if (q.rfind("USE ", 0) == 0) {
      return protocol::ResultMessage{protocol::SetKeyspaceResult{"ks"}};
    }
    if (q == "never answer") {
      drop = true;
      return protocol::ReadyMessage{};
    }
    if (q == "SELECT pages") {
      int page = 0;
      if (p.paging_state && !p.paging_state->empty()) page = (*p.paging_state)[0];
      auto r = rows_of({{"n", DataType::simple(TypeId::Int)}},
                       {{Bytes{0, 0, 0, static_cast<uint8_t>(page)}}});
      if (page < 2) r.metadata.paging_state = Bytes{static_cast<uint8_t>(page + 1)};
      return protocol::ResultMessage{r};
    }
    return protocol::ResultMessage{protocol::VoidResult{}};
  }

  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket) {
    protocol::FrameDecoder decoder;
    protocol::FrameEncoder encoder;
    std::vector<uint8_t> buf(65536);
    protocol::Compression compression = protocol::Compression::None;
    bool authenticated = config_.username.empty();
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(
          boost::asio::buffer(buf), boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      decoder.feed(ByteView(buf.data(), n));
      Bytes out;
      bool close_after = false;
      bool switch_segments = false;
      for (;;) {
        auto next = decoder.next();
        if (!next) co_return;
        if (!*next) break;
        const auto& frame = **next;
        auto v = frame.header.version;
        auto stream = frame.header.stream;
        if (protocol::version_byte(v) > protocol::version_byte(config_.max_version)) {
          // As Cassandra: answer in the highest version we know, then close.
          auto reply = protocol::make_response(
              config_.max_version, stream,
              protocol::ErrorMessage{protocol::ErrorCode::ProtocolError,
                                     "Invalid or unsupported protocol version (5)",
                                     {}});
          auto bytes = protocol::encode_frame(reply);
          out.insert(out.end(), bytes.begin(), bytes.end());
          close_after = true;
          break;
        }
        auto request = protocol::decode_message(frame.header, frame.body);
        if (!request) co_return;
        auto* body = std::get_if<protocol::RequestBody>(&request->body);
        protocol::ResponseBody response = protocol::ReadyMessage{};
        bool drop = false;
        if (auto* s = std::get_if<protocol::StartupMessage>(body)) {
          for (auto& [k, val] : s->options) {
            if (k == "COMPRESSION") compression = *protocol::compression_from_name(val);
          }
          if (!authenticated) {
            response =
                protocol::AuthenticateMessage{"org.apache.cassandra.auth.PasswordAuthenticator"};
          }
          switch_segments = protocol::uses_segments(v);
        } else if (auto* a = std::get_if<protocol::AuthResponseMessage>(body)) {
          std::string expected = std::string(1, '\0') + config_.username + '\0' + config_.password;
          if (a->token && std::string(a->token->begin(), a->token->end()) == expected) {
            authenticated = true;
            response = protocol::AuthSuccessMessage{};
          } else {
            response = protocol::ErrorMessage{protocol::ErrorCode::BadCredentials,
                                              "Provided username and/or password are incorrect",
                                              {}};
          }
        } else if (std::holds_alternative<protocol::OptionsMessage>(*body)) {
          response = protocol::SupportedMessage{};
        } else if (auto* q = std::get_if<protocol::QueryMessage>(body)) {
          response = answer_query(q->query, q->parameters, v, drop);
        } else if (auto* p = std::get_if<protocol::PrepareMessage>(body)) {
          ++prepares;
          protocol::PreparedResult prepared;
          prepared.id = Bytes{0xAB, static_cast<uint8_t>(p->query.size())};
          prepared.metadata.pk_indexes = {0};
          prepared.metadata.columns.push_back(
              {"ks", "t", "key", protocol::DataType::simple(protocol::TypeId::Bigint)});
          if (protocol::uses_prepared_metadata(v)) prepared.result_metadata_id = Bytes{1};
          prepared_.insert(prepared.id);
          response = protocol::ResultMessage{prepared};
        } else if (auto* e = std::get_if<protocol::ExecuteMessage>(body)) {
          if (!prepared_.count(e->id)) {
            response = protocol::ErrorMessage{protocol::ErrorCode::Unprepared, "unknown id",
                                              protocol::UnpreparedInfo{e->id}};
          } else {
            response = protocol::ResultMessage{protocol::VoidResult{}};
          }
        } else if (std::holds_alternative<protocol::RegisterMessage>(*body)) {
          response = protocol::ReadyMessage{};
        }
        if (drop) continue;
        auto reply = protocol::make_response(v, stream, std::move(response));
        Bytes reply_body = protocol::encode_message(reply);
        protocol::FrameHeader h;
        h.version = v;
        h.direction = protocol::Direction::Response;
        h.flags = protocol::envelope_flags(reply);
        h.stream = stream;
        h.opcode = reply.opcode();
        (void)encoder.encode(h, reply_body, out);
        if (std::holds_alternative<protocol::StartupMessage>(*body)) {
          (void)encoder.flush(out);
          if (switch_segments) {
            (void)encoder.enable_segments(compression);
            (void)decoder.enable_segments(compression);
          } else {
            encoder.set_compression(compression);
            decoder.set_compression(compression);
          }
        }
      }
      (void)encoder.flush(out);
      if (!out.empty()) {
        auto [wec, wn] = co_await boost::asio::async_write(
            socket, boost::asio::buffer(out), boost::asio::as_tuple(boost::asio::use_awaitable));
        (void)wn;
        if (wec) co_return;
      }
      if (close_after) co_return;
    }
  }

  boost::asio::io_context& io_;
  MockServerConfig config_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<Bytes> prepared_;
};

}  // namespace zdm::client::testing
