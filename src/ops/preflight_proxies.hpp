#pragma once
// `zdm preflight --proxies`: what running proxies saw in the traffic (docs/operations-api.md):
// prepared statements that call functions whose value depends on where they run (now(), uuid(),
// currentTimestamp(), ...) while replace_cql_functions is off, and lightweight transactions. The
// JSON parsing and the rules are pure; fetch_proxy_findings asks a proxy (ops/admin_client).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "ops/admin_client.hpp"
#include "ops/preflight_report.hpp"

namespace zdm::ops {

struct ProxyStatement {
  std::string query;
  std::string keyspace;
  std::vector<std::string> nondeterministic_functions;  // "now", "uuid", ...
};

// GET /api/v1/statements: {"statements":[{"query","keyspace","nondeterministic_functions"}]}.
Result<std::vector<ProxyStatement>> parse_proxy_statements(const nlohmann::json& answer);
// GET /api/v1/config: {"config":{"replace_cql_functions": true|false|"true"|"false", ...}}.
Result<bool> parse_replace_cql_functions(const nlohmann::json& answer);

// A conditional write (INSERT ... IF NOT EXISTS, UPDATE/DELETE ... IF ...), found with the CQL
// lexer (an "IF" inside a string literal or identifier does not count).
bool is_lwt(std::string_view query);

// What one proxy reported.
struct ProxyFindings {
  std::string proxy;  // "10.0.0.5:14001"
  std::string error;  // the API could not be read (then nothing else is set)
  bool replace_cql_functions = false;
  std::vector<ProxyStatement> statements;
};

// Per proxy: "proxy <addr> API" FAIL when unreadable; "proxy <addr> functions" WARN when
// statements use non-deterministic functions and replace_cql_functions is off (PASS otherwise);
// "proxy <addr> LWT" WARN when conditional statements were seen.
std::vector<Check> proxy_checks(const ProxyFindings& findings);

// Reads GET /api/v1/config and GET /api/v1/statements from one proxy's admin port, each within
// `timeout`. Blocks the calling thread (AdminClient runs its own event loop).
ProxyFindings fetch_proxy_findings(const AdminAddress& admin, std::chrono::milliseconds timeout);

}  // namespace zdm::ops
