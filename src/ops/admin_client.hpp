#pragma once
// A small synchronous HTTP/1.1 client for one proxy's operations API (docs/operations-api.md):
// GET and PATCH with JSON bodies, one connection per request, every request bounded by a deadline
// that covers connecting, sending and reading. Control plane: it blocks the calling thread.
//
// Failures say which proxy, what was asked and what to do, and tell apart a request that never
// left (the proxy is unreachable: nothing changed) from one whose answer never came (it may have
// been applied), which decides whether `zdm ctl` must put that proxy back.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "common/result.hpp"

namespace zdm::ops {

// A proxy's admin address (its metrics_address:metrics_port).
struct AdminAddress {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const;  // "127.0.0.1:14001", "[::1]:14001"
  friend bool operator==(const AdminAddress&, const AdminAddress&) = default;
};

// "host:port" or "[v6]:port"; the port is required (a proxy's admin port is not guessable).
Result<AdminAddress> parse_admin_address(std::string_view text);

enum class AdminErrorKind : uint8_t {
  Unreachable,  // no connection: the request never left, nothing changed
  NoAnswer,     // connected, but no whole answer in time: a PATCH may have been applied
  HttpStatus,   // the proxy answered with a status other than 2xx
  BadAnswer,    // 2xx, but not the JSON object the API promises
};

struct AdminError {
  AdminErrorKind kind = AdminErrorKind::Unreachable;
  unsigned status = 0;  // HttpStatus: the answer's status
  nlohmann::json body;  // HttpStatus: the answer's JSON (null when it was not JSON)
  std::string message;  // a whole sentence naming the proxy, e.g. "proxy 127.0.0.1:14001
                        // unreachable: connection refused (...)"
};

template <class T>
using AdminResult = tl::expected<T, AdminError>;

struct AdminClientOptions {
  std::chrono::milliseconds timeout{5000};  // per request: connect, send and read together
  std::string token;                        // Authorization: Bearer, sent with PATCH only
  std::string actor;                        // X-Zdm-Actor, sent with PATCH when not empty
};

class AdminClient {
 public:
  AdminClient(AdminAddress address, AdminClientOptions options);

  // GET `path`: the answer's JSON object when the status is 2xx, else an error.
  AdminResult<nlohmann::json> get(const std::string& path) const;
  // PATCH `path` with `body` (and If-Match: <generation> when given).
  AdminResult<nlohmann::json> patch(const std::string& path, const nlohmann::json& body,
                                    std::optional<int64_t> if_match) const;

  const AdminAddress& address() const { return address_; }
  const AdminClientOptions& options() const { return options_; }

 private:
  AdminResult<nlohmann::json> send(std::string_view method, const std::string& path,
                                   const std::string& body, std::optional<int64_t> if_match) const;

  AdminAddress address_;
  AdminClientOptions options_;
};

// "5 s", "500 ms": how a timeout is named in messages.
std::string describe_duration(std::chrono::milliseconds d);

}  // namespace zdm::ops
