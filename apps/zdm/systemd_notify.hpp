#pragma once
// systemd's readiness protocol (sd_notify(3)) without libsystemd: when the service manager set
// NOTIFY_SOCKET, state lines such as "READY=1" go to that AF_UNIX datagram socket (a path, or an
// abstract name when it starts with '@'). Without NOTIFY_SOCKET every call does nothing, so the
// proxy behaves the same outside systemd (Type=notify in deploy/systemd/zdm-proxy.service).

#include <string_view>

namespace zdm::cli {

// Sends `state` (newline-separated VAR=value lines) to $NOTIFY_SOCKET. Returns true when it was
// sent, false when NOTIFY_SOCKET is unset or the datagram could not be sent (logged as a warning:
// systemd would then time the service out or miss a reload).
bool systemd_notify(std::string_view state);

// READY=1 with a STATUS= line: the proxy serves clients (startup done, or a reload finished).
void systemd_notify_ready(std::string_view status);
// RELOADING=1 with MONOTONIC_USEC=, before a SIGHUP reload (systemd 253+ requires the timestamp;
// older versions ignore it). Followed by systemd_notify_ready.
void systemd_notify_reloading();
// STOPPING=1 with a STATUS= line: graceful shutdown (drain) started.
void systemd_notify_stopping(std::string_view status);

}  // namespace zdm::cli
