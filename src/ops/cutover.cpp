#include "ops/cutover.hpp"

#include <fmt/format.h>

#include "ops/status_view.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::ops {
namespace {

// A double-quoted literal, valid in HOCON, Python, JavaScript and Go.
std::string quoted(const std::string& text) { return nlohmann::json(text).dump(); }

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::vector<std::string> quoted_all(const std::vector<std::string>& items,
                                    const std::string& suffix = "") {
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(quoted(item + suffix));
  return out;
}

std::string datacenter_literal(const TargetConnection& t) {
  return quoted(t.local_datacenter.empty() ? "<target datacenter>" : t.local_datacenter);
}

// The note a snippet carries when the proxies do not know target's datacenter.
std::string datacenter_note(const TargetConnection& t, const std::string& comment) {
  if (!t.local_datacenter.empty()) return "";
  return comment +
         " the proxies have no target_local_datacenter: put target's datacenter name here\n";
}

std::string java_snippet(const TargetConnection& t) {
  std::string out = "datastax-java-driver {\n";
  if (!t.secure_connect_bundle.empty()) {
    out +=
        fmt::format("  basic.cloud.secure-connect-bundle = {}\n", quoted(t.secure_connect_bundle));
  } else {
    std::string port = ":" + std::to_string(t.port);
    out += datacenter_note(t, "  #");
    out += fmt::format("  basic.contact-points = [{}]\n",
                       joined(quoted_all(t.contact_points, port), ", "));
    out +=
        fmt::format("  basic.load-balancing-policy.local-datacenter = {}\n", datacenter_literal(t));
  }
  if (!t.username.empty() || !t.secure_connect_bundle.empty()) {
    out += "  advanced.auth-provider {\n    class = PlainTextAuthProvider\n";
    out += fmt::format("    username = {}\n    password = \"<password>\"\n  }}\n",
                       quoted(t.username.empty() ? "<client id>" : t.username));
  }
  if (!t.tls_ca.empty() && t.secure_connect_bundle.empty()) {
    out += fmt::format(
        "  # TLS: a truststore holding the CA of target_tls_server_ca_path ({})\n"
        "  advanced.ssl-engine-factory {{\n    class = DefaultSslEngineFactory\n"
        "    truststore-path = \"<truststore.jks>\"\n  }}\n",
        t.tls_ca);
  }
  return out + "}\n";
}

std::string python_snippet(const TargetConnection& t) {
  const bool auth = !t.username.empty() || !t.secure_connect_bundle.empty();
  std::string out = "from cassandra.cluster import Cluster\n";
  if (auth) out += "from cassandra.auth import PlainTextAuthProvider\n";
  if (t.secure_connect_bundle.empty()) {
    out += "from cassandra.policies import DCAwareRoundRobinPolicy\n";
    if (!t.tls_ca.empty()) out += "import ssl\n";
    out += "\n";
    if (!t.tls_ca.empty()) {
      out += fmt::format("ssl_context = ssl.create_default_context(cafile={})\n", quoted(t.tls_ca));
    }
    out += datacenter_note(t, "#");
    out += fmt::format("cluster = Cluster(\n    contact_points=[{}],\n    port={},\n",
                       joined(quoted_all(t.contact_points), ", "), t.port);
    out += fmt::format("    load_balancing_policy=DCAwareRoundRobinPolicy(local_dc={}),\n",
                       datacenter_literal(t));
    if (!t.tls_ca.empty()) out += "    ssl_context=ssl_context,\n";
  } else {
    out += fmt::format("\ncluster = Cluster(\n    cloud={{\"secure_connect_bundle\": {}}},\n",
                       quoted(t.secure_connect_bundle));
  }
  if (auth) {
    out += fmt::format("    auth_provider=PlainTextAuthProvider({}, \"<password>\"),\n",
                       quoted(t.username.empty() ? "<client id>" : t.username));
  }
  return out + ")\nsession = cluster.connect()\n";
}

std::string nodejs_snippet(const TargetConnection& t) {
  std::string out = "const cassandra = require('cassandra-driver');\n";
  if (!t.tls_ca.empty() && t.secure_connect_bundle.empty()) out += "const fs = require('fs');\n";
  out += "\n" + datacenter_note(t, "//");
  out += "const client = new cassandra.Client({\n";
  if (!t.secure_connect_bundle.empty()) {
    out +=
        fmt::format("  cloud: {{ secureConnectBundle: {} }},\n", quoted(t.secure_connect_bundle));
  } else {
    out += fmt::format("  contactPoints: [{}],\n", joined(quoted_all(t.contact_points), ", "));
    out += fmt::format("  protocolOptions: {{ port: {} }},\n", t.port);
    out += fmt::format("  localDataCenter: {},\n", datacenter_literal(t));
    if (!t.tls_ca.empty()) {
      out += fmt::format("  sslOptions: {{ ca: [fs.readFileSync({})] }},\n", quoted(t.tls_ca));
    }
  }
  if (!t.username.empty() || !t.secure_connect_bundle.empty()) {
    out += fmt::format("  credentials: {{ username: {}, password: \"<password>\" }},\n",
                       quoted(t.username.empty() ? "<client id>" : t.username));
  }
  return out + "});\n";
}

std::string go_snippet(const TargetConnection& t) {
  if (!t.secure_connect_bundle.empty()) {
    return fmt::format(
        "// gocql reads no secure connect bundle itself: github.com/datastax/gocql-astra does\n"
        "cluster, err := gocqlastra.NewClusterFromBundle({},\n"
        "\t{}, \"<password>\", 10*time.Second)\n"
        "if err != nil {{\n\tpanic(err)\n}}\n"
        "session, err := gocql.NewSession(*cluster)\n",
        quoted(t.secure_connect_bundle), quoted(t.username.empty() ? "<client id>" : t.username));
  }
  std::string out = datacenter_note(t, "//");
  out +=
      fmt::format("cluster := gocql.NewCluster({})\n", joined(quoted_all(t.contact_points), ", "));
  out += fmt::format("cluster.Port = {}\n", t.port);
  out += fmt::format(
      "cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(\n"
      "\tgocql.DCAwareRoundRobinPolicy({}))\n",
      datacenter_literal(t));
  if (!t.username.empty()) {
    out += fmt::format(
        "cluster.Authenticator = gocql.PasswordAuthenticator{{Username: {}, Password: "
        "\"<password>\"}}\n",
        quoted(t.username));
  }
  if (!t.tls_ca.empty()) {
    out += fmt::format("cluster.SslOpts = &gocql.SslOptions{{CaPath: {}}}\n", quoted(t.tls_ca));
  }
  return out + "session, err := cluster.CreateSession()\n";
}

void judge_proxy(const ProxySnapshot& snap, CutoverVerdict& v) {
  const std::string where = snap.address.to_string();
  if (snap.error || !snap.status || !snap.settings) {
    v.reasons.push_back(
        fmt::format("proxy {} could not be checked: {}", where, snap.error.value_or("no answer")));
    return;
  }
  const auto& s = *snap.status;
  const std::string primary = snap.settings->text("primary_cluster");
  if (primary != "TARGET") {
    v.reasons.push_back(
        fmt::format("proxy {}: primary_cluster is {}, not TARGET (run zdm ctl phase 4 first)",
                    where, primary.empty() ? "unknown" : primary));
  }
  if (s.async_read_errors > 0) {
    v.reasons.push_back(fmt::format(
        "proxy {}: {} async-read error{} (reads copied to the secondary cluster failed: find out "
        "why before removing the proxies)",
        where, s.async_read_errors, s.async_read_errors == 1 ? "" : "s"));
  }
  if (s.mismatches > 0) {
    v.reasons.push_back(fmt::format(
        "proxy {}: {} read-comparison mismatch{} out of {} compared (the clusters answered "
        "differently: run zdm validate)",
        where, s.mismatches, s.mismatches == 1 ? "" : "es", s.compared));
  }
  if (s.journal_pending_records > 0 || s.secondary_in_flight > 0) {
    v.reasons.push_back(fmt::format(
        "proxy {}: {} journaled and {} in-flight write{} not yet on the secondary cluster (async "
        "secondary writes: wait until zdm_journal_pending_records is 0, or replay with zdm "
        "journal replay)",
        where, s.journal_pending_records, s.secondary_in_flight,
        s.journal_pending_records + s.secondary_in_flight == 1 ? "" : "s"));
  }
  if (s.journal_aside_records > 0 || s.secondary_lost > 0) {
    v.reasons.push_back(fmt::format(
        "proxy {}: {} write{} set aside by the secondary and {} lost (see zdm journal inspect "
        "--aside and the proxy's log; repair with zdm validate --fix missing,mismatch)",
        where, s.journal_aside_records, s.journal_aside_records == 1 ? "" : "s", s.secondary_lost));
  }
  if (snap.clients) {
    for (const auto& c : *snap.clients) v.clients.push_back(ConnectedClient{where, c});
  } else if (s.clients > 0) {
    v.reasons.push_back(fmt::format("proxy {}: {} client(s) connected", where, s.clients));
  }
  auto target = TargetConnection::from_settings(*snap.settings);
  if (!v.target) {
    v.target = std::move(target);
  } else if (!(*v.target == target)) {
    v.reasons.push_back(fmt::format(
        "proxy {} reaches target with other settings than the first proxy (contact points, port, "
        "datacenter or bundle): the snippets below use the first proxy's",
        where));
  }
}

}  // namespace

TargetConnection TargetConnection::from_settings(const ProxySettings& settings) {
  TargetConnection t;
  t.contact_points = proxy::split_list(settings.text("target_contact_points"));
  if (settings.config.contains("target_port")) {
    const auto& port = settings.config["target_port"];
    if (port.is_number_integer()) {
      t.port = port.get<int64_t>();
    } else if (port.is_string()) {
      try {
        t.port = std::stoll(port.get<std::string>());
      } catch (...) {
        // keep the default port: the snippet still shows where it goes
      }
    }
  }
  t.local_datacenter = settings.text("target_local_datacenter");
  t.secure_connect_bundle = settings.text("target_secure_connect_bundle_path");
  t.username = settings.text("target_username");
  t.tls_ca = settings.text("target_tls_server_ca_path");
  return t;
}

CutoverVerdict judge_cutover(const std::vector<ProxySnapshot>& snapshots) {
  CutoverVerdict v;
  for (const auto& snap : snapshots) judge_proxy(snap, v);
  if (!v.clients.empty()) {
    v.reasons.push_back(fmt::format(
        "{} client connection{} still go through the proxies: move the applications to target "
        "(settings below) first",
        v.clients.size(), v.clients.size() == 1 ? "" : "s"));
  }
  v.ready = v.reasons.empty() && !snapshots.empty();
  return v;
}

std::vector<DriverSnippet> driver_snippets(const TargetConnection& target) {
  return {
      {"Java, DataStax Java driver 4.x", "java", "application.conf", java_snippet(target)},
      {"Python, DataStax Python driver", "python", "python", python_snippet(target)},
      {"Node.js, DataStax Node.js driver", "nodejs", "javascript", nodejs_snippet(target)},
      {"Go, gocql", "go", "go", go_snippet(target)},
  };
}

std::string render_cutover_text(const CutoverVerdict& verdict) {
  std::string out = verdict.ready ? "READY: the proxies can be removed (phase 5)\n"
                                  : "NOT READY: the proxies cannot be removed yet\n";
  for (const auto& reason : verdict.reasons) out += "  - " + reason + "\n";
  if (!verdict.clients.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [proxy, c] : verdict.clients) {
      std::string driver = c.driver_name.empty() ? "(not sent)" : c.driver_name;
      if (!c.driver_version.empty()) driver += " " + c.driver_version;
      rows.push_back({proxy, c.address, driver, c.keyspace.empty() ? "-" : c.keyspace,
                      c.last_request_at.empty() ? "-" : c.last_request_at});
    }
    out += "\nclients still connected:\n" +
           render_table({"PROXY", "CLIENT", "DRIVER", "KEYSPACE", "LAST REQUEST"}, rows);
  }
  if (!verdict.target) return out;
  out += "\nApplications connect to target directly with these settings";
  out += verdict.target->secure_connect_bundle.empty() ? ":\n" : " (Astra):\n";
  for (const auto& s : driver_snippets(*verdict.target)) {
    out += fmt::format("\n--- {} ({})\n{}", s.driver, s.language, s.text);
  }
  return out;
}

nlohmann::json cutover_json(const CutoverVerdict& verdict) {
  nlohmann::json clients = nlohmann::json::array();
  for (const auto& [proxy, c] : verdict.clients) {
    nlohmann::json entry = c.raw.is_object() ? c.raw : nlohmann::json::object();
    entry["proxy"] = proxy;
    clients.push_back(std::move(entry));
  }
  nlohmann::json out{{"ready", verdict.ready}, {"reasons", verdict.reasons}, {"clients", clients}};
  if (!verdict.target) {
    out["target"] = nullptr;
    out["snippets"] = nullptr;
    return out;
  }
  const auto& t = *verdict.target;
  out["target"] = {{"contact_points", t.contact_points},
                   {"port", t.port},
                   {"local_datacenter", t.local_datacenter},
                   {"secure_connect_bundle", t.secure_connect_bundle},
                   {"username", t.username},
                   {"tls_server_ca_path", t.tls_ca}};
  nlohmann::json snippets = nlohmann::json::object();
  for (const auto& s : driver_snippets(t)) snippets[s.key] = s.text;
  out["snippets"] = std::move(snippets);
  return out;
}

}  // namespace zdm::ops
