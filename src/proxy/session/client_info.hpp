#pragma once
// Who is connected: one ClientInfo per client connection, written by its session (on the
// session's io thread) and read by the operations API (GET /api/v1/clients, on the admin thread).
// It tells the operator which applications still go through the proxy before phase 5.
//
// The per-request part is two relaxed atomics written by one thread (no read-modify-write); the
// strings change only at STARTUP and USE and sit behind a mutex.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace zdm::proxy {

// A copy for readers.
struct ClientSnapshot {
  std::string address;  // "ip:port" of the client
  std::string driver_name;
  std::string driver_version;
  int protocol_version = 0;  // 0 before STARTUP
  std::string keyspace;
  std::chrono::system_clock::time_point connected_at{};
  std::chrono::system_clock::time_point last_request_at{};  // epoch when none yet
  uint64_t requests = 0;
};

class ClientInfo {
 public:
  explicit ClientInfo(std::string address)
      : address_(std::move(address)),
        connected_at_(std::chrono::system_clock::now()),
        connected_steady_(std::chrono::steady_clock::now()) {}

  // STARTUP: the driver's own description of itself (DRIVER_NAME, DRIVER_VERSION options).
  void set_startup(int protocol_version, std::string driver_name, std::string driver_version) {
    std::lock_guard lock(mu_);
    protocol_version_ = protocol_version;
    driver_name_ = std::move(driver_name);
    driver_version_ = std::move(driver_version);
  }
  void set_keyspace(const std::string& keyspace) {
    std::lock_guard lock(mu_);
    keyspace_ = keyspace;
  }
  // One request forwarded to the clusters at `now` (the slot's start time). Session thread only.
  void note_request(std::chrono::steady_clock::time_point now) noexcept {
    requests_.store(requests_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    last_request_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }

  ClientSnapshot snapshot() const {
    ClientSnapshot s;
    s.address = address_;
    s.connected_at = connected_at_;
    s.requests = requests_.load(std::memory_order_relaxed);
    const auto last = last_request_.load(std::memory_order_relaxed);
    if (last != 0) {
      // The steady clock's time of the last request, placed on the wall clock by the connection
      // time both clocks know.
      const std::chrono::steady_clock::time_point at{std::chrono::steady_clock::duration(last)};
      s.last_request_at =
          connected_at_ +
          std::chrono::duration_cast<std::chrono::system_clock::duration>(at - connected_steady_);
    }
    std::lock_guard lock(mu_);
    s.driver_name = driver_name_;
    s.driver_version = driver_version_;
    s.protocol_version = protocol_version_;
    s.keyspace = keyspace_;
    return s;
  }

 private:
  const std::string address_;
  const std::chrono::system_clock::time_point connected_at_;
  const std::chrono::steady_clock::time_point connected_steady_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<std::chrono::steady_clock::rep> last_request_{0};
  mutable std::mutex mu_;
  int protocol_version_ = 0;
  std::string driver_name_;
  std::string driver_version_;
  std::string keyspace_;
};

}  // namespace zdm::proxy
