#pragma once
// Client of the Astra metadata service: with a secure connect bundle, the proxy does not know the
// cluster's nodes. It asks https://<config.json host>:<port>/metadata (mutual TLS with the
// bundle's certificates, 30 s timeout, as the drivers do) and gets back the SNI proxy address,
// the host ids of the nodes and the local datacenter:
//
//   {"version":1, "region":"...", "contact_info":{"type":"sni_proxy", "local_dc":"dc1",
//    "contact_points":["<host id>", ...], "sni_proxy_address":"host:port"}}
//
// Each CQL connection then goes to the SNI proxy with the TLS server name (SNI) set to a host id;
// the SNI proxy routes it to that node. See prepare_astra_sni_stream.
//
// Control plane: runs at startup and when a control connection reconnects. The fetch runs on the
// caller's io_context; with one thread per io_context (the project's model) it needs no strand.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "common/result.hpp"
#include "net/tls.hpp"

namespace zdm::proxy {

struct SecureConnectBundle;

inline constexpr std::chrono::milliseconds kAstraMetadataTimeout{30000};
inline constexpr uint16_t kDefaultSniProxyPort = 9042;  // when the address carries no port

struct AstraContactInfo {
  std::string sni_proxy_host;
  uint16_t sni_proxy_port = kDefaultSniProxyPort;
  std::vector<std::string> host_ids;  // contact points: one SNI name per node
  std::string local_dc;
};

// Parses the service's JSON answer. Errors say which field is missing or of the wrong type.
Result<AstraContactInfo> parse_astra_metadata(std::string_view json);

struct AstraMetadataRequest {
  std::string host;  // metadata service host (bundle config.json "host")
  uint16_t port = 0;
  std::shared_ptr<boost::asio::ssl::context> tls;             // make_bundle_tls_context(bundle)
  std::chrono::milliseconds timeout = kAstraMetadataTimeout;  // whole exchange, connect included
  // The metadata service's certificate is checked against `host` (the drivers do the same).
  net::HostnameCheck hostname = net::HostnameCheck::Verify;
};

// The request a bundle describes (tls built by make_bundle_tls_context).
Result<AstraMetadataRequest> astra_metadata_request(const SecureConnectBundle& bundle);

// GET /metadata. Errors name the URL and say whether connecting, TLS (with the reason), the HTTP
// status, the deadline or the JSON failed.
boost::asio::awaitable<Result<AstraContactInfo>> fetch_astra_metadata(AstraMetadataRequest request);

// Callback form: `done` runs on `io` exactly once.
void fetch_astra_metadata(boost::asio::io_context& io, AstraMetadataRequest request,
                          std::function<void(Result<AstraContactInfo>)> done);

// Prepares a CQL connection through the SNI proxy before its handshake: SNI = `host_id` (the
// proxy routes on it), and, unless skipped, the certificate must be valid for `sni_proxy_host`
// (the name the SNI proxy's certificate carries; the host id is not a DNS name).
Result<void> prepare_astra_sni_stream(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, const std::string& host_id,
    const std::string& sni_proxy_host, net::HostnameCheck hostname = net::HostnameCheck::Verify);

}  // namespace zdm::proxy
