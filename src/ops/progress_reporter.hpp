#pragma once
// `zdm migrate/validate --report-to HOST:PORT,...`: the run's progress sent to proxies' operations
// API (PATCH /api/v1/migrations), so that their status page shows it. A background thread sends
// the latest snapshot every 2 s; the run's thread only hands snapshots over (never blocks on the
// network). A proxy that cannot be reached is logged once and retried; reporting never fails the
// run.

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "migrate/runner.hpp"
#include "ops/admin_client.hpp"

namespace zdm::ops {

nlohmann::json progress_json(const migrate::ProgressSnapshot& p);

class ProgressReporter {
 public:
  ProgressReporter(std::vector<AdminAddress> proxies, AdminClientOptions options);
  ~ProgressReporter();  // sends the last snapshot, then stops
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // Thread-safe and quick: keeps `p` for the next send (a finished run is sent at once).
  void update(const migrate::ProgressSnapshot& p);

 private:
  void loop();
  void send(const nlohmann::json& body);

  std::vector<AdminClient> clients_;
  std::vector<bool> failing_;  // per proxy: its last send failed (logged once)
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<nlohmann::json> pending_;
  bool stopping_ = false;
  bool urgent_ = false;
  std::thread thread_;
};

}  // namespace zdm::ops
