#include "client/connection.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include "client/version_negotiation.hpp"
#include "net/tls.hpp"

namespace zdm::client {

namespace asio = boost::asio;
using asio::ip::tcp;
using protocol::Message;
using protocol::ProtocolVersion;

namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;
constexpr int kMaxAuthRounds = 8;
}  // namespace

Connection::Connection(Executor executor, Endpoint endpoint, ConnectionOptions options,
                       std::shared_ptr<asio::ssl::context> tls_context)
    : executor_(executor),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      tls_context_(std::move(tls_context)),
      timer_(executor),
      ids_(options_.max_stream_ids),
      slots_(static_cast<size_t>(ids_.capacity())),
      read_buf_(kReadChunk) {
  auto timeout = options_.request_timeout.count();
  tick_ = std::chrono::milliseconds(std::clamp<int64_t>(timeout / 10, 5, 100));
}

Connection::~Connection() = default;

asio::awaitable<ClientResult<std::shared_ptr<Connection>>> Connection::connect(
    Endpoint endpoint, ConnectionOptions options, std::shared_ptr<asio::ssl::context> tls_context,
    EventCallback on_event) {
  auto executor = co_await asio::this_coro::executor;
  if (options.tls.enabled && !tls_context) {
    auto ctx = make_tls_context(options.tls);
    if (!ctx) co_return client_fail(ClientErrc::InvalidArgument, ctx.error().message, false);
    tls_context = std::move(*ctx);
  }
  tcp::resolver resolver(executor);
  auto [rec, resolved] =
      co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), kAwait);
  if (rec) {
    co_return client_fail(ClientErrc::Connect,
                          fmt::format("resolving {}: {}", endpoint.to_string(), rec.message()),
                          false);
  }
  VersionNegotiation negotiation(options.protocol_version);
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto conn = std::make_shared<Connection>(executor, endpoint, options, tls_context);
    conn->on_event_ = on_event;
    // One deadline for the whole setup: connect, TLS, STARTUP, auth, REGISTER, USE.
    asio::steady_timer deadline(executor);
    deadline.expires_after(options.connect_timeout);
    std::weak_ptr<Connection> weak = conn;
    auto timed_out = std::make_shared<bool>(false);
    deadline.async_wait([weak, timed_out](boost::system::error_code ec) {
      if (ec) return;
      *timed_out = true;
      if (auto c = weak.lock()) {
        boost::system::error_code ignored;
        if (c->plain_) c->plain_->close(ignored);
        if (c->tls_) c->tls_->next_layer().close(ignored);
      }
    });
    auto opened = co_await conn->open(resolved);
    if (!opened && *timed_out) co_return conn->setup_timeout();
    if (!opened) co_return tl::unexpected(std::move(opened.error()));
    auto ready = co_await conn->startup(negotiation.current());
    deadline.cancel();
    // A node that accepts but never answers: not a version refusal, and no other version is
    // tried (each would wait the whole timeout again).
    if (!ready && *timed_out) co_return conn->setup_timeout();
    if (ready) {
      conn->start();
      co_return conn;
    }
    if (!conn->version_rejected_) {
      conn->closed_ = true;
      co_return tl::unexpected(std::move(ready.error()));
    }
    conn->close("protocol version rejected");
    if (!negotiation.on_rejected(conn->server_version_)) {
      auto error = ready.error();
      // The server said so in an ERROR (a dropped connection stays ConnectionClosed).
      if (error.kind == ClientErrc::Protocol) error.kind = ClientErrc::VersionRefused;
      error.message += negotiation.negotiating()
                           ? " (tried protocol v5, v4 and v3)"
                           : " (fixed protocol version; try another --protocol-version)";
      co_return tl::unexpected(std::move(error));
    }
  }
  co_return client_fail(
      ClientErrc::Protocol,
      fmt::format("{}: protocol version negotiation did not converge", endpoint.to_string()),
      false);
}

asio::awaitable<ClientResult<void>> Connection::open(tcp::resolver::results_type resolved) {
  tcp::socket socket(executor_);
  auto [ec, ep] = co_await asio::async_connect(socket, resolved, kAwait);
  if (ec) {
    co_return client_fail(
        ClientErrc::Connect,
        fmt::format("connecting to {}: {}", endpoint_.to_string(),
                    ec == asio::error::operation_aborted ? std::string("timed out") : ec.message()),
        false);
  }
  (void)ep;
  socket.set_option(tcp::no_delay(true), ec);
  if (!options_.tls.enabled) {
    plain_.emplace(std::move(socket));
    co_return ClientResult<void>{};
  }
  tls_.emplace(std::move(socket), *tls_context_);
  const std::string& name =
      options_.tls.server_name.empty() ? endpoint_.host : options_.tls.server_name;
  // SNI, for servers and proxies that pick a certificate by name (Astra, SNI routers).
  SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
  if (options_.tls.verify_peer) {
    tls_->set_verify_mode(asio::ssl::verify_peer);
    if (options_.tls.verify_hostname) {
      tls_->set_verify_callback(asio::ssl::host_name_verification(
          options_.tls.verify_name.empty() ? name : options_.tls.verify_name));
    }
  } else {
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kAwait);
  tls_done_ = !hec;
  if (hec) {
    if (!options_.tls.settings_name.empty()) {
      co_return client_fail(
          ClientErrc::TlsHandshake,
          net::explain_tls_handshake_failure(
              *tls_, hec, endpoint_.to_string(), name,
              options_.tls.verify_hostname ? net::HostnameCheck::Verify : net::HostnameCheck::Skip,
              options_.tls.settings_name),
          false);
    }
    co_return client_fail(ClientErrc::TlsHandshake,
                          fmt::format("TLS handshake with {} (name '{}'): {}",
                                      endpoint_.to_string(), name, hec.message()),
                          false);
  }
  co_return ClientResult<void>{};
}

ClientResult<std::shared_ptr<Connection>> Connection::setup_timeout() {
  closed_ = true;
  const auto ms = options_.connect_timeout.count();
  // Connect, as a refused connection: the caller tries another node.
  return client_fail(
      ClientErrc::Connect,
      fmt::format("{}: no answer within {} ms (the connection timeout) while {}",
                  endpoint_.to_string(), ms,
                  !plain_ && !tls_     ? "connecting"
                  : tls_ && !tls_done_ ? "negotiating TLS"
                                       : "setting up the CQL connection (STARTUP, authentication)"),
      false);
}

void Connection::explain_closed_setup(ClientError& error) const {
  if (error.kind != ClientErrc::ConnectionClosed) return;
  const std::string& name = options_.tls.settings_name;
  if (tls_) {
    // TLS 1.3: a refused client certificate arrives as an alert after the handshake.
    if (!name.empty()) {
      error.message = net::explain_tls_alert(std::move(error.message), tls_alert_, name);
    }
  } else if (!name.empty()) {
    error.message +=
        fmt::format(" (the node may require TLS: set ZDM_{}_TLS_SERVER_CA_PATH)", name);
  } else {
    error.message += " (the node may require TLS)";
  }
}

asio::awaitable<ClientResult<Message>> Connection::setup_roundtrip(protocol::RequestBody body) {
  Message request = protocol::make_request(version_, protocol::StreamId{0}, std::move(body));
  body_scratch_.clear();
  protocol::encode_message_to(request, body_scratch_);
  protocol::FrameHeader header;
  header.version = version_;
  header.direction = protocol::Direction::Request;
  header.flags = protocol::envelope_flags(request);
  header.stream = protocol::StreamId{0};
  header.opcode = request.opcode();
  Bytes out;
  auto encoded = encoder_.encode(header, body_scratch_, out);
  if (encoded) encoded = encoder_.flush(out);
  if (!encoded) {
    co_return client_fail(ClientErrc::InvalidArgument, encoded.error().to_string(), false);
  }
  // No co_await inside ?: (GCC 12 mishandles it).
  boost::system::error_code wec;
  if (tls_) {
    std::tie(wec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(out), kAwait);
  } else {
    std::tie(wec, std::ignore) = co_await asio::async_write(*plain_, asio::buffer(out), kAwait);
  }
  if (wec) {
    co_return client_fail(ClientErrc::ConnectionClosed,
                          fmt::format("{}: writing {}: {}", endpoint_.to_string(),
                                      protocol::opcode_name(header.opcode), wec.message()),
                          false);
  }
  for (;;) {
    auto next = decoder_.next();
    if (!next) {
      co_return client_fail(ClientErrc::Protocol,
                            fmt::format("{}: {}", endpoint_.to_string(), next.error().to_string()));
    }
    if (*next) {
      const protocol::Frame& frame = **next;
      if (frame.header.stream.value < 0) continue;  // an event during setup: not ours
      server_version_ = frame.header.version;
      auto message = protocol::decode_message(frame.header, frame.body);
      if (!message) {
        co_return client_fail(
            ClientErrc::Protocol,
            fmt::format("{}: bad {} response: {}", endpoint_.to_string(),
                        protocol::opcode_name(frame.header.opcode), message.error().to_string()));
      }
      // v5 switches both directions to segments right after READY or AUTHENTICATE; bytes
      // already buffered beyond this frame are segments.
      auto op = frame.header.opcode;
      if (protocol::uses_segments(version_) && !decoder_.segments_enabled() &&
          (op == protocol::Opcode::Ready || op == protocol::Opcode::Authenticate)) {
        auto d = decoder_.enable_segments(compression_);
        auto e = encoder_.enable_segments(compression_);
        if (!d || !e) {
          co_return client_fail(
              ClientErrc::Protocol,
              fmt::format("{}: cannot switch to v5 segments: {}", endpoint_.to_string(),
                          (!d ? d.error() : e.error()).to_string()));
        }
      }
      co_return std::move(*message);
    }
    boost::system::error_code rec;
    size_t n = 0;
    if (tls_) {
      std::tie(rec, n) = co_await tls_->async_read_some(asio::buffer(read_buf_), kAwait);
    } else {
      std::tie(rec, n) = co_await plain_->async_read_some(asio::buffer(read_buf_), kAwait);
    }
    if (rec) {
      tls_alert_ = net::received_tls_alert(rec);
      co_return client_fail(
          ClientErrc::ConnectionClosed,
          fmt::format("{}: connection closed while waiting for the answer to {}: "
                      "{}",
                      endpoint_.to_string(), protocol::opcode_name(header.opcode),
                      rec == asio::error::operation_aborted ? std::string("setup timed out")
                                                            : rec.message()));
    }
    decoder_.feed(ByteView(read_buf_.data(), n));
  }
}

asio::awaitable<ClientResult<void>> Connection::startup(ProtocolVersion version) {
  version_ = version;
  compression_ = options_.compression;
  if (protocol::uses_segments(version) && compression_ == protocol::Compression::Snappy) {
    compression_ = protocol::Compression::None;  // v5 only knows LZ4
  }
  protocol::StartupMessage startup_message;
  startup_message.options.emplace_back("CQL_VERSION", "3.0.0");
  if (compression_ != protocol::Compression::None) {
    startup_message.options.emplace_back("COMPRESSION",
                                         std::string(protocol::compression_name(compression_)));
  }
  startup_message.options.emplace_back("DRIVER_NAME", options_.driver_name);
  startup_message.options.emplace_back("DRIVER_VERSION", options_.driver_version);
  if (!protocol::uses_segments(version)) {
    // The answer to STARTUP may already be compressed; frames after it are.
    decoder_.set_compression(compression_);
  }
  auto answer = co_await setup_roundtrip(std::move(startup_message));
  if (!answer) {
    // Some servers just drop a connection that speaks a version they do not know.
    if (answer.error().kind == ClientErrc::ConnectionClosed && version != ProtocolVersion::V3) {
      version_rejected_ = true;
      server_version_.reset();
    }
    explain_closed_setup(answer.error());
    co_return tl::unexpected(std::move(answer.error()));
  }
  if (!protocol::uses_segments(version)) encoder_.set_compression(compression_);
  auto* response = std::get_if<protocol::ResponseBody>(&answer->body);
  if (response == nullptr) {
    co_return client_fail(ClientErrc::Protocol, "server sent a request frame");
  }
  if (auto* error = std::get_if<protocol::ErrorMessage>(response)) {
    if (VersionNegotiation::is_version_rejection(*error)) version_rejected_ = true;
    co_return client_fail(
        ClientErrc::Protocol,
        fmt::format("{}: STARTUP with protocol {} refused: {} {}", endpoint_.to_string(),
                    protocol::protocol_version_name(version),
                    protocol::error_code_name(error->code), error->message));
  }
  if (auto* auth = std::get_if<protocol::AuthenticateMessage>(response)) {
    auto authenticated = co_await authenticate(auth->authenticator);
    if (!authenticated) co_return authenticated;
  } else if (!std::holds_alternative<protocol::ReadyMessage>(*response)) {
    co_return client_fail(ClientErrc::Protocol,
                          fmt::format("{}: unexpected {} answer to STARTUP", endpoint_.to_string(),
                                      protocol::opcode_name(answer->opcode())));
  }
  if (!options_.register_events.empty()) {
    protocol::RegisterMessage reg;
    reg.event_types = options_.register_events;
    auto registered = co_await setup_roundtrip(std::move(reg));
    if (!registered) co_return tl::unexpected(std::move(registered.error()));
    auto* r = std::get_if<protocol::ResponseBody>(&registered->body);
    if (r == nullptr || !std::holds_alternative<protocol::ReadyMessage>(*r)) {
      co_return client_fail(ClientErrc::Protocol,
                            fmt::format("{}: REGISTER refused", endpoint_.to_string()));
    }
  }
  if (!options_.keyspace.empty()) {
    protocol::QueryMessage use;
    use.query = fmt::format("USE \"{}\"", options_.keyspace);
    auto used = co_await setup_roundtrip(std::move(use));
    if (!used) co_return tl::unexpected(std::move(used.error()));
    auto* r = std::get_if<protocol::ResponseBody>(&used->body);
    if (auto* error = r ? std::get_if<protocol::ErrorMessage>(r) : nullptr) {
      auto e = server_error(*error);
      e.message =
          fmt::format("{}: USE {}: {}", endpoint_.to_string(), options_.keyspace, e.message);
      co_return tl::unexpected(std::move(e));
    }
    keyspace_ = options_.keyspace;
  }
  co_return ClientResult<void>{};
}

asio::awaitable<ClientResult<void>> Connection::authenticate(std::string authenticator) {
  if (options_.username.empty()) {
    co_return client_fail(ClientErrc::Auth,
                          fmt::format("{} requires authentication ({}); give a user name and "
                                      "password",
                                      endpoint_.to_string(), authenticator));
  }
  std::string credentials;
  credentials.push_back('\0');
  credentials += options_.username;
  credentials.push_back('\0');
  credentials += options_.password;
  // DSE's authenticator takes the SASL mechanism name first and answers "PLAIN-START".
  const bool dse = authenticator.find("DseAuthenticator") != std::string::npos;
  std::string token = dse ? std::string("PLAIN") : credentials;
  for (int round = 0; round < kMaxAuthRounds; ++round) {
    protocol::AuthResponseMessage response;
    auto view = as_bytes(token);
    response.token = Bytes(view.begin(), view.end());
    auto answer = co_await setup_roundtrip(std::move(response));
    if (!answer) co_return tl::unexpected(std::move(answer.error()));
    auto* body = std::get_if<protocol::ResponseBody>(&answer->body);
    if (body == nullptr) co_return client_fail(ClientErrc::Protocol, "server sent a request frame");
    if (std::holds_alternative<protocol::AuthSuccessMessage>(*body)) co_return ClientResult<void>{};
    if (auto* error = std::get_if<protocol::ErrorMessage>(body)) {
      co_return client_fail(
          ClientErrc::Auth,
          fmt::format("{}: authentication as '{}' failed: {} {}", endpoint_.to_string(),
                      options_.username, protocol::error_code_name(error->code), error->message));
    }
    auto* challenge = std::get_if<protocol::AuthChallengeMessage>(body);
    if (challenge == nullptr) {
      co_return client_fail(
          ClientErrc::Protocol,
          fmt::format("{}: unexpected {} during authentication", endpoint_.to_string(),
                      protocol::opcode_name(answer->opcode())));
    }
    std::string text = challenge->token ? std::string(as_chars(*challenge->token)) : "";
    if (text == "PLAIN-START" || !dse) {
      token = credentials;
    } else {
      co_return client_fail(ClientErrc::Auth,
                            fmt::format("{}: unsupported SASL challenge '{}' from {}",
                                        endpoint_.to_string(), text, authenticator));
    }
  }
  co_return client_fail(ClientErrc::Auth, fmt::format("{}: authentication did not finish in {} "
                                                      "rounds",
                                                      endpoint_.to_string(), kMaxAuthRounds));
}

void Connection::start() {
  last_activity_ = Clock::now();
  do_read();
  arm_tick();
}

void Connection::send(protocol::RequestBody body, ResponseCallback done,
                      std::chrono::milliseconds timeout) {
  if (closed_) {
    post_error(std::move(done),
               client_fail(ClientErrc::ConnectionClosed,
                           fmt::format("{}: connection is closed", endpoint_.to_string()), false)
                   .value());
    return;
  }
  auto id = ids_.acquire();
  if (!id) {
    if (waiting_.size() >= options_.max_queued_requests) {
      post_error(std::move(done),
                 client_fail(ClientErrc::Busy,
                             fmt::format("{}: {} requests in flight and {} queued",
                                         endpoint_.to_string(), ids_.in_flight(), waiting_.size()),
                             false)
                     .value());
      return;
    }
    waiting_.push_back(Waiting{std::move(body), std::move(done), timeout});
    return;
  }
  write_request(*id, std::move(body), std::move(done), timeout);
}

void Connection::write_request(int16_t id, protocol::RequestBody&& body, ResponseCallback&& done,
                               std::chrono::milliseconds timeout) {
  Message request = protocol::make_request(version_, protocol::StreamId{id}, std::move(body));
  body_scratch_.clear();
  protocol::encode_message_to(request, body_scratch_);
  protocol::FrameHeader header;
  header.version = version_;
  header.direction = protocol::Direction::Request;
  header.flags = protocol::envelope_flags(request);
  header.stream = protocol::StreamId{id};
  header.opcode = request.opcode();
  auto encoded = encoder_.encode(header, body_scratch_, write_buf_);
  if (!encoded) {
    ids_.release(id);
    post_error(std::move(done),
               client_fail(ClientErrc::InvalidArgument,
                           fmt::format("encoding {}: {}", protocol::opcode_name(header.opcode),
                                       encoded.error().to_string()),
                           false)
                   .value());
    return;
  }
  Slot& slot = slots_[static_cast<size_t>(id)];
  slot.done = std::move(done);
  slot.timed_out = false;
  slot.deadline = Clock::now() + (timeout.count() > 0 ? timeout : options_.request_timeout);
  link(id);
  ++stats_.requests;
  schedule_write();
}

void Connection::schedule_write() {
  if (write_scheduled_ || writing_) return;
  write_scheduled_ = true;
  // Deferred so that every request issued in this turn of the event loop shares one write.
  asio::post(executor_, [self = shared_from_this()] {
    self->write_scheduled_ = false;
    self->start_write();
  });
}

void Connection::start_write() {
  if (writing_ || closed_) return;
  auto flushed = encoder_.flush(write_buf_);
  if (!flushed) {
    fail_all(client_fail(ClientErrc::Protocol,
                         fmt::format("{}: {}", endpoint_.to_string(), flushed.error().to_string()))
                 .value());
    return;
  }
  if (write_buf_.empty()) return;
  std::swap(write_buf_, writing_buf_);
  write_buf_.clear();
  writing_ = true;
  ++stats_.writes;
  auto handler = [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
    self->writing_ = false;
    self->writing_buf_.clear();
    if (ec) {
      if (!self->closed_) {
        self->fail_all(client_fail(ClientErrc::ConnectionClosed,
                                   fmt::format("{}: write failed: {}", self->endpoint_.to_string(),
                                               ec.message()))
                           .value());
      }
      return;
    }
    self->last_activity_ = Clock::now();
    // Unconditionally: with v5 the requests queued during this write may still sit in the
    // segment encoder (write_buf_ empty), and nothing else would flush them.
    self->start_write();
  };
  if (tls_) {
    asio::async_write(*tls_, asio::buffer(writing_buf_), std::move(handler));
  } else {
    asio::async_write(*plain_, asio::buffer(writing_buf_), std::move(handler));
  }
}

void Connection::do_read() {
  auto handler = [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    self->on_read(ec, n);
  };
  if (tls_) {
    tls_->async_read_some(asio::buffer(read_buf_), std::move(handler));
  } else {
    plain_->async_read_some(asio::buffer(read_buf_), std::move(handler));
  }
}

void Connection::on_read(const boost::system::error_code& ec, size_t n) {
  if (closed_) return;
  if (ec) {
    tls_alert_ = net::received_tls_alert(ec);
    fail_all(client_fail(ClientErrc::ConnectionClosed,
                         fmt::format("{}: connection lost: {}", endpoint_.to_string(),
                                     ec == asio::error::eof ? std::string("closed by the server")
                                                            : ec.message()))
                 .value());
    return;
  }
  last_activity_ = Clock::now();
  decoder_.feed(ByteView(read_buf_.data(), n));
  for (;;) {
    auto next = decoder_.next();
    if (!next) {
      fail_all(client_fail(ClientErrc::Protocol,
                           fmt::format("{}: framing lost: {}", endpoint_.to_string(),
                                       next.error().to_string()))
                   .value());
      return;
    }
    if (!*next) break;
    dispatch(**next);
    if (closed_) return;
  }
  // Requests that waited for a stream id take the ids freed by this batch of responses.
  while (!waiting_.empty() && ids_.available() > 0) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    auto id = ids_.acquire();
    write_request(*id, std::move(w.body), std::move(w.done), w.timeout);
  }
  do_read();
}

void Connection::dispatch(const protocol::Frame& frame) {
  int16_t id = frame.header.stream.value;
  if (id < 0) {
    if (frame.header.opcode == protocol::Opcode::Event && on_event_) {
      auto message = protocol::decode_message(frame.header, frame.body);
      if (message) {
        auto* body = std::get_if<protocol::ResponseBody>(&message->body);
        if (body) {
          if (auto* event = std::get_if<protocol::EventMessage>(body)) on_event_(*event);
        }
      }
    }
    return;
  }
  if (!ids_.in_use(id)) {
    ++stats_.unknown_responses;
    return;
  }
  Slot& slot = slots_[static_cast<size_t>(id)];
  unlink(id);
  ResponseCallback done = std::move(slot.done);
  slot.done = nullptr;
  bool timed_out = slot.timed_out;
  slot.timed_out = false;
  ids_.release(id);
  ++stats_.responses;
  if (timed_out) {
    --orphans_;
    ++stats_.late_responses;
    return;
  }
  if (!done) return;
  auto message = protocol::decode_message(frame.header, frame.body);
  if (!message) {
    done(client_fail(
        ClientErrc::Protocol,
        fmt::format("{}: undecodable {} response: {}", endpoint_.to_string(),
                    protocol::opcode_name(frame.header.opcode), message.error().to_string())));
    return;
  }
  done(std::move(*message));
}

void Connection::link(int16_t id) {
  Slot& slot = slots_[static_cast<size_t>(id)];
  // Walk back from the tail: with one timeout per connection deadlines arrive in order, O(1).
  int32_t after = tail_;
  while (after != -1 && slots_[static_cast<size_t>(after)].deadline > slot.deadline) {
    after = slots_[static_cast<size_t>(after)].prev;
  }
  slot.prev = after;
  slot.next = after == -1 ? head_ : slots_[static_cast<size_t>(after)].next;
  if (slot.prev != -1) {
    slots_[static_cast<size_t>(slot.prev)].next = id;
  } else {
    head_ = id;
  }
  if (slot.next != -1) {
    slots_[static_cast<size_t>(slot.next)].prev = id;
  } else {
    tail_ = id;
  }
  slot.linked = true;
}

void Connection::unlink(int16_t id) {
  Slot& slot = slots_[static_cast<size_t>(id)];
  if (!slot.linked) return;
  if (slot.prev != -1) {
    slots_[static_cast<size_t>(slot.prev)].next = slot.next;
  } else {
    head_ = slot.next;
  }
  if (slot.next != -1) {
    slots_[static_cast<size_t>(slot.next)].prev = slot.prev;
  } else {
    tail_ = slot.prev;
  }
  slot.prev = slot.next = -1;
  slot.linked = false;
}

void Connection::arm_tick() {
  timer_.expires_after(tick_);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    self->on_tick();
    if (!self->closed_) self->arm_tick();
  });
}

void Connection::on_tick() {
  auto now = Clock::now();
  while (head_ != -1 && slots_[static_cast<size_t>(head_)].deadline <= now) {
    auto id = static_cast<int16_t>(head_);
    Slot& slot = slots_[static_cast<size_t>(id)];
    unlink(id);
    slot.timed_out = true;
    ++orphans_;
    ++stats_.timeouts;
    ResponseCallback done = std::move(slot.done);
    slot.done = nullptr;
    if (done) {
      done(client_fail(
          ClientErrc::Timeout,
          fmt::format("{}: no response within the request timeout", endpoint_.to_string())));
    }
    if (closed_) return;
  }
  // Most ids held by requests the server never answered: the connection is not usable.
  if (orphans_ > ids_.capacity() * 3 / 4) {
    fail_all(client_fail(ClientErrc::ConnectionClosed,
                         fmt::format("{}: {} requests unanswered; closing the connection",
                                     endpoint_.to_string(), orphans_))
                 .value());
    return;
  }
  if (options_.heartbeat_interval.count() > 0 && !heartbeat_pending_ &&
      now - last_activity_ >= options_.heartbeat_interval) {
    heartbeat_pending_ = true;
    ++stats_.heartbeats;
    std::weak_ptr<Connection> weak = shared_from_this();
    send(protocol::OptionsMessage{}, [weak](ClientResult<Message> r) {
      auto self = weak.lock();
      if (!self) return;
      self->heartbeat_pending_ = false;
      if (!r && r.error().kind == ClientErrc::Timeout) {
        self->close(fmt::format("heartbeat to {} went unanswered", self->endpoint_.to_string()));
      }
    });
  }
}

void Connection::post_error(ResponseCallback done, ClientError error) {
  if (!done) return;
  asio::post(executor_, [done = std::move(done), error = std::move(error)]() mutable {
    done(tl::unexpected(std::move(error)));
  });
}

void Connection::close(std::string reason) {
  if (closed_) return;
  fail_all(client_fail(ClientErrc::ConnectionClosed,
                       fmt::format("{}: {}", endpoint_.to_string(), reason))
               .value());
}

void Connection::fail_all(const ClientError& error) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  timer_.cancel();
  if (plain_) plain_->close(ignored);
  if (tls_) tls_->next_layer().close(ignored);
  std::vector<ResponseCallback> callbacks;
  for (int32_t at = head_; at != -1;) {
    Slot& slot = slots_[static_cast<size_t>(at)];
    int32_t next = slot.next;
    if (slot.done) callbacks.push_back(std::move(slot.done));
    slot.done = nullptr;
    at = next;
  }
  head_ = tail_ = -1;
  ClientError unsent = error;
  unsent.written = false;
  std::deque<Waiting> waiting = std::move(waiting_);
  waiting_.clear();
  // Callbacks may re-enter (e.g. retry elsewhere); the connection's state is final by now.
  for (auto& cb : callbacks) cb(tl::unexpected(error));
  for (auto& w : waiting) {
    if (w.done) w.done(tl::unexpected(unsent));
  }
  if (on_close_) {
    auto cb = std::move(on_close_);
    on_close_ = nullptr;
    cb(error);
  }
}

}  // namespace zdm::client
