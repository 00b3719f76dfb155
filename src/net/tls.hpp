#pragma once
// TLS contexts for servers and clients, built from PEM files, with errors that name the file and
// say what is wrong with it. Control plane: called at startup, not per connection.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <string>

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

}  // namespace zdm::net
