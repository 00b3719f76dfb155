#include "proxy/session/upstream_connection.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/tls.hpp"
#include "protocol/message_codec.hpp"
#include "proxy/cluster/astra_metadata.hpp"
#include "proxy/cluster/cluster_tls.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string_view upstream_role_name(UpstreamRole role) {
  switch (role) {
    case UpstreamRole::Origin:
      return "origin";
    case UpstreamRole::Target:
      return "target";
    case UpstreamRole::Async:
      return "async";
  }
  return "?";
}

UpstreamConnection::UpstreamConnection(net::Stream stream, UpstreamRole role, std::string node,
                                       int max_stream_ids, const NodeMetrics* metrics,
                                       net::FramedConnectionOptions options)
    : FramedConnection(std::move(stream), net::ConnectionRole::Client, options),
      role_(role),
      node_(std::move(node)),
      ids_(max_stream_ids),
      metrics_(metrics) {}

UpstreamConnection::~UpstreamConnection() {
  if (metrics_ && metrics_->used_stream_ids) metrics_->used_stream_ids->dec(published_ids_);
}

void UpstreamConnection::attach(UpstreamHandler* handler) {
  handler_ = handler;
  if (metrics_ && metrics_->connections && !counted_) {
    metrics_->connections->inc();
    counted_ = true;
  }
  start();
}

void UpstreamConnection::detach() {
  handler_ = nullptr;
  close();
}

Result<void> UpstreamConnection::forward(ByteView wire, int16_t stream) {
  // Patching in place saves copying the frame for each cluster; the decoder never reads a
  // delivered frame's bytes again.
  protocol::patch_stream_id(const_cast<uint8_t*>(wire.data()), protocol::StreamId{stream});
  return send_encoded(wire);
}

void UpstreamConnection::schedule_flush() {
  if (flush_scheduled_ || is_closed()) return;
  flush_scheduled_ = true;
  asio::post(executor(), [self = std::static_pointer_cast<UpstreamConnection>(shared_from_this())] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void UpstreamConnection::publish_stream_ids() {
  if (!metrics_ || !metrics_->used_stream_ids) return;
  const int now = ids_.in_use();
  if (now != published_ids_) {
    metrics_->used_stream_ids->inc(now - published_ids_);
    published_ids_ = now;
  }
}

void UpstreamConnection::on_frame(const protocol::Frame& frame) {
  if (handler_) handler_->on_upstream_frame(*this, frame);
}

void UpstreamConnection::on_write_done() {
  if (handler_) handler_->on_upstream_written(*this);
}

void UpstreamConnection::on_closed() {
  if (counted_ && metrics_ && metrics_->connections) {
    metrics_->connections->dec();
    counted_ = false;
  }
  if (auto* h = handler_) {
    handler_ = nullptr;
    h->on_upstream_closed(*this);
  }
}

namespace {

// Shared by the resolve/connect/handshake chain and the deadline timer; whichever finishes first
// reports.
struct ConnectAttempt : std::enable_shared_from_this<ConnectAttempt> {
  ConnectAttempt(asio::any_io_executor ex, UpstreamTls tls_settings, StreamCallback cb)
      : socket(ex), resolver(ex), timer(ex), tls(std::move(tls_settings)), done(std::move(cb)) {}

  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;
  UpstreamTls tls;
  StreamCallback done;
  std::string host;
  std::string server_name;  // Astra: SNI = host id
  uint16_t port = 0;
  std::optional<net::Stream> stream;  // TLS: while the handshake runs
  bool finished = false;

  std::string peer() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
  }

  void finish(Result<net::Stream> result) {
    if (finished) return;
    finished = true;
    timer.cancel();
    resolver.cancel();
    auto cb = std::move(done);
    cb(std::move(result));
  }

  void close_all() {
    boost::system::error_code ignored;
    socket.close(ignored);
    if (stream) stream->close();
  }

  void fail_with(const std::string& what) {
    close_all();
    finish(fail(Errc::Io, fmt::format("cannot connect to {}: {}", peer(), what)));
  }

  void connect_to(const tcp::endpoint& endpoint) {
    socket.async_connect(endpoint, [self = shared_from_this()](boost::system::error_code ec) {
      if (self->finished) return;
      if (ec) return self->fail_with(ec.message());
      self->established();
    });
  }

  void established() {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (!tls) return finish(net::Stream(std::move(socket)));
    stream.emplace(std::move(socket), tls.context);
    auto prepared = server_name.empty()
                        ? net::prepare_client_tls_stream(*stream->tls(), host, tls.hostname)
                        : prepare_astra_sni_stream(*stream->tls(), server_name, host, tls.hostname);
    if (!prepared) {
      close_all();
      return finish(tl::unexpected(prepared.error()));
    }
    stream->async_handshake(
        asio::ssl::stream_base::client, [self = shared_from_this()](boost::system::error_code ec) {
          if (self->finished) return;
          if (ec) {
            const std::string why =
                explain_tls_handshake_failure(*self->stream->tls(), ec, self->peer(), self->host,
                                              self->tls.hostname, self->tls.cluster_name);
            self->close_all();
            return self->finish(fail(Errc::Io, why));
          }
          net::Stream ready = std::move(*self->stream);
          self->stream.reset();
          self->finish(std::move(ready));
        });
  }
};

}  // namespace

void connect_stream(asio::any_io_executor executor, std::string host, uint16_t port,
                    UpstreamTls tls, std::string server_name, std::chrono::milliseconds timeout,
                    StreamCallback done) {
  auto attempt = std::make_shared<ConnectAttempt>(executor, std::move(tls), std::move(done));
  attempt->host = std::move(host);
  attempt->server_name = std::move(server_name);
  attempt->port = port;
  attempt->timer.expires_after(timeout);
  attempt->timer.async_wait([attempt, ms = timeout.count()](boost::system::error_code ec) {
    if (ec || attempt->finished) return;
    attempt->fail_with(fmt::format("timed out after {} ms{}", ms,
                                   attempt->stream ? " (during the TLS handshake)" : ""));
  });
  boost::system::error_code ec;
  auto address = asio::ip::make_address(attempt->host, ec);
  if (!ec) {
    attempt->connect_to(tcp::endpoint(address, port));
    return;
  }
  attempt->resolver.async_resolve(
      attempt->host, std::to_string(port),
      [attempt](boost::system::error_code rec, tcp::resolver::results_type results) {
        if (attempt->finished) return;
        if (rec || results.empty()) return attempt->fail_with("cannot resolve: " + rec.message());
        attempt->connect_to(*results.begin());
      });
}

}  // namespace zdm::proxy

namespace zdm::proxy {

Bytes plain_sasl_token(std::string_view username, std::string_view password) {
  Bytes token;
  token.reserve(username.size() + password.size() + 2);
  token.push_back(0);
  token.insert(token.end(), username.begin(), username.end());
  token.push_back(0);
  token.insert(token.end(), password.begin(), password.end());
  return token;
}

Bytes auth_response_frame(protocol::ProtocolVersion version, int16_t stream, ByteView token) {
  protocol::AuthResponseMessage m;
  m.token = Bytes(token.begin(), token.end());
  return protocol::encode_frame(
      protocol::make_request(version, protocol::StreamId{stream}, protocol::RequestBody(m)));
}

}  // namespace zdm::proxy
