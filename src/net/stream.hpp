#pragma once
// One byte stream over plain TCP or TLS, so connection code is written once. The async
// operations take any Asio completion token and dispatch on the transport at run time (one
// branch per call; the hot path pays a predictable test, not a virtual call through a type-erased
// handler).

#include <memory>
#include <utility>
#include <variant>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

namespace zdm::net {

class Stream {
 public:
  using Tcp = boost::asio::ip::tcp::socket;
  using Tls = boost::asio::ssl::stream<Tcp>;
  using executor_type = Tcp::executor_type;

  explicit Stream(Tcp socket) : transport_(std::in_place_index<0>, std::move(socket)) {}
  // TLS over `socket`. The context must outlive the stream (hence the shared_ptr).
  Stream(Tcp socket, std::shared_ptr<boost::asio::ssl::context> context)
      : context_(std::move(context)),
        transport_(std::in_place_index<1>, std::move(socket), *context_) {}

  Stream(Stream&&) = default;
  Stream& operator=(Stream&&) = default;

  bool is_tls() const { return transport_.index() == 1; }
  Tls* tls() { return std::get_if<1>(&transport_); }
  Tcp& socket() {
    if (auto* t = std::get_if<1>(&transport_)) return t->next_layer();
    return std::get<0>(transport_);
  }
  executor_type get_executor() { return socket().get_executor(); }

  // TLS only: the caller checks is_tls() first.
  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type role, Token&& token) {
    return std::get<1>(transport_).async_handshake(role, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (auto* t = std::get_if<1>(&transport_)) {
      return t->async_read_some(buffers, std::forward<Token>(token));
    }
    return std::get<0>(transport_).async_read_some(buffers, std::forward<Token>(token));
  }

  // Writes all of `buffers` (composed operation).
  template <class ConstBuffers, class Token>
  auto async_write(const ConstBuffers& buffers, Token&& token) {
    if (auto* t = std::get_if<1>(&transport_)) {
      return boost::asio::async_write(*t, buffers, std::forward<Token>(token));
    }
    return boost::asio::async_write(std::get<0>(transport_), buffers, std::forward<Token>(token));
  }

  // Closes the socket (no TLS close_notify: callers that want one shut down first). Never throws.
  void close() {
    boost::system::error_code ec;
    socket().shutdown(Tcp::shutdown_both, ec);
    socket().close(ec);
  }
  bool is_open() { return socket().is_open(); }

 private:
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::variant<Tcp, Tls> transport_;
};

}  // namespace zdm::net
