#include "proxy/cluster/node_stream.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "net/tls.hpp"
#include "proxy/cluster/astra_metadata.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

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
