#pragma once
// What a client connection needs to know: where to connect, TLS, credentials, protocol version
// and compression, timeouts.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/stream_id_pool.hpp"
#include "common/result.hpp"
#include "protocol/compression.hpp"
#include "protocol/version.hpp"

namespace boost::asio::ssl {
class context;
}

namespace zdm::client {

struct Endpoint {
  std::string host;  // name or address
  uint16_t port = 9042;

  std::string to_string() const;  // "host:port", "[::1]:9042"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// "host", "host:port", "[v6addr]:port", "v6addr" (no port).
Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port = 9042);

struct TlsOptions {
  bool enabled = false;
  std::string ca_file;      // PEM; empty: the system's default trust store
  std::string cert_file;    // PEM client certificate (mutual TLS), optional
  std::string key_file;     // PEM private key of cert_file
  bool verify_peer = true;  // verify the server's certificate chain
  bool verify_hostname = true;
  std::string server_name;  // SNI and the name verified; empty: the endpoint's host
  // The name the certificate must be valid for when it differs from the SNI name (an SNI proxy
  // routing on a host id presents a certificate for its own name); empty: the SNI name.
  std::string verify_name;
  // "ORIGIN"/"TARGET": failures then explain themselves in terms of the ZDM_<NAME>_TLS_*
  // settings; empty: plain messages.
  std::string settings_name;
};

// Builds the TLS context once per session (it loads files). Fails with InvalidArgument naming the
// file that could not be used.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsOptions& tls);

struct ConnectionOptions {
  // nullopt: negotiate v5 -> v4 -> v3. A value: use exactly that version (also DSE_V1/DSE_V2).
  std::optional<protocol::ProtocolVersion> protocol_version;
  // LZ4 or Snappy frame bodies on v3/v4; on v5 LZ4 segments (Snappy is not allowed in v5 and is
  // dropped there).
  protocol::Compression compression = protocol::Compression::None;
  std::string username;  // SASL PLAIN (PasswordAuthenticator, DseAuthenticator) when set
  std::string password;
  TlsOptions tls;
  std::chrono::milliseconds connect_timeout{5000};  // TCP + TLS + STARTUP + auth + USE
  std::chrono::milliseconds request_timeout{12000};
  std::chrono::milliseconds heartbeat_interval{30000};  // OPTIONS when idle; 0 disables
  int max_stream_ids = kMaxStreamIds;
  size_t max_queued_requests = 65536;        // waiting for a stream id; beyond that: Busy
  std::string keyspace;                      // USE at connect when set
  std::vector<std::string> register_events;  // REGISTER at connect when set
  std::string driver_name = "zdm";
  std::string driver_version = "0.1.0";
};

}  // namespace zdm::client
