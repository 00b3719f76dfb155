#pragma once
// TLS settings of the proxy, turned into ready boost::asio::ssl contexts at startup:
//  - towards origin and target: ZDM_{ORIGIN,TARGET}_TLS_SERVER_CA_PATH alone gives one-way TLS;
//    adding _TLS_CLIENT_CERT_PATH and _TLS_CLIENT_KEY_PATH gives mutual TLS. As in the reference,
//    the CA is added to the system trust store. Unlike the reference, the node's host name (or IP)
//    is verified against its certificate unless the caller asks to skip it;
//  - towards clients: ZDM_PROXY_TLS_CA_PATH, _CERT_PATH, _KEY_PATH and
//    ZDM_PROXY_TLS_REQUIRE_CLIENT_AUTH;
//  - for Astra: the mutual-TLS context of a secure connect bundle (PEM held in memory).
//
// Builds on net/tls.hpp (file loading, key/cert match, SNI and hostname checks) and adds what a
// user needs to hear before the first connection fails: expired or not-yet-valid certificates,
// and, after a failed handshake, which of trust, expiry or host name went wrong.
//
// Control plane only: called at startup and on reconnects, never per request.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include "common/result.hpp"
#include "net/tls.hpp"
#include "proxy/cluster/astra_metadata.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

struct SecureConnectBundle;

enum class TlsMode : uint8_t { Off, OneWay, Mutual };
std::string_view tls_mode_name(TlsMode m);  // "off", "one-way", "mutual"

// What the configuration asks for on one cluster (no files are read).
TlsMode cluster_tls_mode(const ProxyConfig& config, ClusterType cluster);

struct ClusterTls {
  TlsMode mode = TlsMode::Off;
  std::shared_ptr<boost::asio::ssl::context> context;  // null when mode is Off
  net::HostnameCheck hostname = net::HostnameCheck::Verify;
};

// How a session reaches one cluster's nodes over TLS (built once at startup, shared read-only).
struct UpstreamTls {
  std::shared_ptr<boost::asio::ssl::context> context;  // null: plain TCP
  // Verify: the node's certificate must be valid for the address (or name) connected to; for
  // Astra, for the SNI proxy's host. Skip: ZDM_*_TLS_SKIP_HOSTNAME_VERIFICATION=true.
  net::HostnameCheck hostname = net::HostnameCheck::Verify;
  std::string cluster_name = "ORIGIN";  // "ORIGIN"/"TARGET": names the settings in errors

  explicit operator bool() const { return context != nullptr; }
};

// The TLS context for connections to `cluster` (Off: no context). `hostname` is Verify unless the
// user turned verification off (ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION,
// ZDM_TARGET_TLS_SKIP_HOSTNAME_VERIFICATION; make_cluster_connect_setup reads them). Clusters with
// a secure connect bundle are handled by make_bundle_tls_context instead and give Off here. Errors
// name the setting and the file.
Result<ClusterTls> make_cluster_tls(const ProxyConfig& config, ClusterType cluster,
                                    net::HostnameCheck hostname = net::HostnameCheck::Verify);

// Everything needed to reach one cluster, from its settings: plain TCP, TLS (one-way or mutual,
// host names verified unless ZDM_<CLUSTER>_TLS_SKIP_HOSTNAME_VERIFICATION), or Astra (the
// bundle's mutual TLS, and the request for the metadata service that names the SNI proxy and the
// nodes). Reads the bundle and the certificate files: errors name the setting and the file.
struct ClusterConnectSetup {
  UpstreamTls tls;
  std::optional<AstraMetadataRequest> astra;  // set for ZDM_<CLUSTER>_SECURE_CONNECT_BUNDLE_PATH
};
Result<ClusterConnectSetup> make_cluster_connect_setup(const ProxyConfig& config,
                                                       ClusterType cluster);

// The client-facing context, or null when ZDM_PROXY_TLS_* are not set.
Result<std::shared_ptr<boost::asio::ssl::context>> make_proxy_tls_context(
    const ProxyConfig& config);

// Mutual TLS from a secure connect bundle: trusts only the bundle's ca.crt, presents its cert/key.
Result<std::shared_ptr<boost::asio::ssl::context>> make_bundle_tls_context(
    const SecureConnectBundle& bundle);

// Every certificate in `pem` (one or more PEM blocks) must parse; fails when all are expired or
// not yet valid at `now`, naming `what` and the dates. `what` is e.g. "CA file '/etc/ca.pem'".
Result<void> check_certificates_valid(
    std::string_view pem, std::string_view what,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
// The same for a file (unreadable file: an error naming it).
Result<void> check_certificate_file_valid(const std::string& path, std::string_view what);

// After a client's handshake with the proxy's listener failed: why, in the words of the
// ZDM_PROXY_TLS_* settings (no certificate while one is required, a certificate the CA does not
// sign, a client that refused the proxy's certificate, a client that does not speak TLS).
std::string explain_client_tls_failure(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
    const boost::system::error_code& ec);

// Explaining a failed handshake with a cluster node lives in net/tls.hpp (the client library
// uses it too).
using net::explain_tls_alert;
using net::explain_tls_handshake_failure;

}  // namespace zdm::proxy
