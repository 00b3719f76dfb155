#pragma once
// The proxy's admin routes on an HttpServer, shaped exactly as the reference ZDM proxy's:
//   GET /metrics           Prometheus text format 0.0.4 of a Registry
//   GET /health/liveness   200 "OK" while the process serves HTTP
//   GET /health/readiness  {"OriginStatus":{...},"TargetStatus":{...},"Status":"UP"}; 200 when
//                          both control connections are UP, 503 when DOWN or STARTUP (no status
//                          provider yet: the HTTP server comes up before the proxy is ready).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admin/http_server.hpp"
#include "common/metrics.hpp"

namespace zdm::admin {

enum class HealthStatus { Up, Down, Startup };
std::string_view health_status_name(HealthStatus status);  // "UP", "DOWN", "STARTUP"

// One control connection, as the reference reports it.
struct ControlConnStatus {
  std::string addr = "NOT_CONNECTED";  // "ip:port" of the current contact point
  int current_failure_count = 0;
  int failure_count_threshold = 1;  // ZDM_HEARTBEAT_FAILURE_THRESHOLD
  HealthStatus status = HealthStatus::Down;

  // Status UP unless failures reached the threshold (the reference's rule).
  static ControlConnStatus from_failures(std::string addr, int failures, int threshold);
};

struct ReadinessReport {
  std::optional<ControlConnStatus> origin;  // null in the JSON during STARTUP
  std::optional<ControlConnStatus> target;
  HealthStatus status = HealthStatus::Startup;

  static ReadinessReport startup() { return {}; }
  // UP when both are UP, else DOWN.
  static ReadinessReport from(ControlConnStatus origin, ControlConnStatus target);
};

// The reference's JSON (field order and names as Go's encoding/json emits them, no spaces).
std::string readiness_json(const ReadinessReport& report);
unsigned readiness_http_status(const ReadinessReport& report);  // 200 if UP, else 503

// Called on the io thread for each readiness request; must be thread-safe and quick.
using ReadinessProvider = std::function<ReadinessReport()>;

class AdminEndpoints {
 public:
  // Registers the three routes on `server`. `registry` must outlive the server's use of it.
  AdminEndpoints(HttpServer& server, const metrics::Registry& registry);

  // Thread-safe; until set (or after clear) readiness reports STARTUP with 503.
  void set_readiness_provider(ReadinessProvider provider);
  void clear_readiness_provider();

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace zdm::admin
