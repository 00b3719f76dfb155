#include "systemd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace zdm::cli {
namespace {

// STATUS= is one line: a newline would start another VAR=value.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& ch : out) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return out;
}

}  // namespace

bool systemd_notify(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || socket_name[0] == '\0') return false;
  const std::string_view name(socket_name);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || name.size() > sizeof(address.sun_path) - 1) {
    spdlog::warn(
        "NOTIFY_SOCKET={}: not an AF_UNIX socket path or abstract name; systemd not "
        "notified of {}",
        name, state.substr(0, state.find('\n')));
    return false;
  }
  std::memcpy(address.sun_path, name.data(), name.size());
  if (name[0] == '@') address.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
  const auto length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/'));

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    spdlog::warn("NOTIFY_SOCKET: cannot create a socket ({}); systemd not notified",
                 std::strerror(errno));
    return false;
  }
  const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  const int error = errno;
  ::close(fd);
  if (sent < 0 || static_cast<size_t>(sent) != state.size()) {
    spdlog::warn("NOTIFY_SOCKET={}: sending {} failed ({}); systemd not notified", name,
                 state.substr(0, state.find('\n')),
                 sent < 0 ? std::strerror(error) : "short write");
    return false;
  }
  return true;
}

void systemd_notify_ready(std::string_view status) {
  systemd_notify(fmt::format("READY=1\nSTATUS={}", one_line(status)));
}

void systemd_notify_reloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  systemd_notify(
      fmt::format("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC={}", usec));
}

void systemd_notify_stopping(std::string_view status) {
  systemd_notify(fmt::format("STOPPING=1\nSTATUS={}", one_line(status)));
}

}  // namespace zdm::cli
