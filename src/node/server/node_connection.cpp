#include "node/server/node_connection.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "protocol/cql_lexer.hpp"

namespace zdm::node {

using protocol::ErrorCode;
using protocol::ErrorMessage;
using protocol::Message;
using protocol::Opcode;
using protocol::ProtocolVersion;
using protocol::RequestBody;
using protocol::ResponseBody;
using protocol::StreamId;

namespace {

constexpr std::string_view kEventTypes[] = {"TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"};

std::string_view request_name(Opcode op) {
  // Cassandra names AUTH_RESPONSE "SASL_RESPONSE" in its state machine errors.
  return op == Opcode::AuthResponse ? std::string_view("SASL_RESPONSE") : protocol::opcode_name(op);
}

// A CQL_VERSION such as "3.0.0" or "3.4.5": the binary protocol needs CQL 3.
bool cql_version_supported(std::string_view v) {
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  if (digits == 0) return false;
  return std::atoi(std::string(v.substr(0, digits)).c_str()) >= 3;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NodeServerShared, ConnectionRegistry

bool NodeServerShared::accepts(ProtocolVersion v) const {
  return std::find(versions.begin(), versions.end(), v) != versions.end();
}

std::string NodeServerShared::version_label(ProtocolVersion v, bool beta) {
  // As DSE names its own versions.
  if (v == ProtocolVersion::DseV1) return "65/dse-v1";
  if (v == ProtocolVersion::DseV2) return "66/dse-v2";
  return fmt::format("{}/v{}{}", protocol::version_byte(v), protocol::version_byte(v),
                     beta ? "-beta" : "");
}

std::string NodeServerShared::supported_versions_text() const {
  std::string out;
  for (auto v : versions) {
    if (!out.empty()) out += ", ";
    out += version_label(v, v5_beta && v == ProtocolVersion::V5);
  }
  return out;
}

std::string NodeServerShared::unsupported_version_message(uint8_t requested) const {
  if (cassandra_version == CassandraVersion::V2_2) {
    return fmt::format(
        "Invalid or unsupported protocol version ({}); the lowest supported "
        "version is {} and the greatest is {}",
        requested, protocol::version_byte(versions.front()),
        protocol::version_byte(versions.back()));
  }
  return fmt::format("Invalid or unsupported protocol version ({}); supported versions are ({})",
                     requested, supported_versions_text());
}

void ConnectionRegistry::broadcast_schema_change(const protocol::SchemaChange& change) {
  for (auto* c : connections_) c->push_schema_change(change);
}

void ConnectionRegistry::close_all() {
  // close() unregisters, so iterate over a copy.
  std::vector<NodeConnection*> all(connections_.begin(), connections_.end());
  for (auto* c : all) c->close();
  connections_.clear();
}

// ---------------------------------------------------------------------------------------------
// NodeConnection

NodeConnection::NodeConnection(net::Stream stream, NodeServerShared& shared,
                               ConnectionRegistry& registry, net::FramedConnectionOptions options)
    : FramedConnection(std::move(stream), net::ConnectionRole::Server, options),
      shared_(shared),
      registry_(registry) {}

NodeConnection::~NodeConnection() {
  if (registered_) {
    registry_.remove(this);
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::shared_ptr<NodeConnection> NodeConnection::self() {
  return std::static_pointer_cast<NodeConnection>(shared_from_this());
}

void NodeConnection::open() {
  registry_.add(this);
  registered_ = true;
  shared_.connections.fetch_add(1, std::memory_order_relaxed);
  shared_.accepted.fetch_add(1, std::memory_order_relaxed);
  start();
}

void NodeConnection::on_closed() {
  if (registered_) {
    registry_.remove(this);
    registered_ = false;
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }
}

void NodeConnection::respond(ProtocolVersion version, StreamId stream, ResponseBody body) {
  auto ok = send(protocol::make_response(version, stream, std::move(body)));
  if (!ok) {
    spdlog::warn("cannot encode a response on stream {}: {}", stream.value, ok.error().to_string());
    close();
  }
}

void NodeConnection::respond(const Message& request, ResponseBody body) {
  respond(request.version, request.stream, std::move(body));
}

void NodeConnection::protocol_error(ProtocolVersion version, StreamId stream, std::string message) {
  respond(version, stream, ErrorMessage{ErrorCode::ProtocolError, std::move(message), {}});
}

void NodeConnection::reject_version(uint8_t requested, StreamId stream, std::string message) {
  // As Cassandra: a too-old version is answered in that version (v1/v2 have an 8-byte header and
  // a 1-byte stream id), anything else in the highest version we speak, so the driver can read
  // the error and retry lower.
  if (requested == 1 || requested == 2) {
    Bytes frame;
    ByteWriter w(frame);
    w.write_u8(static_cast<uint8_t>(0x80 | requested));
    w.write_u8(0);
    w.write_u8(static_cast<uint8_t>(stream.value));
    w.write_u8(static_cast<uint8_t>(Opcode::Error));
    w.write_u32(static_cast<uint32_t>(4 + 2 + message.size()));
    w.write_i32(static_cast<int32_t>(ErrorCode::ProtocolError));
    w.write_string(message);
    (void)send_encoded(frame);
  } else {
    ProtocolVersion reply = shared_.max_version();
    if (auto v = protocol::protocol_version_from_byte(requested);
        v && requested < protocol::version_byte(reply)) {
      reply = *v;
    }
    protocol_error(reply, stream, std::move(message));
  }
  close_after_flush();
}

bool NodeConnection::on_first_bytes(ByteView prefix) {
  const uint8_t requested = protocol::peek_raw_version_byte(prefix.data());
  if (protocol::protocol_version_from_byte(requested)) return true;  // checked per frame
  StreamId stream = requested <= 2 ? StreamId{static_cast<int16_t>(prefix[2])}
                                   : protocol::read_stream_id(prefix.data());
  shared_.faults->count_request(Opcode::Startup);
  reject_version(requested, stream, shared_.unsupported_version_message(requested));
  return false;
}

void NodeConnection::on_framing_error(const Error& error) {
  spdlog::debug("closing a client connection: {}", error.to_string());
  protocol_error(version_.value_or(shared_.max_version()), StreamId{0},
                 fmt::format("Invalid frame: {}", error.message));
}

void NodeConnection::on_frame(const protocol::Frame& frame) {
  const auto& h = frame.header;
  shared_.faults->count_request(h.opcode);
  if (!shared_.accepts(h.version)) {
    reject_version(protocol::version_byte(h.version), h.stream,
                   shared_.unsupported_version_message(protocol::version_byte(h.version)));
    return;
  }
  if (shared_.v5_beta && h.version == ProtocolVersion::V5 &&
      !h.has_flag(protocol::frame_flags::kUseBeta)) {
    protocol_error(h.version, h.stream,
                   fmt::format("Beta version of the protocol used ({}), but USE_BETA flag is "
                               "unset",
                               NodeServerShared::version_label(h.version, true)));
    close_after_flush();
    return;
  }
  if (version_ && h.version != *version_) {
    protocol_error(*version_, h.stream,
                   fmt::format("Invalid message version. Got {} but previous messages on this "
                               "connection had version {}",
                               NodeServerShared::version_label(h.version, false),
                               NodeServerShared::version_label(*version_, false)));
    close_after_flush();
    return;
  }
  if (h.direction != protocol::Direction::Request) {
    protocol_error(h.version, h.stream, "Unexpected response frame sent by the client");
    close_after_flush();
    return;
  }
  auto decoded = protocol::decode_message(h, frame.body);
  if (!decoded) {
    // A malformed body leaves framing intact: answer on its stream and carry on.
    protocol_error(h.version, h.stream,
                   fmt::format("Invalid {} message: {}", protocol::opcode_name(h.opcode),
                               decoded.error().message));
    return;
  }
  Message& request = *decoded;
  const Opcode op = h.opcode;

  switch (state_) {
    case State::Uninitialized:
      if (op != Opcode::Startup && op != Opcode::Options) {
        protocol_error(
            h.version, h.stream,
            fmt::format("Unexpected message {}, expecting STARTUP or OPTIONS", request_name(op)));
        return;
      }
      break;
    case State::Authenticating:
      if (op != Opcode::AuthResponse) {
        protocol_error(
            h.version, h.stream,
            fmt::format("Unexpected message {}, expecting SASL_RESPONSE", request_name(op)));
        return;
      }
      break;
    case State::Ready:
      if (op == Opcode::Startup) {
        protocol_error(h.version, h.stream,
                       "Unexpected message STARTUP, the connection is already initialized");
        return;
      }
      if (op == Opcode::AuthResponse) {
        protocol_error(h.version, h.stream,
                       "Unexpected message SASL_RESPONSE, the connection is already "
                       "authenticated");
        return;
      }
      break;
  }

  switch (op) {
    case Opcode::Options:
    case Opcode::Startup:
    case Opcode::AuthResponse:
    case Opcode::Register:
      // Rules name these opcodes explicitly (e.g. drop STARTUP to fail connection attempts).
      if (shared_.faults->has_rules()) {
        if (auto decision = shared_.faults->evaluate(op, {})) {
          return apply_fault(std::move(request), std::move(*decision));
        }
      }
      return process_control(request);
    case Opcode::Query:
    case Opcode::Prepare:
    case Opcode::Execute:
    case Opcode::Batch:
      return process_statement(std::move(request));
    default:
      protocol_error(h.version, h.stream,
                     fmt::format("Unexpected message {}", protocol::opcode_name(op)));
      return;
  }
}

void NodeConnection::process_control(const Message& request) {
  switch (request.opcode()) {
    case Opcode::Options:
      return process_options(request);
    case Opcode::Startup:
      return process_startup(request);
    case Opcode::AuthResponse:
      return process_auth_response(request);
    case Opcode::Register:
      return process_register(request);
    default:
      return execute(request);
  }
}

void NodeConnection::process_options(const Message& request) {
  respond(request, shared_.supported);
}

void NodeConnection::process_startup(const Message& request) {
  const auto& startup = std::get<protocol::StartupMessage>(std::get<RequestBody>(request.body));
  std::optional<std::string_view> cql_version;
  std::optional<std::string_view> compression_name;
  for (const auto& [key, value] : startup.options) {
    if (key == "CQL_VERSION") cql_version = value;
    if (key == "COMPRESSION") compression_name = value;
  }
  if (!cql_version) {
    return protocol_error(request.version, request.stream,
                          "Missing value CQL_VERSION in STARTUP message");
  }
  if (!cql_version_supported(*cql_version)) {
    return protocol_error(request.version, request.stream,
                          fmt::format("CQL version {} is not supported by the binary protocol "
                                      "(supported version are >= 3.0.0)",
                                      *cql_version));
  }
  protocol::Compression compression = protocol::Compression::None;
  if (compression_name && !compression_name->empty()) {
    auto c = protocol::compression_from_name(*compression_name);
    if (!c) {
      return protocol_error(request.version, request.stream,
                            fmt::format("Unknown compression algorithm: {}", *compression_name));
    }
    if (*c == protocol::Compression::Snappy && protocol::uses_segments(request.version)) {
      return protocol_error(request.version, request.stream,
                            "Snappy compression is not supported in protocol V5");
    }
    compression = *c;
  }
  version_ = request.version;
  session_.version = request.version;
  const bool segments = protocol::uses_segments(request.version);
  if (!segments) enable_compression(compression);
  if (shared_.authenticator != nullptr) {
    state_ = State::Authenticating;
    const auto authenticator_class = shared_.authenticator_kind == AuthenticatorKind::Dse
                                         ? kDseAuthenticatorClass
                                         : kPasswordAuthenticatorClass;
    respond(request, protocol::AuthenticateMessage{std::string(authenticator_class)});
  } else {
    state_ = State::Ready;
    respond(request, protocol::ReadyMessage{});
  }
  // v5: everything after READY/AUTHENTICATE travels in segments, both ways.
  if (segments) {
    if (auto ok = enable_segments(compression); !ok) {
      spdlog::warn("cannot switch to v5 framing: {}", ok.error().to_string());
      close_after_flush();
    }
  }
}

void NodeConnection::process_auth_response(const Message& request) {
  const auto& auth = std::get<protocol::AuthResponseMessage>(std::get<RequestBody>(request.body));
  ByteView token = auth.token ? ByteView(*auth.token) : ByteView();
  if (shared_.authenticator_kind == AuthenticatorKind::Dse && !sasl_mechanism_chosen_) {
    // DseAuthenticator: a first token without a NUL names the SASL mechanism.
    const std::string_view text = as_chars(token);
    if (text.find('\0') == std::string_view::npos) {
      if (text != "PLAIN") {
        return respond(request,
                       ErrorMessage{ErrorCode::BadCredentials,
                                    fmt::format("Unsupported SASL mechanism '{}'; this node "
                                                "offers PLAIN",
                                                text),
                                    {}});
      }
      sasl_mechanism_chosen_ = true;
      const auto start = as_bytes(std::string_view("PLAIN-START"));
      return respond(request, protocol::AuthChallengeMessage{Bytes(start.begin(), start.end())});
    }
  }
  auto user = shared_.authenticator->authenticate(token);
  if (!user) {
    return respond(request, ErrorMessage{ErrorCode::BadCredentials, user.error().message, {}});
  }
  session_.user = std::move(*user);
  state_ = State::Ready;
  respond(request, protocol::AuthSuccessMessage{std::nullopt});
}

void NodeConnection::process_register(const Message& request) {
  const auto& reg = std::get<protocol::RegisterMessage>(std::get<RequestBody>(request.body));
  bool schema = false;
  for (const auto& type : reg.event_types) {
    if (std::find(std::begin(kEventTypes), std::end(kEventTypes), type) == std::end(kEventTypes)) {
      return protocol_error(request.version, request.stream,
                            fmt::format("Invalid value '{}' for Event.Type", type));
    }
    if (type == "SCHEMA_CHANGE") schema = true;
  }
  schema_events_ = schema_events_ || schema;
  respond(request, protocol::ReadyMessage{});
}

void NodeConnection::push_schema_change(const protocol::SchemaChange& change) {
  if (!schema_events_ || state_ != State::Ready || !version_ || is_closed()) return;
  respond(*version_, StreamId{-1}, protocol::EventMessage{protocol::SchemaChangeEvent{change}});
  flush();
}

void NodeConnection::process_statement(Message request) {
  const auto& body = std::get<RequestBody>(request.body);
  auto& faults = *shared_.faults;
  if (const auto* q = std::get_if<protocol::QueryMessage>(&body)) {
    faults.count_statement(protocol::classify_statement(q->query).kind);
  } else if (const auto* p = std::get_if<protocol::PrepareMessage>(&body)) {
    faults.count_statement(protocol::classify_statement(p->query).kind);
  }
  if (faults.has_rules()) {
    // Gather the statement texts the rules look at (only when some rule does).
    std::vector<std::string> owned;
    std::vector<std::string_view> texts;
    if (faults.needs_text()) {
      if (const auto* q = std::get_if<protocol::QueryMessage>(&body)) {
        texts.push_back(q->query);
      } else if (const auto* p = std::get_if<protocol::PrepareMessage>(&body)) {
        texts.push_back(p->query);
      } else if (const auto* e = std::get_if<protocol::ExecuteMessage>(&body)) {
        if (auto t = faults.prepared_text(e->id)) owned.push_back(std::move(*t));
      } else if (const auto* b = std::get_if<protocol::BatchMessage>(&body)) {
        for (const auto& s : b->statements) {
          if (s.kind == protocol::BatchStatement::Kind::Query) {
            texts.push_back(s.query);
          } else if (auto t = faults.prepared_text(s.id)) {
            owned.push_back(std::move(*t));
          }
        }
      }
      for (const auto& t : owned) texts.push_back(t);
    }
    if (auto decision = faults.evaluate(request.opcode(), texts)) {
      return apply_fault(std::move(request), std::move(*decision));
    }
  }
  execute(request);
}

void NodeConnection::execute(const Message& request) {
  const auto& body = std::get<RequestBody>(request.body);
  ResponseBody response = shared_.processor->process(body, session_);
  if (const auto* p = std::get_if<protocol::PrepareMessage>(&body)) {
    if (const auto* r = std::get_if<protocol::ResultMessage>(&response)) {
      if (const auto* prepared = std::get_if<protocol::PreparedResult>(&r->result)) {
        shared_.faults->remember_prepared(prepared->id, p->query);
      }
    }
  }
  respond(request, std::move(response));
}

void NodeConnection::apply_fault(Message request, FaultInjector::Decision decision) {
  const FaultRule& rule = decision.spec();
  if (rule.action == FaultAction::NoResponse) return;
  if (rule.delay_ms == 0) return finish_fault(request, rule);
  auto timer = std::make_shared<boost::asio::steady_timer>(
      executor(), std::chrono::milliseconds(rule.delay_ms));
  timer->async_wait([self = self(), timer, request = std::move(request),
                     decision = std::move(decision)](const boost::system::error_code& ec) {
    if (ec || self->is_closed()) return;
    self->finish_fault(request, decision.spec());
    self->flush();
  });
}

void NodeConnection::finish_fault(const Message& request, const FaultRule& rule) {
  switch (rule.action) {
    case FaultAction::Delay:
      process_control(request);  // statements fall through to execute()
      return;
    case FaultAction::Error: {
      const auto& body = std::get<RequestBody>(request.body);
      if (rule.apply) (void)shared_.processor->process(body, session_);
      respond(request, make_fault_error(rule, body, request.version));
      return;
    }
    case FaultAction::Drop:
      close();
      return;
    case FaultAction::NoResponse:
      return;
  }
}

}  // namespace zdm::node
