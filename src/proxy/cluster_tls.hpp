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

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "net/tls.hpp"
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

// The TLS context for connections to `cluster` (Off: no context). `hostname` is Verify unless the
// user turned verification off (proposed settings: ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION and
// ZDM_TARGET_TLS_SKIP_HOSTNAME_VERIFICATION). Clusters with a secure connect bundle are handled
// by make_bundle_tls_context instead and give Off here. Errors name the setting and the file.
Result<ClusterTls> make_cluster_tls(const ProxyConfig& config, ClusterType cluster,
                                    net::HostnameCheck hostname = net::HostnameCheck::Verify);

// The client-facing context, or null when ZDM_PROXY_TLS_* are not set.
Result<std::shared_ptr<boost::asio::ssl::context>> make_proxy_tls_context(
    const ProxyConfig& config);

// Mutual TLS from a secure connect bundle: trusts only the bundle's ca.crt, presents its cert/key.
Result<std::shared_ptr<boost::asio::ssl::context>> make_bundle_tls_context(
    const SecureConnectBundle& bundle);

// Every certificate in `pem` (one or more PEM blocks) must parse; fails when all are expired or
// not yet valid at `now`, naming `what` and the dates. `what` is e.g. "CA file '/etc/ca.pem'".
Result<void> check_certificates_valid(std::string_view pem, std::string_view what,
                                      std::chrono::system_clock::time_point now =
                                          std::chrono::system_clock::now());
// The same for a file (unreadable file: an error naming it).
Result<void> check_certificate_file_valid(const std::string& path, std::string_view what);

// After a client handshake failed: a message that says why (untrusted, expired, host name does
// not match, no client certificate accepted...) and what to do. `peer` is "host:port" and
// `cluster_name` is "ORIGIN"/"TARGET" (to name the settings in the advice). Reads the stream's
// verify result, so call it before the stream is reused.
std::string explain_tls_handshake_failure(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
    const boost::system::error_code& ec, std::string_view peer, std::string_view expected_name,
    net::HostnameCheck hostname, std::string_view cluster_name);

}  // namespace zdm::proxy
