#include "admin/admin_endpoints.hpp"

#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

namespace zdm::admin {

std::string_view health_status_name(HealthStatus status) {
  switch (status) {
    case HealthStatus::Up:
      return "UP";
    case HealthStatus::Down:
      return "DOWN";
    case HealthStatus::Startup:
      return "STARTUP";
  }
  return "DOWN";
}

ControlConnStatus ControlConnStatus::from_failures(std::string addr, int failures, int threshold) {
  ControlConnStatus s;
  s.addr = std::move(addr);
  s.current_failure_count = failures;
  s.failure_count_threshold = threshold;
  s.status = failures >= threshold ? HealthStatus::Down : HealthStatus::Up;
  return s;
}

ReadinessReport ReadinessReport::from(ControlConnStatus origin, ControlConnStatus target) {
  ReadinessReport r;
  r.status = origin.status == HealthStatus::Up && target.status == HealthStatus::Up
                 ? HealthStatus::Up
                 : HealthStatus::Down;
  r.origin = std::move(origin);
  r.target = std::move(target);
  return r;
}

namespace {
nlohmann::ordered_json conn_json(const std::optional<ControlConnStatus>& s) {
  if (!s) return nullptr;
  nlohmann::ordered_json j;
  j["Addr"] = s->addr;
  j["CurrentFailureCount"] = s->current_failure_count;
  j["FailureCountThreshold"] = s->failure_count_threshold;
  j["Status"] = std::string(health_status_name(s->status));
  return j;
}
}  // namespace

std::string readiness_json(const ReadinessReport& report) {
  nlohmann::ordered_json j;
  j["OriginStatus"] = conn_json(report.origin);
  j["TargetStatus"] = conn_json(report.target);
  j["Status"] = std::string(health_status_name(report.status));
  // Replace rather than throw on invalid UTF-8 in an address.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

unsigned readiness_http_status(const ReadinessReport& report) {
  return report.status == HealthStatus::Up ? 200 : 503;
}

struct AdminEndpoints::Shared {
  std::mutex mu;
  std::shared_ptr<const ReadinessProvider> provider;
};

AdminEndpoints::AdminEndpoints(HttpServer& server, const metrics::Registry& registry)
    : shared_(std::make_shared<Shared>()) {
  server.route("GET", "/metrics", [&registry](const HttpRequest&) {
    return HttpResponse{200, std::string(metrics::Registry::kContentType), registry.expose()};
  });
  server.route("GET", "/health/liveness",
               [](const HttpRequest&) { return HttpResponse::text(200, "OK"); });
  server.route("GET", "/health/readiness", [shared = shared_](const HttpRequest&) {
    std::shared_ptr<const ReadinessProvider> provider;
    {
      std::lock_guard lock(shared->mu);
      provider = shared->provider;
    }
    const auto report = provider && *provider ? (*provider)() : ReadinessReport::startup();
    return HttpResponse::json(readiness_http_status(report), readiness_json(report));
  });
}

void AdminEndpoints::set_readiness_provider(ReadinessProvider provider) {
  auto shared = std::make_shared<const ReadinessProvider>(std::move(provider));
  std::lock_guard lock(shared_->mu);
  shared_->provider = std::move(shared);
}

void AdminEndpoints::clear_readiness_provider() {
  std::lock_guard lock(shared_->mu);
  shared_->provider.reset();
}

}  // namespace zdm::admin
