#pragma once
// The operations API on the proxy's admin port (docs/operations-api.md):
//   GET   /api/v1/config      effective configuration, generation, the settings that can change
//   PATCH /api/v1/config      change live settings (bearer token; If-Match: <generation>)
//   GET   /api/v1/status      phase, generation, readiness, clients, requests, failures, p99
//   GET   /api/v1/clients     every open client connection (driver, version, keyspace, activity)
//   GET   /api/v1/statements  prepared statements seen, with their non-deterministic functions
//   PATCH /api/v1/migrations  a `zdm migrate/validate --report-to` run's progress (bearer token)
//   GET   /api/v1/migrations  the runs that reported in the last 10 minutes
//   GET   /                   the status page (status_page.hpp), for operators without Grafana
// `zdm ctl`, `zdm status`, `zdm cutover` and `zdm preflight --proxies` are its clients. Handlers
// run on the admin server's io thread; everything they read is thread-safe.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "admin/admin_endpoints.hpp"
#include "admin/http_server.hpp"

namespace zdm::proxy {

class LiveConfig;
class SessionContext;
class PreparedCache;
struct ProxyMetrics;

// What the status answer needs from the server.
struct StatusSource {
  std::string version;                                // "zdm 0.1.0"
  std::function<std::string()> instance;              // "host:port" of the CQL listener
  std::function<admin::ReadinessReport()> readiness;  // as /health/readiness
  std::function<bool()> draining;
};

// The functions of a CQL statement whose value depends on when or where they run (now, uuid,
// currentTimestamp, ...), lower case, each once, in order of appearance. String literals and
// comments are skipped.
std::vector<std::string> nondeterministic_functions(std::string_view cql);

// The percentile `q` (0..1) of a histogram snapshot, interpolated inside its bucket as
// Prometheus' histogram_quantile does; 0 without observations.
double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<uint64_t>& cumulative);

class OperationsApi {
 public:
  // Registers the routes on `server`. Everything passed must outlive the server's use of it.
  // `token`: the bearer token changes need ("" = read-only API).
  OperationsApi(admin::HttpServer& server, LiveConfig& live, SessionContext& context,
                const ProxyMetrics& metrics, const PreparedCache& prepared, std::string token,
                StatusSource status);

 private:
  admin::HttpResponse get_config() const;
  admin::HttpResponse patch_config(const admin::HttpRequest& request);
  admin::HttpResponse get_status() const;
  admin::HttpResponse get_clients() const;
  admin::HttpResponse get_statements() const;
  admin::HttpResponse patch_migration(const admin::HttpRequest& request);
  admin::HttpResponse get_migrations() const;
  // The request's JSON body if its token is right; else the answer to give (401, 403, 400).
  tl::expected<nlohmann::ordered_json, admin::HttpResponse> authorized_json(
      const admin::HttpRequest& request) const;
  // Empty when the request may change the configuration; else the answer to give.
  std::optional<admin::HttpResponse> refuse_unauthorized(const admin::HttpRequest& request) const;

  LiveConfig& live_;
  SessionContext& context_;
  const ProxyMetrics& metrics_;
  const PreparedCache& prepared_;
  std::string token_;
  StatusSource status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  struct MigrationReport {
    std::string json;  // as reported, with "reported_at" and "from" added
    std::chrono::steady_clock::time_point received;
  };
  mutable std::mutex migrations_mu_;
  mutable std::map<std::string, MigrationReport> migrations_;  // by "command/run_id"
};

}  // namespace zdm::proxy
