#include "net/listener.hpp"

#include <charconv>
#include <chrono>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::net {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<HostPort> parse_host_port(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(Errc::InvalidArgument,
                  fmt::format("'{}' is not host:port (IPv6 is written [::1]:9042)", text));
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(Errc::InvalidArgument,
                  fmt::format("'{}' is not host:port, e.g. 127.0.0.1:9042", text));
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value > 65535 ||
      port_text.empty()) {
    return fail(Errc::InvalidArgument,
                fmt::format("'{}': port '{}' is not a number from 0 to 65535", text, port_text));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

Listener::Listener(IoThreads& threads, tcp::acceptor acceptor, AcceptHandler handler)
    : threads_(threads),
      acceptor_(std::move(acceptor)),
      retry_timer_(acceptor_.get_executor()),
      handler_(std::make_shared<AcceptHandler>(std::move(handler))) {
  boost::system::error_code ec;
  local_ = acceptor_.local_endpoint(ec);
}

Result<std::shared_ptr<Listener>> Listener::bind(IoThreads& threads, const HostPort& address,
                                                 AcceptHandler handler) {
  auto& ctx = threads.context(0);
  boost::system::error_code ec;
  tcp::resolver resolver(ctx);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return fail(Errc::Io, fmt::format("cannot resolve listen address {}: {}", address.to_string(),
                                      ec ? ec.message() : "no addresses"));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor acceptor(ctx);
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return fail(Errc::Io,
                fmt::format("cannot open a socket for {}: {}", address.to_string(), ec.message()));
  }
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    return fail(Errc::Io, fmt::format("cannot listen on {}: {} (is another process using the "
                                      "port? use port 0 for any free port)",
                                      address.to_string(), ec.message()));
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return fail(Errc::Io,
                fmt::format("cannot listen on {}: {}", address.to_string(), ec.message()));
  }
  return std::make_shared<Listener>(threads, std::move(acceptor), std::move(handler));
}

void Listener::start() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept_next(); });
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->retry_timer_.cancel();
    self->acceptor_.close(ec);
  });
}

void Listener::accept_next() {
  if (!acceptor_.is_open()) return;
  auto pick = threads_.next();
  acceptor_.async_accept(
      pick.context, [self = shared_from_this(), index = pick.index, &ctx = pick.context](
                        boost::system::error_code ec, tcp::socket socket) mutable {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
          // Out of file descriptors and the like: back off instead of spinning on the error.
          spdlog::warn("accept on {}:{} failed: {}", self->local_.address().to_string(),
                       self->local_.port(), ec.message());
          self->retry_timer_.expires_after(std::chrono::milliseconds(100));
          self->retry_timer_.async_wait([self](boost::system::error_code wait_ec) {
            if (!wait_ec) self->accept_next();
          });
          return;
        }
        socket.set_option(tcp::no_delay(true), ec);
        asio::post(ctx, [handler = self->handler_, s = std::move(socket), index]() mutable {
          (*handler)(std::move(s), index);
        });
        self->accept_next();
      });
}

}  // namespace zdm::net
