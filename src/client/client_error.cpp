#include "client/client_error.hpp"

#include <fmt/format.h>

namespace zdm::client {

std::string_view client_errc_name(ClientErrc code) {
  switch (code) {
    case ClientErrc::Timeout:
      return "client_timeout";
    case ClientErrc::ConnectionClosed:
      return "connection_closed";
    case ClientErrc::Busy:
      return "busy";
    case ClientErrc::NoHost:
      return "no_host";
    case ClientErrc::Connect:
      return "connect";
    case ClientErrc::Protocol:
      return "protocol";
    case ClientErrc::Auth:
      return "auth";
    case ClientErrc::Server:
      return "server";
    case ClientErrc::InvalidArgument:
      return "invalid_argument";
    case ClientErrc::VersionRefused:
      return "version_refused";
    case ClientErrc::TlsHandshake:
      return "tls_handshake";
  }
  return "unknown";
}

std::string ClientError::to_string() const {
  if (kind == ClientErrc::Server && server_code) {
    return fmt::format("server error {}: {}", protocol::error_code_name(*server_code), message);
  }
  return fmt::format("{}: {}", client_errc_name(kind), message);
}

std::string ClientError::label() const {
  if (kind == ClientErrc::Server && server_code) {
    return std::string(protocol::error_code_name(*server_code));
  }
  return std::string(client_errc_name(kind));
}

tl::unexpected<ClientError> client_fail(ClientErrc kind, std::string message, bool written) {
  ClientError e;
  e.kind = kind;
  e.message = std::move(message);
  e.written = written;
  return tl::unexpected(std::move(e));
}

ClientError server_error(const protocol::ErrorMessage& error) {
  ClientError e;
  e.kind = ClientErrc::Server;
  e.message = error.message;
  e.server_code = error.code;
  e.server_detail = error.detail;
  return e;
}

}  // namespace zdm::client
