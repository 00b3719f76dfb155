// zdm node: an embedded single-node CQL server (in-memory storage, system tables, optional
// PasswordAuthenticator and TLS, fault injection), the default origin and target for the demo,
// tests and benchmarks. --cassandra-version 2.2 makes it answer like Cassandra 2.2.18.
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "net/listener.hpp"
#include "node/server/node_server.hpp"

namespace zdm::cli {
namespace {

struct NodeOptions {
  std::string listen = "127.0.0.1:9042";
  std::string cluster_name = "zdm";
  std::string datacenter = "dc1";
  std::string rack = "rack1";
  size_t threads = 0;
  std::vector<std::string> users;
  std::string authenticator = "PasswordAuthenticator";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool tls_require_client_cert = false;
  std::string protocol_versions = "3,4,5";
  bool protocol_versions_given = false;
  std::string cassandra_version = "4.0";
  bool v5_beta = false;
  std::string prepared_id_salt;
  std::string admin;
  std::vector<std::string> faults;
  std::vector<std::string> peers;
  std::string log_level = "info";
  uint32_t max_frame_mb = 16;
};

int fail_with(const std::string& what) {
  std::fprintf(stderr, "zdm node: %s\n", what.c_str());
  return 2;
}

int run_node(const NodeOptions& opts) {
  auto level = spdlog::level::from_str(opts.log_level);
  if (level == spdlog::level::off && opts.log_level != "off") {
    return fail_with("--log-level must be one of trace, debug, info, warn, error, critical, off");
  }
  // Logs go to stderr; stdout carries only the ready line that scripts and tests parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("zdm node"));
  spdlog::set_level(level);

  node::NodeServerOptions options;
  auto listen = net::parse_host_port(opts.listen);
  if (!listen) return fail_with("--listen: " + listen.error().message);
  options.listen = *listen;
  options.threads = opts.threads;
  options.identity.cluster_name = opts.cluster_name;
  options.identity.datacenter = opts.datacenter;
  options.identity.rack = opts.rack;
  for (const auto& p : opts.peers) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(p, ec);
    if (ec) return fail_with("--peer '" + p + "': not an IP address");
    options.identity.peers.push_back(address.to_string());
  }
  auto cassandra = node::parse_cassandra_version(opts.cassandra_version);
  if (!cassandra) return fail_with("--cassandra-version: " + cassandra.error().message);
  node::set_cassandra_version(options.identity, *cassandra);
  const bool v22 = *cassandra == node::CassandraVersion::V2_2;
  auto versions = node::parse_protocol_versions(
      v22 && !opts.protocol_versions_given ? std::string("3,4") : opts.protocol_versions);
  if (!versions) return fail_with("--protocol-versions: " + versions.error().message);
  if (v22) {
    for (auto v : *versions) {
      if (v != protocol::ProtocolVersion::V3 && v != protocol::ProtocolVersion::V4) {
        return fail_with(
            "--protocol-versions: Cassandra 2.2 serves protocol v3 and v4 only "
            "(--cassandra-version 2.2)");
      }
    }
    if (opts.v5_beta) return fail_with("--protocol-v5-beta: Cassandra 2.2 has no protocol v5");
  }
  options.protocol_versions = *versions;
  options.v5_beta = opts.v5_beta;
  auto authenticator = node::parse_authenticator_kind(opts.authenticator);
  if (!authenticator) return fail_with("--authenticator: " + authenticator.error().message);
  options.authenticator = *authenticator;
  for (const auto& u : opts.users) {
    auto user = node::parse_user_spec(u);
    if (!user) return fail_with("--user: " + user.error().message);
    options.users.push_back(*user);
  }
  if (!opts.tls_cert.empty() || !opts.tls_key.empty()) {
    net::ServerTlsOptions tls;
    tls.cert_file = opts.tls_cert;
    tls.key_file = opts.tls_key;
    tls.ca_file = opts.tls_ca;
    tls.client_cert = opts.tls_require_client_cert ? net::ClientCertPolicy::Required
                                                   : net::ClientCertPolicy::Optional;
    options.tls = tls;
  } else if (!opts.tls_ca.empty() || opts.tls_require_client_cert) {
    return fail_with("--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key");
  }
  options.prepared_id_salt = opts.prepared_id_salt;
  if (!opts.admin.empty()) {
    auto admin = net::parse_host_port(opts.admin);
    if (!admin) return fail_with("--admin: " + admin.error().message);
    options.admin = *admin;
  }
  for (const auto& f : opts.faults) {
    auto rule = node::parse_fault_spec(f);
    if (!rule) return fail_with("--fault '" + f + "': " + rule.error().message);
    options.faults.push_back(std::move(*rule));
  }
  if (opts.max_frame_mb == 0 || opts.max_frame_mb > 256) {
    return fail_with("--max-frame-mb must be from 1 to 256");
  }
  options.framing.max_frame_body_length = opts.max_frame_mb * 1024u * 1024u;

  // Signals are waited for before the server threads start, so they never see SIGINT/SIGTERM.
  boost::asio::io_context main_context;
  boost::asio::signal_set signals(main_context, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});

  node::NodeServer server(std::move(options));
  if (auto ok = server.start(); !ok) return fail_with(ok.error().message);
  std::printf("%s\n", server.ready_line().c_str());
  std::fflush(stdout);

  main_context.run();  // returns once a signal arrived
  spdlog::info("zdm node: shutting down");
  server.stop();
  return 0;
}

}  // namespace

void add_node_command(CLI::App& app) {
  auto opts = std::make_shared<NodeOptions>();
  auto* cmd = app.add_subcommand(
      "node", "Run an embedded single-node CQL server (in-memory storage, fault injection)");
  cmd->footer(
      "Prints one line on stdout when ready, e.g.\n"
      "  zdm node: listening on 127.0.0.1:9042 (cql), admin on 127.0.0.1:8080\n"
      "With port 0 the OS picks free ports and the line tells which. SIGINT/SIGTERM stop it.\n"
      "\n"
      "Fault rules (--fault, or POST /faults on the admin endpoint) are key=value lists:\n"
      "  opcode=QUERY|PREPARE|EXECUTE|BATCH|...  (default: any of those four)\n"
      "  query=<regex>          searched in the statement text (EXECUTE: the prepared text)\n"
      "  action=delay|error|drop|no_response\n"
      "  delay_ms=N             delay action, or wait before error/drop\n"
      "  error=WRITE_TIMEOUT|READ_TIMEOUT|UNAVAILABLE|OVERLOADED|...  message='...'\n"
      "  apply=true             error action: execute the request first (a write that happened)\n"
      "  probability=0.5 seed=N count=N name=...\n"
      "  Quote values holding commas with '...'. A JSON object with the same keys works too.\n"
      "Example: --fault \"action=error,error=WRITE_TIMEOUT,query='^INSERT INTO ks\\.t'\"\n"
      "\n"
      "Admin HTTP (--admin): GET /health, GET|POST|DELETE /faults, DELETE /faults/<id>,\n"
      "GET /counters, POST /counters/reset, POST /prepared/clear.\n"
      "\n"
      "--cassandra-version 2.2 answers like Cassandra 2.2.18: system.schema_keyspaces,\n"
      "schema_columnfamilies, schema_columns, schema_usertypes (marshal class names) instead of\n"
      "system_schema, no system.peers_v2, protocol v3/v4, WRITETIME/TTL refused on collections.");
  cmd->add_option("--listen", opts->listen, "CQL address host:port (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--cluster-name", opts->cluster_name, "cluster name in system.local")
      ->capture_default_str();
  cmd->add_option("--datacenter", opts->datacenter, "datacenter in system.local")
      ->capture_default_str();
  cmd->add_option("--rack", opts->rack, "rack in system.local")->capture_default_str();
  cmd->add_option("--threads", opts->threads,
                  "io threads, each serving its share of connections (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--user", opts->users,
                  "name:password; repeatable. Any user enables PasswordAuthenticator");
  cmd->add_option("--authenticator", opts->authenticator,
                  "with --user: PasswordAuthenticator, or DseAuthenticator (SASL mechanism name "
                  "\"PLAIN\" first, then the credentials; a plain token is accepted too)")
      ->capture_default_str();
  cmd->add_option("--tls-cert", opts->tls_cert, "PEM server certificate (chain): enables TLS");
  cmd->add_option("--tls-key", opts->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--tls-ca", opts->tls_ca, "PEM CA certificates to verify client certificates");
  cmd->add_flag("--tls-require-client-cert", opts->tls_require_client_cert,
                "reject clients without a certificate signed by --tls-ca (mutual TLS)");
  cmd->add_option("--cassandra-version", opts->cassandra_version,
                  "answer like this Cassandra release: 4.0 (4.0.11: system_schema, peers_v2, "
                  "protocol v3-v5) or 2.2 (2.2.18: system.schema_* tables with marshal class "
                  "names, no system_schema or peers_v2, protocol v3-v4, WRITETIME/TTL refused "
                  "on every collection); 2.2.18 or 4.0.11 are accepted too")
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--protocol-versions",
         [opts](const std::string& v) {
           opts->protocol_versions = v;
           opts->protocol_versions_given = true;
         },
         "protocol versions accepted, e.g. 3,4 or 3,4,5,dse_v1,dse_v2 (others get "
         "Cassandra's 'Invalid or unsupported protocol version' error so drivers "
         "downgrade); default 3,4,5, or 3,4 with --cassandra-version 2.2")
      ->default_str("3,4,5");
  cmd->add_flag("--protocol-v5-beta", opts->v5_beta,
                "treat v5 as a beta version (clients must set USE_BETA), as Cassandra 3.x/4.0 "
                "betas did");
  cmd->add_option("--prepared-id-salt", opts->prepared_id_salt,
                  "mixed into prepared statement ids, so two nodes give different ids");
  cmd->add_option("--admin", opts->admin,
                  "fault-injection HTTP endpoint host:port (e.g. 127.0.0.1:0); off if unset");
  cmd->add_option("--fault", opts->faults, "a fault rule applied from the start; repeatable");
  cmd->add_option("--peer", opts->peers,
                  "IP of another node of this cluster, listed in system.peers (same datacenter, "
                  "rack and port; nodes do not replicate); repeatable. Run nodes on 127.0.0.2:P, "
                  "127.0.0.3:P, ... each naming the others to test failover");
  cmd->add_option("--max-frame-mb", opts->max_frame_mb,
                  "largest request frame body accepted, in MiB (Cassandra's default is 16)")
      ->capture_default_str();
  cmd->add_option("--log-level", opts->log_level,
                  "trace, debug, info, warn, error, critical or off (logs go to stderr)")
      ->capture_default_str();
  cmd->callback([opts] { set_exit_code(run_node(*opts)); });
}

}  // namespace zdm::cli
