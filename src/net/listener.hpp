#pragma once
// Accepts TCP connections on one acceptor and hands each socket to the next io thread, so that a
// connection lives on one thread for its whole life.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/result.hpp"
#include "net/io_threads.hpp"

namespace zdm::net {

// "host:port" (IPv6 as "[::1]:9042"); port 0 asks the OS for a free port.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
};
Result<HostPort> parse_host_port(std::string_view text);

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Runs on the io thread that owns the socket (`thread_index` of IoThreads).
  using AcceptHandler =
      std::function<void(boost::asio::ip::tcp::socket socket, size_t thread_index)>;

  // Binds and listens (the acceptor lives on io thread 0). Fails with a message naming the address
  // when the host does not resolve or the port is taken.
  static Result<std::shared_ptr<Listener>> bind(IoThreads& threads, const HostPort& address,
                                                AcceptHandler handler);

  // The bound address (the real port when 0 was asked for).
  const boost::asio::ip::tcp::endpoint& local_endpoint() const { return local_; }
  uint16_t port() const { return local_.port(); }

  // Starts accepting. Call once.
  void start();
  // Closes the acceptor (thread-safe); connections already accepted are not touched.
  void stop();

  Listener(IoThreads& threads, boost::asio::ip::tcp::acceptor acceptor, AcceptHandler handler);

 private:
  void accept_next();

  IoThreads& threads_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<AcceptHandler> handler_;
  boost::asio::ip::tcp::endpoint local_;
};

}  // namespace zdm::net
