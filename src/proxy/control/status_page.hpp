#pragma once
// The proxy's status page (GET / on the admin port): one self-contained HTML page (no external
// resources) whose script reads /api/v1/status, /api/v1/clients, /api/v1/config and
// /api/v1/migrations every 2 s and shows the phase, the configuration generation, readiness per
// cluster, request rates and failures per cluster, read comparison, clients by driver and the
// progress of migrations that report to the proxy. For operators without Grafana.

#include <string_view>

namespace zdm::proxy {

std::string_view status_page_html();

}  // namespace zdm::proxy
