#pragma once
// TLS contexts for servers and clients, built from PEM files, with errors that name the file and
// say what is wrong with it. Control plane: called at startup, not per connection.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "common/result.hpp"

namespace zdm::net {

enum class ClientCertPolicy : uint8_t { Optional, Required };
enum class HostnameCheck : uint8_t { Verify, Skip };

struct ServerTlsOptions {
  std::string cert_file;  // PEM certificate chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // optional: CAs trusted for client certificates
  ClientCertPolicy client_cert = ClientCertPolicy::Optional;  // Required needs ca_file
};

struct ClientTlsOptions {
  std::string ca_file;    // CAs trusted for the server certificate; empty: system defaults
  std::string cert_file;  // optional client certificate (mutual TLS)
  std::string key_file;
  HostnameCheck hostname = HostnameCheck::Verify;
};

Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const ServerTlsOptions& options);
Result<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(
    const ClientTlsOptions& options);

// Prepares a client stream before its handshake: SNI (for names) and, unless skipped, checking
// that the server certificate is valid for `host`.
Result<void> prepare_client_tls_stream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& s,
                                       const std::string& host, HostnameCheck check);

// After a client handshake failed: a message that says why (untrusted, expired, host name does
// not match, no client certificate accepted...) and what to do. `peer` is "host:port" and
// `cluster_name` is "ORIGIN"/"TARGET" (to name the settings in the advice). Reads the stream's
// verify result, so call it before the stream is reused.
std::string explain_tls_handshake_failure(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
    const boost::system::error_code& ec, std::string_view peer, std::string_view expected_name,
    HostnameCheck hostname, std::string_view cluster_name);

// The TLS alert the peer sent (its description code: 40 handshake_failure, 48 unknown_ca, 116
// certificate_required, ...), from the error of an operation on a TLS stream; nullopt when the
// error is not a received alert.
std::optional<uint8_t> received_tls_alert(const boost::system::error_code& ec);

// With TLS 1.3 a server checks the client certificate after the client's side of the handshake
// is done, so a refusal arrives later, as an alert in a read error. For such an alert (by code,
// see received_tls_alert), returns `message` with the advice of explain_tls_handshake_failure;
// otherwise unchanged.
std::string explain_tls_alert(std::string message, std::optional<uint8_t> alert,
                              std::string_view cluster_name);

}  // namespace zdm::net
