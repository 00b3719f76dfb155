#pragma once
// Errors the client reports for a request or a connection attempt. A server ERROR response is one
// kind among them (Server), carrying the CQL error code, so callers and the retry policy see every
// failure through one type.

#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "protocol/messages.hpp"

namespace zdm::client {

enum class ClientErrc {
  Timeout,           // no response within the request timeout (client side)
  ConnectionClosed,  // the connection closed or failed while the request was pending
  Busy,              // no stream id and the wait queue is full; the request was never sent
  NoHost,            // no connection available to any host
  Connect,           // TCP/TLS connect or handshake failed
  Protocol,          // undecodable response or lost framing
  Auth,              // authentication failed or required but not configured
  Server,            // the server answered with an ERROR (see server_code)
  InvalidArgument,   // the caller passed something unusable
  VersionRefused,    // the server refused the protocol version (fixed, or every one tried)
  TlsHandshake,      // TCP connected, the TLS handshake failed (trust, expiry, name, certificate)
};

std::string_view client_errc_name(ClientErrc code);

struct ClientError {
  ClientErrc kind = ClientErrc::Protocol;
  std::string message;
  std::optional<protocol::ErrorCode> server_code;  // kind == Server
  protocol::ErrorDetail server_detail;             // kind == Server
  bool written = true;  // false when the request surely never reached the server

  // "server error WRITE_TIMEOUT: Operation timed out" / "timeout: no response in 2000 ms"
  std::string to_string() const;
  // "WRITE_TIMEOUT", "client_timeout", "connection_closed", ...: a stable label for counters.
  std::string label() const;
};

template <class T>
using ClientResult = tl::expected<T, ClientError>;

[[gnu::cold]] tl::unexpected<ClientError> client_fail(ClientErrc kind, std::string message,
                                                      bool written = true);
// The ClientError for a server ERROR response.
[[gnu::cold]] ClientError server_error(const protocol::ErrorMessage& error);

}  // namespace zdm::client
