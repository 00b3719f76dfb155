#include "ops/preflight_proxies.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "protocol/cql_lexer.hpp"

namespace zdm::ops {

namespace {

constexpr size_t kMaxListed = 3;           // statements quoted per finding
constexpr size_t kMaxBodyBytes = 8 << 20;  // 1000 statements of a few KiB each

std::string quoted_list(const std::vector<const ProxyStatement*>& statements) {
  std::string out;
  for (size_t i = 0; i < statements.size() && i < kMaxListed; ++i) {
    out += (i ? "; " : "") + fmt::format("\"{}\"", statements[i]->query);
  }
  if (statements.size() > kMaxListed) {
    out += fmt::format("; and {} more", statements.size() - kMaxListed);
  }
  return out;
}

}  // namespace

Result<std::vector<ProxyStatement>> parse_proxy_statements(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    return fail(Errc::Malformed, "/api/v1/statements: the answer is not a JSON object");
  }
  auto list = doc.find("statements");
  if (list == doc.end() || !list->is_array()) {
    return fail(Errc::Malformed, "/api/v1/statements: no \"statements\" array");
  }
  std::vector<ProxyStatement> out;
  for (const auto& item : *list) {
    if (!item.is_object()) {
      return fail(Errc::Malformed, "/api/v1/statements: an entry is not an object");
    }
    auto query = item.find("query");
    if (query == item.end() || !query->is_string()) {
      return fail(Errc::Malformed, "/api/v1/statements: an entry has no \"query\" string");
    }
    ProxyStatement s;
    s.query = query->get<std::string>();
    if (auto ks = item.find("keyspace"); ks != item.end() && ks->is_string()) {
      s.keyspace = ks->get<std::string>();
    }
    if (auto fns = item.find("nondeterministic_functions"); fns != item.end()) {
      if (!fns->is_array()) {
        return fail(Errc::Malformed,
                    "/api/v1/statements: \"nondeterministic_functions\" is not an array");
      }
      for (const auto& f : *fns) {
        if (f.is_string()) s.nondeterministic_functions.push_back(f.get<std::string>());
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<bool> parse_replace_cql_functions(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    return fail(Errc::Malformed, "/api/v1/config: the answer is not a JSON object");
  }
  auto config = doc.find("config");
  if (config == doc.end() || !config->is_object()) {
    return fail(Errc::Malformed, "/api/v1/config: no \"config\" object");
  }
  auto value = config->find("replace_cql_functions");
  if (value == config->end()) {
    return fail(Errc::Malformed, "/api/v1/config: no \"replace_cql_functions\" setting");
  }
  if (value->is_boolean()) return value->get<bool>();
  if (value->is_string()) {
    const auto text = value->get<std::string>();
    if (protocol::iequals(text, "true")) return true;
    if (protocol::iequals(text, "false")) return false;
  }
  return fail(
      Errc::Malformed,
      "/api/v1/config: \"replace_cql_functions\" is neither true nor false: " + value->dump());
}

bool is_lwt(std::string_view query) {
  protocol::CqlLexer lexer(query);
  auto first = lexer.next();
  if (!(first.is_keyword("INSERT") || first.is_keyword("UPDATE") || first.is_keyword("DELETE") ||
        first.is_keyword("BEGIN"))) {
    return false;
  }
  for (auto token = lexer.next(); !token.is(protocol::CqlTokenKind::End); token = lexer.next()) {
    if (token.is_keyword("IF")) return true;
  }
  return false;
}

std::vector<Check> proxy_checks(const ProxyFindings& f) {
  std::vector<Check> out;
  const std::string prefix = "proxy " + f.proxy;
  if (!f.error.empty()) {
    out.push_back({prefix + " API", CheckResult::Fail, f.error,
                   "give each proxy's admin address (metrics_address:metrics_port, "
                   "ZDM_METRICS_PORT) with --proxies, and check that the proxy runs"});
    return out;
  }
  std::vector<const ProxyStatement*> functions;
  std::vector<const ProxyStatement*> lwts;
  for (const auto& s : f.statements) {
    if (!s.nondeterministic_functions.empty()) functions.push_back(&s);
    if (is_lwt(s.query)) lwts.push_back(&s);
  }
  Check fn{prefix + " functions", CheckResult::Pass, "", ""};
  if (functions.empty()) {
    fn.detail = fmt::format(
        "none of the {} prepared statement(s) seen calls now(), uuid() or "
        "another function whose value depends on where it runs",
        f.statements.size());
  } else if (f.replace_cql_functions) {
    fn.detail = fmt::format(
        "{} statement(s) call now()/uuid()-like functions; "
        "replace_cql_functions is on, both clusters get the same values",
        functions.size());
  } else {
    fn.result = CheckResult::Warn;
    fn.detail = fmt::format(
        "{} statement(s) call functions evaluated separately on each cluster while "
        "replace_cql_functions is off: {}",
        functions.size(), quoted_list(functions));
    fn.advice =
        "set ZDM_REPLACE_CQL_FUNCTIONS=true (replace_cql_functions) so the proxy computes the "
        "values once for both clusters, or compute them in the application; otherwise the two "
        "clusters store different ids and timestamps";
  }
  out.push_back(std::move(fn));
  if (!lwts.empty()) {
    out.push_back(
        {prefix + " LWT", CheckResult::Warn,
         fmt::format("{} lightweight transaction(s) (conditional writes): {}", lwts.size(),
                     quoted_list(lwts)),
         "the proxy forwards LWTs to both clusters and each decides on its own, so they may "
         "disagree (applied on one, not on the other); the client sees the primary's answer. "
         "Check these tables with zdm validate after phase 2 and before the cut-over"});
  }
  return out;
}

ProxyFindings fetch_proxy_findings(const AdminAddress& admin, std::chrono::milliseconds timeout) {
  ProxyFindings out;
  out.proxy = admin.to_string();
  AdminClientOptions options;
  options.timeout = timeout;
  const AdminClient client(admin, options);
  auto config = client.get("/api/v1/config");
  if (!config) {
    out.error = config.error().message;
    return out;
  }
  auto replace = parse_replace_cql_functions(*config);
  if (!replace) {
    out.error = replace.error().message;
    return out;
  }
  out.replace_cql_functions = *replace;
  auto statements = client.get("/api/v1/statements");
  if (!statements) {
    out.error = statements.error().message;
    return out;
  }
  auto parsed = parse_proxy_statements(*statements);
  if (!parsed) {
    out.error = parsed.error().message;
    return out;
  }
  out.statements = std::move(*parsed);
  return out;
}

}  // namespace zdm::ops
