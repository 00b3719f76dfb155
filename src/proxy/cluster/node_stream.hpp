#pragma once
// Opening a stream to one cluster node: TCP with a deadline, then TLS (SNI for Astra) within the
// same deadline. Used by the control connection (to explain TLS failures) and by the sessions'
// upstream connections.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "common/result.hpp"
#include "net/stream.hpp"
#include "proxy/cluster/cluster_tls.hpp"

namespace zdm::proxy {

// Opens a TCP stream to host:port within `timeout` and, when `tls` has a context, completes the
// TLS handshake within the same deadline (so a TLS failure is reported here, explained by
// explain_tls_handshake_failure, rather than as a silent close later). `server_name` non-empty:
// Astra routing, SNI = server_name (a host id) and the certificate is checked against `host`.
// `done` runs once, on `executor`. FramedConnection::start() then finds the handshake done.
using StreamCallback = std::function<void(Result<net::Stream>)>;
void connect_stream(boost::asio::any_io_executor executor, std::string host, uint16_t port,
                    UpstreamTls tls, std::string server_name, std::chrono::milliseconds timeout,
                    StreamCallback done);

}  // namespace zdm::proxy
