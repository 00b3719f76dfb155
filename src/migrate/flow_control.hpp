#pragma once
// Bounds for the migrator's asynchronous work, on one executor: how many writes a range keeps in
// flight, and how many rows per second one side may be asked for.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace zdm::migrate {

// Counts requests and their bytes in flight; acquire() waits while either limit is reached (a
// single request larger than the byte limit still goes, alone).
class InFlight {
 public:
  InFlight(boost::asio::any_io_executor executor, size_t limit, size_t byte_limit = SIZE_MAX);
  boost::asio::awaitable<void> acquire(size_t bytes = 0);
  // A request of `bytes` finished; `error` (empty when it succeeded) is kept if it is the first.
  void release(size_t bytes = 0, std::string error = {});
  // Waits until nothing is in flight.
  boost::asio::awaitable<void> drain();
  const std::string& first_error() const { return first_error_; }
  size_t failures() const { return failures_; }

 private:
  boost::asio::steady_timer wake_;
  size_t limit_;
  size_t byte_limit_;
  size_t count_ = 0;
  size_t bytes_ = 0;
  size_t failures_ = 0;
  std::string first_error_;
};

// Bytes held over the whole process (pages read, writes in flight), shared by every range:
// optional work (a page fetched ahead) is done only while try_acquire() says it fits. acquire()
// waits while the budget is used up (something larger than the whole budget still goes, alone).
class ByteBudget {
 public:
  ByteBudget(boost::asio::any_io_executor executor, size_t limit);
  boost::asio::awaitable<void> acquire(size_t bytes);
  bool try_acquire(size_t bytes);  // without waiting; false when it does not fit now
  void charge(size_t bytes);       // held already (an answer larger than expected)
  void release(size_t bytes);
  size_t used() const { return used_; }

 private:
  boost::asio::steady_timer wake_;
  size_t limit_;
  size_t used_ = 0;
};

// A token bucket over rows: take(n) waits so that at most `per_second` rows pass per second on
// average (bursts up to one second's worth). 0: unlimited.
class RateLimiter {
 public:
  RateLimiter(boost::asio::any_io_executor executor, double per_second);
  boost::asio::awaitable<void> take(size_t rows);

 private:
  boost::asio::any_io_executor executor_;
  double per_second_;
  std::chrono::steady_clock::time_point next_;
};

}  // namespace zdm::migrate
