#pragma once
// Bounds for the migrator's asynchronous work, on one executor: how many writes a range keeps in
// flight, and how many rows per second one side may be asked for.

#include <algorithm>
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

// Bytes held over the whole process (pages read, writes in flight), shared by every range.
// Nothing waits on it (a reader may hold the other cluster's page of the same range, so waiting
// for memory other readers hold could deadlock): what must happen is charged, and optional work
// (a page read ahead) is done only while try_acquire() says it fits.
class ByteBudget {
 public:
  explicit ByteBudget(size_t limit) : limit_(limit) {}
  bool try_acquire(size_t bytes);  // false when it does not fit now
  void charge(size_t bytes) { used_ += bytes; }
  void release(size_t bytes) { used_ -= std::min(bytes, used_); }
  size_t used() const { return used_; }

 private:
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
