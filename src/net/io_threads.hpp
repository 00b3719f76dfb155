#pragma once
// Thread per core: N io_contexts, each run by exactly one thread. A connection is bound to one
// context for its whole life, so its data path needs no locks; cross-thread work goes by post.

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace zdm::net {

class IoThreads {
 public:
  // `count` 0 means one per hardware thread (at least 1).
  explicit IoThreads(size_t count = 0);
  // Stops and joins.
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  size_t size() const { return contexts_.size(); }
  boost::asio::io_context& context(size_t index) { return *contexts_[index]; }

  struct Pick {
    boost::asio::io_context& context;
    size_t index;
  };
  // Round robin over the contexts; thread-safe.
  Pick next();

  // Starts one thread per context. Idempotent.
  void start();
  // Lets each context finish: run() returns once no work is left. Use after closing everything.
  void release();
  // Stops every context now (pending handlers are not run) and joins the threads.
  void stop();
  // Waits for the threads to exit.
  void join();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace zdm::net
