#include "migrate/flow_control.hpp"

#include <algorithm>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace zdm::migrate {

namespace asio = boost::asio;

InFlight::InFlight(asio::any_io_executor executor, size_t limit, size_t byte_limit)
    : wake_(executor, asio::steady_timer::time_point::max()),
      limit_(limit == 0 ? 1 : limit),
      byte_limit_(byte_limit) {}

asio::awaitable<void> InFlight::acquire(size_t bytes) {
  // The timer never expires: release() cancels it, which wakes every waiter to check again.
  // (Re-arming it here would cancel the other waiters' waits and make them spin.)
  while (count_ >= limit_ || (count_ > 0 && bytes_ + bytes > byte_limit_)) {
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  ++count_;
  bytes_ += bytes;
}

void InFlight::release(size_t bytes, std::string error) {
  if (count_ > 0) --count_;
  bytes_ -= std::min(bytes, bytes_);
  if (!error.empty()) {
    ++failures_;
    if (first_error_.empty()) first_error_ = std::move(error);
  }
  wake_.cancel();
}

asio::awaitable<void> InFlight::drain() {
  while (count_ > 0) {
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

bool ByteBudget::try_acquire(size_t bytes) {
  if (used_ > 0 && used_ + bytes > limit_) return false;
  used_ += bytes;
  return true;
}

RateLimiter::RateLimiter(asio::any_io_executor executor, double per_second)
    : executor_(executor), per_second_(per_second), next_(std::chrono::steady_clock::now()) {}

asio::awaitable<void> RateLimiter::take(size_t rows) {
  if (per_second_ <= 0 || rows == 0) co_return;
  const auto now = std::chrono::steady_clock::now();
  const auto burst = std::chrono::seconds(1);
  if (next_ < now - burst) next_ = now - burst;
  next_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(rows) / per_second_));
  if (next_ > now) {
    asio::steady_timer timer(executor_, next_);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace zdm::migrate
