#include "net/io_threads.hpp"

#include <exception>

#include <spdlog/spdlog.h>

namespace zdm::net {

IoThreads::IoThreads(size_t count) {
  if (count == 0) count = std::thread::hardware_concurrency();
  if (count == 0) count = 1;
  contexts_.reserve(count);
  guards_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    // Concurrency hint 1: each context is run by one thread, so Asio can skip internal locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.push_back(boost::asio::make_work_guard(*contexts_.back()));
  }
}

IoThreads::~IoThreads() { stop(); }

IoThreads::Pick IoThreads::next() {
  const size_t index = next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
  return Pick{*contexts_[index], index};
}

void IoThreads::start() {
  if (!threads_.empty()) return;
  threads_.reserve(contexts_.size());
  for (auto& ctx : contexts_) {
    threads_.emplace_back([c = ctx.get()] {
      // Handlers do not throw on the data path; anything that escapes is a bug: log and go on
      // so one bad connection does not take the whole thread down.
      for (;;) {
        try {
          c->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("io thread: unhandled exception: {}", e.what());
        }
      }
    });
  }
}

void IoThreads::release() {
  for (auto& guard : guards_) guard.reset();
}

void IoThreads::stop() {
  release();
  for (auto& ctx : contexts_) ctx->stop();
  join();
}

void IoThreads::join() {
  for (auto& t : threads_) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  threads_.clear();
}

}  // namespace zdm::net
