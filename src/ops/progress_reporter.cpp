#include "ops/progress_reporter.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace zdm::ops {

nlohmann::json progress_json(const migrate::ProgressSnapshot& p) {
  nlohmann::json j;
  j["command"] = p.command;
  j["run_id"] = p.run_id;
  j["rows"] = p.rows;
  j["rows_per_second"] = p.rows_per_second;
  j["ranges_done"] = p.ranges_done;
  j["ranges_total"] = p.ranges_total;
  j["ranges_failed"] = p.ranges_failed;
  j["differences"] = p.differences;
  j["eta_seconds"] = p.eta_seconds;
  j["finished"] = p.finished;
  return j;
}

ProgressReporter::ProgressReporter(std::vector<AdminAddress> proxies, AdminClientOptions options) {
  for (auto& address : proxies) clients_.emplace_back(std::move(address), options);
  failing_.assign(clients_.size(), false);
  thread_ = std::thread([this] { loop(); });
}

ProgressReporter::~ProgressReporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProgressReporter::update(const migrate::ProgressSnapshot& p) {
  {
    std::lock_guard lock(mu_);
    pending_ = progress_json(p);
    urgent_ = urgent_ || p.finished;
  }
  if (p.finished) cv_.notify_all();
}

void ProgressReporter::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_ || urgent_; });
    const bool stop = stopping_;
    urgent_ = false;
    std::optional<nlohmann::json> body;
    body.swap(pending_);
    lock.unlock();
    if (body) send(*body);
    lock.lock();
    if (stop && !pending_) return;
  }
}

void ProgressReporter::send(const nlohmann::json& body) {
  for (size_t i = 0; i < clients_.size(); ++i) {
    auto sent = clients_[i].patch("/api/v1/migrations", body, std::nullopt);
    if (!sent && !failing_[i]) {
      spdlog::warn("progress not reported to {} (the run goes on): {}",
                   clients_[i].address().to_string(), sent.error().message);
    } else if (sent && failing_[i]) {
      spdlog::info("progress reported to {} again", clients_[i].address().to_string());
    }
    failing_[i] = !sent;
  }
}

}  // namespace zdm::ops
