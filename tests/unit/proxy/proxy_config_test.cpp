#include "proxy/proxy_config.hpp"

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zdm::proxy {
namespace {

Environment minimal_env() {
  return {{"ZDM_ORIGIN_CONTACT_POINTS", "10.0.0.1"}, {"ZDM_TARGET_CONTACT_POINTS", "10.0.0.2"}};
}

std::string minimal_yaml() {
  return "origin_contact_points: 10.0.0.1\ntarget_contact_points: 10.0.0.2\n";
}

// The validation message for a YAML document (which must fail).
std::string yaml_error(const std::string& extra) {
  auto loaded = load_config_from_yaml(minimal_yaml() + extra);
  EXPECT_FALSE(loaded.has_value()) << "accepted: " << extra;
  return loaded ? std::string() : loaded.error().message;
}

TEST(ProxyConfig, DefaultsMatchTheReference) {
  auto loaded = load_config_from_env(minimal_env());
  ASSERT_TRUE(loaded) << loaded.error().message;
  const ProxyConfig& c = loaded->config;
  EXPECT_EQ(c.primary_cluster, ClusterType::Origin);
  EXPECT_EQ(c.read_mode, ReadMode::PrimaryOnly);
  EXPECT_FALSE(c.replace_cql_functions);
  EXPECT_EQ(c.async_handshake_timeout_ms, 4000);
  EXPECT_EQ(c.log_level, LogLevel::Info);
  EXPECT_EQ(c.control_conn_max_protocol_version, "DseV2");
  EXPECT_EQ(c.tracing_request_id_key, "request-id");
  EXPECT_EQ(c.proxy_topology_index, 0);
  EXPECT_EQ(c.proxy_topology_num_tokens, 8);
  EXPECT_EQ(c.origin_port, 9042);
  EXPECT_EQ(c.target_port, 9042);
  EXPECT_EQ(c.origin_connection_timeout_ms, 30000);
  EXPECT_EQ(c.proxy_listen_address, "localhost");
  EXPECT_EQ(c.proxy_listen_port, 14002);
  EXPECT_EQ(c.proxy_request_timeout_ms, 10000);
  EXPECT_EQ(c.proxy_max_client_connections, 1000);
  EXPECT_EQ(c.proxy_max_stream_ids, 2048);
  EXPECT_TRUE(c.metrics_enabled);
  EXPECT_EQ(c.metrics_address, "localhost");
  EXPECT_EQ(c.metrics_port, 14001);
  EXPECT_EQ(c.metrics_prefix, "zdm");
  EXPECT_EQ(c.heartbeat_interval_ms, 30000);
  EXPECT_EQ(c.heartbeat_retry_interval_min_ms, 250);
  EXPECT_EQ(c.heartbeat_retry_interval_max_ms, 30000);
  EXPECT_EQ(c.heartbeat_retry_backoff_factor, 2.0);
  EXPECT_EQ(c.heartbeat_failure_threshold, 1);
  EXPECT_EQ(c.system_queries_mode, SystemQueriesMode::Origin);
  EXPECT_TRUE(c.origin_enable_host_assignment);
  EXPECT_EQ(c.request_read_buffer_size_bytes, 32768);
  EXPECT_EQ(c.response_write_buffer_size_bytes, 8192);
  EXPECT_EQ(c.request_response_max_workers, -1);
  EXPECT_EQ(c.event_queue_size_frames, 12);
  EXPECT_EQ(c.async_connector_write_queue_size_frames, 2048);
  EXPECT_EQ(c.prepared_cache_size, 10000);
  EXPECT_EQ(c.proxy_timeout_behaviour, TimeoutBehaviour::Error);
  EXPECT_EQ(c.read_comparison_rate, 0.0);
  EXPECT_GE(c.proxy_threads, 1);
  const std::vector<double> expected{0.001, 0.004, 0.007, 0.010, 0.025, 0.040, 0.060, 0.080, 0.100,
                                     0.150, 0.250, 0.500, 1.0,   2.5,   5.0,   10.0,  15.0};
  EXPECT_EQ(c.latency_buckets_seconds(ClusterType::Origin), expected);
  EXPECT_EQ(c.async_latency_buckets_seconds(), expected);
  EXPECT_EQ(loaded->source, ConfigSource::Environment);
}

TEST(ProxyConfig, ReadsEnvironmentVariables) {
  Environment env = minimal_env();
  env["ZDM_PRIMARY_CLUSTER"] = "target";  // enum values are case-insensitive
  env["ZDM_READ_MODE"] = "DUAL_ASYNC_ON_SECONDARY";
  env["ZDM_ORIGIN_PORT"] = "9043";
  env["ZDM_ORIGIN_USERNAME"] = "cassandra";
  env["ZDM_ORIGIN_PASSWORD"] = "s3cret";
  env["ZDM_REPLACE_CQL_FUNCTIONS"] = "true";
  env["ZDM_PROXY_MAX_STREAM_IDS"] = "32768";
  env["ZDM_READ_COMPARISON_RATE"] = "0.25";
  env["ZDM_PROXY_TIMEOUT_BEHAVIOUR"] = "silent";
  env["ZDM_BLOCKED_PROTOCOL_VERSIONS"] = "v5, DseV1";
  env["ZDM_ORIGIN_CONTACT_POINTS"] = "10.0.0.1, 10.0.0.3 ,";
  env["ZDM_UNRELATED_SETTING"] = "ignored";
  env["HOME"] = "/root";  // not ours
  auto loaded = load_config_from_env(env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  const ProxyConfig& c = loaded->config;
  EXPECT_EQ(c.primary_cluster, ClusterType::Target);
  EXPECT_EQ(c.read_mode, ReadMode::DualAsyncOnSecondary);
  EXPECT_EQ(c.origin_port, 9043);
  EXPECT_EQ(c.origin_password, "s3cret");
  EXPECT_TRUE(c.replace_cql_functions);
  EXPECT_EQ(c.proxy_max_stream_ids, 32768);
  EXPECT_EQ(c.read_comparison_rate, 0.25);
  EXPECT_EQ(c.proxy_timeout_behaviour, TimeoutBehaviour::Silent);
  EXPECT_EQ(c.contact_points(ClusterType::Origin),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  EXPECT_TRUE(c.is_blocked(protocol::ProtocolVersion::V5));
  EXPECT_TRUE(c.is_blocked(protocol::ProtocolVersion::DseV1));
  EXPECT_FALSE(c.is_blocked(protocol::ProtocolVersion::V4));
}

TEST(ProxyConfig, ReadsYamlWithScalarsAndLists) {
  auto loaded = load_config_from_yaml(R"(
primary_cluster: TARGET
origin_contact_points: [10.0.0.1, 10.0.0.3]
target_contact_points: 10.0.0.2
target_port: 9043
proxy_topology_addresses:
  - 10.1.0.1
  - 10.1.0.2
  - 10.1.0.3
proxy_topology_index: 2
metrics_origin_latency_buckets_ms: [1, 10, 100]
tracing_enabled: yes
origin_password:
)");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const ProxyConfig& c = loaded->config;
  EXPECT_EQ(c.primary_cluster, ClusterType::Target);
  EXPECT_EQ(c.contact_points(ClusterType::Origin),
            (std::vector<std::string>{"10.0.0.1", "10.0.0.3"}));
  EXPECT_EQ(c.target_port, 9043);
  EXPECT_EQ(c.topology_addresses(), (std::vector<std::string>{"10.1.0.1", "10.1.0.2", "10.1.0.3"}));
  EXPECT_EQ(c.proxy_topology_index, 2);
  EXPECT_EQ(c.latency_buckets_seconds(ClusterType::Origin),
            (std::vector<double>{0.001, 0.01, 0.1}));
  EXPECT_TRUE(c.tracing_enabled);
  EXPECT_EQ(c.origin_password, "");
}

TEST(ProxyConfig, FileWinsAndEnvironmentIsIgnored) {
  const std::string path = testing::TempDir() + "/zdm_proxy_config_test.yaml";
  {
    std::ofstream out(path);
    out << minimal_yaml() << "read_mode: PRIMARY_ONLY\n";
  }
  Environment env = minimal_env();
  env["ZDM_PRIMARY_CLUSTER"] = "TARGET";
  env["ZDM_READ_MODE"] = "DUAL_ASYNC_ON_SECONDARY";
  auto loaded = load_proxy_config(path, env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->source, ConfigSource::YamlFile);
  EXPECT_NE(loaded->source_description.find(path), std::string::npos);
  EXPECT_EQ(loaded->config.primary_cluster, ClusterType::Origin);
  EXPECT_EQ(loaded->config.read_mode, ReadMode::PrimaryOnly);

  auto from_env = load_proxy_config(std::nullopt, env);
  ASSERT_TRUE(from_env) << from_env.error().message;
  EXPECT_EQ(from_env->config.primary_cluster, ClusterType::Target);
  EXPECT_EQ(from_env->source, ConfigSource::Environment);

  auto missing = load_proxy_config(path + ".missing", env);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(".missing"), std::string::npos);
}

TEST(ProxyConfig, ErrorsNameTheSettingAndItsVariable) {
  const std::string m = yaml_error("primary_cluster: BOTH\n");
  EXPECT_NE(m.find("primary_cluster"), std::string::npos) << m;
  EXPECT_NE(m.find("ZDM_PRIMARY_CLUSTER"), std::string::npos) << m;
  EXPECT_NE(m.find("ORIGIN, TARGET"), std::string::npos) << m;

  auto env = minimal_env();
  env["ZDM_PROXY_LISTEN_PORT"] = "abc";
  auto loaded = load_config_from_env(env);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("ZDM_PROXY_LISTEN_PORT"), std::string::npos);
  EXPECT_NE(loaded.error().message.find("integer"), std::string::npos);
}

TEST(ProxyConfig, RejectsInvalidValues) {
  struct Case {
    std::string yaml;
    std::string must_mention;
  };
  const std::vector<Case> cases{
      {"read_mode: SOMETIMES\n", "read_mode"},
      {"log_level: LOUD\n", "log_level"},
      {"system_queries_mode: BOTH\n", "system_queries_mode"},
      {"proxy_timeout_behaviour: maybe\n", "proxy_timeout_behaviour"},
      {"origin_port: 0\n", "origin_port"},
      {"target_port: 65536\n", "target_port"},
      {"proxy_listen_port: -1\n", "proxy_listen_port"},
      {"metrics_port: 70000\n", "metrics_port"},
      {"origin_secure_connect_bundle_path: /b.zip\n", "origin_contact_points"},
      {"target_tls_client_cert_path: /c.pem\n", "target_tls_client_key_path"},
      {"target_tls_client_cert_path: /c.pem\ntarget_tls_client_key_path: /k.pem\n",
       "target_tls_server_ca_path"},
      {"proxy_tls_cert_path: /c.pem\nproxy_tls_key_path: /k.pem\n", "proxy_tls_ca_path"},
      {"proxy_tls_require_client_auth: true\n", "proxy_tls_require_client_auth"},
      {"origin_local_datacenter: dc1\norigin_enable_host_assignment: false\n",
       "origin_local_datacenter"},
      {"proxy_topology_addresses: 10.0.0.1,10.0.0.2\nproxy_topology_index: 2\n",
       "proxy_topology_index"},
      {"proxy_topology_index: -1\n", "proxy_topology_index"},
      {"proxy_topology_addresses: proxy-a,proxy-b\n", "proxy_topology_addresses"},
      {"proxy_topology_num_tokens: 0\n", "proxy_topology_num_tokens"},
      {"proxy_topology_num_tokens: 257\n", "proxy_topology_num_tokens"},
      {"metrics_origin_latency_buckets_ms: 1, 10, 5\n", "metrics_origin_latency_buckets_ms"},
      {"metrics_target_latency_buckets_ms: 1, ten\n", "metrics_target_latency_buckets_ms"},
      {"metrics_async_read_latency_buckets_ms: ''\n", "metrics_async_read_latency_buckets_ms"},
      {"control_conn_max_protocol_version: 6\n", "control_conn_max_protocol_version"},
      {"control_conn_max_protocol_version: 2\n", "not supported"},
      {"blocked_protocol_versions: v5,v7\n", "blocked_protocol_versions"},
      {"blocked_protocol_versions: v3,v4,v5,DseV1,DseV2\n", "every protocol version"},
      {"proxy_request_timeout_ms: 0\n", "proxy_request_timeout_ms"},
      {"origin_connection_timeout_ms: -5\n", "origin_connection_timeout_ms"},
      {"async_handshake_timeout_ms: 0\n", "async_handshake_timeout_ms"},
      {"heartbeat_interval_ms: 0\n", "heartbeat_interval_ms"},
      {"heartbeat_retry_interval_min_ms: 500\nheartbeat_retry_interval_max_ms: 100\n",
       "heartbeat_retry_interval_max_ms"},
      {"heartbeat_retry_backoff_factor: 0.5\n", "heartbeat_retry_backoff_factor"},
      {"proxy_max_stream_ids: 32769\n", "proxy_max_stream_ids"},
      {"proxy_max_stream_ids: 0\n", "proxy_max_stream_ids"},
      {"prepared_cache_size: 0\n", "prepared_cache_size"},
      {"read_comparison_rate: 1.5\n", "read_comparison_rate"},
      {"proxy_threads: 0\n", "proxy_threads"},
      {"read_max_workers: 0\n", "read_max_workers"},
      {"metrics_prefix: 9zdm\n", "metrics_prefix"},
      {"origin_username: cassandra\n", "origin_password"},
      {"target_password: x\n", "target_username"},
      {"replace_cql_functions: perhaps\n", "replace_cql_functions"},
      {"no_such_setting: 1\n", "no_such_setting"},
  };
  for (const Case& c : cases) {
    const std::string m = yaml_error(c.yaml);
    EXPECT_NE(m.find(c.must_mention), std::string::npos) << c.yaml << " -> " << m;
  }
}

TEST(ProxyConfig, RequiresContactPointsOrBundleButNotBoth) {
  auto neither = load_config_from_yaml("target_contact_points: 10.0.0.2\n");
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().message.find("origin_secure_connect_bundle_path"), std::string::npos);

  auto both = load_config_from_yaml(minimal_yaml() + "target_secure_connect_bundle_path: /b.zip\n");
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("not both"), std::string::npos);

  auto bundle = load_config_from_yaml(
      "origin_contact_points: 10.0.0.1\ntarget_secure_connect_bundle_path: /b.zip\n");
  EXPECT_TRUE(bundle) << bundle.error().message;
}

TEST(ProxyConfig, HostnameVerificationIsOnUnlessSkippedPerCluster) {
  auto defaults = load_config_from_env(minimal_env());
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_FALSE(defaults->config.origin_tls_skip_hostname_verification);
  EXPECT_FALSE(defaults->config.target_tls_skip_hostname_verification);

  auto env = minimal_env();
  env["ZDM_ORIGIN_TLS_SERVER_CA_PATH"] = "/ca.pem";
  env["ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION"] = "true";
  auto loaded = load_config_from_env(env);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_TRUE(loaded->config.origin_tls_skip_hostname_verification);
  EXPECT_FALSE(loaded->config.target_tls_skip_hostname_verification);
  const auto json = nlohmann::json::parse(describe_effective(loaded->config));
  EXPECT_EQ(json.at("origin_tls_skip_hostname_verification"), true);
  EXPECT_EQ(json.at("target_tls_skip_hostname_verification"), false);

  auto yaml = load_config_from_yaml(minimal_yaml() +
                                    "target_tls_server_ca_path: /ca.pem\n"
                                    "target_tls_skip_hostname_verification: yes\n");
  ASSERT_TRUE(yaml) << yaml.error().message;
  EXPECT_TRUE(yaml->config.target_tls_skip_hostname_verification);

  // With a bundle the setting applies to the SNI proxy's certificate.
  auto bundle = load_config_from_yaml(
      "origin_contact_points: 10.0.0.1\ntarget_secure_connect_bundle_path: /b.zip\n"
      "target_tls_skip_hostname_verification: true\n");
  EXPECT_TRUE(bundle) << bundle.error().message;

  // Without TLS the setting is a mistake (usually set for the wrong cluster).
  const std::string m = yaml_error("origin_tls_skip_hostname_verification: true\n");
  EXPECT_NE(m.find("ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION"), std::string::npos) << m;
  EXPECT_NE(m.find("origin_tls_server_ca_path"), std::string::npos) << m;
  const std::string b = yaml_error("target_tls_skip_hostname_verification: maybe\n");
  EXPECT_NE(b.find("target_tls_skip_hostname_verification"), std::string::npos) << b;
}

TEST(ProxyConfig, TlsKeyWithoutCertificateNamesTheMissingSetting) {
  const std::string m = yaml_error(
      "origin_tls_server_ca_path: /ca.pem\n"
      "origin_tls_client_key_path: /k.pem\n");
  EXPECT_NE(m.find("ZDM_ORIGIN_TLS_CLIENT_CERT_PATH"), std::string::npos) << m;
  auto scb = load_config_from_yaml(
      "origin_contact_points: 10.0.0.1\ntarget_secure_connect_bundle_path: /b.zip\n"
      "target_tls_server_ca_path: /ca.pem\n");
  ASSERT_FALSE(scb);
  EXPECT_NE(scb.error().message.find("target_secure_connect_bundle_path"), std::string::npos)
      << scb.error().message;
}

TEST(ProxyConfig, CredentialsAreOptional) {
  auto loaded = load_config_from_yaml(minimal_yaml());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_TRUE(loaded->config.origin_username.empty());
}

TEST(ProxyConfig, RejectsMalformedYaml) {
  EXPECT_FALSE(load_config_from_yaml("origin_contact_points: [10.0.0.1\n"));
  EXPECT_FALSE(load_config_from_yaml("- a\n- b\n"));
  EXPECT_FALSE(load_config_from_yaml(minimal_yaml() + "origin_port: {a: 1}\n"));
}

TEST(ProxyConfig, DescribeEffectiveRedactsPasswords) {
  auto loaded = load_config_from_yaml(minimal_yaml() +
                                      "origin_username: alice\norigin_password: hunter2-origin\n"
                                      "target_username: bob\ntarget_password: hunter2-target\n");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const std::string text = describe_effective(loaded->config);
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  const auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json.at("origin_password"), "<redacted>");
  EXPECT_EQ(json.at("target_password"), "<redacted>");
  EXPECT_EQ(json.at("origin_username"), "alice");
  EXPECT_EQ(json.at("primary_cluster"), "ORIGIN");
  EXPECT_EQ(json.at("proxy_listen_port"), 14002);
  EXPECT_EQ(json.at("metrics_enabled"), true);
  EXPECT_EQ(json.at("proxy_timeout_behaviour"), "error");
  EXPECT_TRUE(json.contains("prepared_cache_size"));
  EXPECT_TRUE(json.contains("async_connector_write_buffer_size_bytes"));
}

TEST(ProxyConfig, DescribedConfigurationLoadsBackAsYaml) {
  // Every key describe_effective writes is a key the YAML loader accepts.
  auto loaded = load_config_from_yaml(minimal_yaml());
  ASSERT_TRUE(loaded);
  const auto json = nlohmann::json::parse(describe_effective(loaded->config));
  std::string yaml;
  for (const auto& [key, value] : json.items()) {
    if (value.is_string()) {
      yaml += key + ": '" + value.get<std::string>() + "'\n";
    } else {
      yaml += key + ": " + value.dump() + "\n";
    }
  }
  auto reloaded = load_config_from_yaml(yaml);
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_EQ(describe_effective(reloaded->config), describe_effective(loaded->config));
}

TEST(ProxyConfig, ParsesProtocolVersionNames) {
  EXPECT_EQ(*parse_protocol_version_name("3"), protocol::ProtocolVersion::V3);
  EXPECT_EQ(*parse_protocol_version_name("v4"), protocol::ProtocolVersion::V4);
  EXPECT_EQ(*parse_protocol_version_name("5"), protocol::ProtocolVersion::V5);
  EXPECT_EQ(*parse_protocol_version_name("DseV1"), protocol::ProtocolVersion::DseV1);
  EXPECT_EQ(*parse_protocol_version_name("DSE_V2"), protocol::ProtocolVersion::DseV2);
  EXPECT_FALSE(parse_protocol_version_name("2"));
  EXPECT_FALSE(parse_protocol_version_name("v6"));
  EXPECT_FALSE(parse_protocol_version_name(""));
}

TEST(ProxyConfig, TopologyAddressesDefaultToTheListenAddress) {
  ProxyConfig c;
  c.proxy_listen_address = "10.9.8.7";
  EXPECT_EQ(c.topology_addresses(), std::vector<std::string>{"10.9.8.7"});
  c.proxy_listen_address = "0.0.0.0";
  EXPECT_EQ(c.topology_addresses(), std::vector<std::string>{"127.0.0.1"});
}

}  // namespace
}  // namespace zdm::proxy
