#include "ops/admin_client.hpp"

#include <cctype>
#include <charconv>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace zdm::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxAnswerBytes = 32 * 1024 * 1024;  // a big fleet's client list fits

std::string lower_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// What the proxy said went wrong: its {"error": ...} or, failing that, the start of the body.
std::string answer_error_text(const nlohmann::json& json, const std::string& body) {
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return json["error"].get<std::string>();
  }
  std::string text = body.substr(0, 200);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text.empty() ? "(empty answer)" : text;
}

// One request on a fresh connection, run to completion on a private io_context; a single timer
// bounds resolving, connecting, sending and reading together.
struct Exchange {
  asio::io_context io{1};
  tcp::resolver resolver{io};
  tcp::socket socket{io};
  asio::steady_timer deadline{io};
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response_parser<http::string_body> parser;
  bool connected = false;
  bool timed_out = false;
  bool done = false;
  boost::system::error_code error;
  std::string stage;  // what failed: "resolve", "connect", "send", "read"

  void finish(boost::system::error_code ec, const char* what) {
    if (done) return;
    done = true;
    error = ec;
    stage = what;
    deadline.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  void run(const AdminAddress& address, std::chrono::milliseconds timeout) {
    parser.body_limit(kMaxAnswerBytes);
    deadline.expires_after(timeout);
    deadline.async_wait([this](boost::system::error_code ec) {
      if (ec || done) return;
      timed_out = true;
      resolver.cancel();
      boost::system::error_code ignored;
      socket.close(ignored);
    });
    resolver.async_resolve(
        address.host, std::to_string(address.port),
        [this](boost::system::error_code ec, const tcp::resolver::results_type& results) {
          if (ec) return finish(ec, "resolve");
          asio::async_connect(
              socket, results, [this](boost::system::error_code ec2, tcp::endpoint) {
                if (ec2) return finish(ec2, "connect");
                connected = true;
                http::async_write(socket, request, [this](boost::system::error_code ec3, size_t) {
                  if (ec3) return finish(ec3, "send");
                  http::async_read(
                      socket, buffer, parser,
                      [this](boost::system::error_code ec4, size_t) { finish(ec4, "read"); });
                });
              });
        });
    io.run();
  }
};

AdminError transport_error(const Exchange& ex, const AdminAddress& address, std::string_view method,
                           const std::string& path, std::chrono::milliseconds timeout) {
  AdminError e;
  const std::string where = address.to_string();
  if (!ex.connected) {
    e.kind = AdminErrorKind::Unreachable;
    std::string why;
    if (ex.timed_out) {
      why = "no connection within " + describe_duration(timeout);
    } else if (ex.stage == "resolve") {
      why = fmt::format("cannot resolve '{}': {}", address.host, lower_first(ex.error.message()));
    } else {
      why = lower_first(ex.error.message());
    }
    e.message =
        fmt::format("proxy {} unreachable: {} (is the proxy running, and is {} its metrics_port?)",
                    where, why, address.port);
    return e;
  }
  e.kind = AdminErrorKind::NoAnswer;
  if (ex.timed_out) {
    e.message = fmt::format("proxy {}: no answer to {} {} within {}", where, method, path,
                            describe_duration(timeout));
  } else {
    e.message = fmt::format("proxy {}: {} {} failed while {}: {}", where, method, path,
                            ex.stage == "send" ? "sending" : "reading the answer",
                            lower_first(ex.error.message()));
  }
  return e;
}

AdminError status_error(unsigned status, nlohmann::json json, const std::string& body,
                        const AdminAddress& address, std::string_view method,
                        const std::string& path, bool token_sent) {
  AdminError e;
  e.kind = AdminErrorKind::HttpStatus;
  e.status = status;
  std::string hint;
  if (status == 401 && !token_sent) {
    hint = " (no token was sent: set ZDM_ADMIN_TOKEN or --token-file to the proxy's admin_token)";
  } else if (status == 401) {
    hint = " (the token must be the proxy's admin_token: check ZDM_ADMIN_TOKEN or --token-file)";
  } else if (status == 404 && !json.contains("error")) {
    hint = " (no operations API there: is it a zdm proxy's metrics port?)";
  }
  e.message = fmt::format("proxy {}: {} {} answered {}: {}{}", address.to_string(), method, path,
                          status, answer_error_text(json, body), hint);
  e.body = std::move(json);
  return e;
}

}  // namespace

std::string AdminAddress::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<AdminAddress> parse_admin_address(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::InvalidArgument,
                fmt::format("'{}': {} (expected host:port, the proxy's metrics address and port)",
                            text, why));
  };
  AdminAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("unterminated IPv6 address or no port");
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    if (text.find(':') != colon) return bad("an IPv6 address goes in brackets, e.g. [::1]:14001");
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return bad("the port must be a number from 1 to 65535");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::string describe_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{} ms", d.count());
}

AdminClient::AdminClient(AdminAddress address, AdminClientOptions options)
    : address_(std::move(address)), options_(std::move(options)) {}

AdminResult<nlohmann::json> AdminClient::get(const std::string& path) const {
  return send("GET", path, "", std::nullopt);
}

AdminResult<nlohmann::json> AdminClient::patch(const std::string& path, const nlohmann::json& body,
                                               std::optional<int64_t> if_match) const {
  // Invalid UTF-8 in a value (from the command line) is replaced, not thrown.
  return send("PATCH", path, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              if_match);
}

AdminResult<nlohmann::json> AdminClient::send(std::string_view method, const std::string& path,
                                              const std::string& body,
                                              std::optional<int64_t> if_match) const {
  Exchange ex;
  const bool changing = method != "GET";
  auto& req = ex.request;
  req.method(method == "GET" ? http::verb::get : http::verb::patch);
  req.target(path);
  req.version(11);
  req.set(http::field::host, address_.to_string());
  req.set(http::field::user_agent, "zdm-ops");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  const bool token_sent = changing && !options_.token.empty();
  if (token_sent) req.set(http::field::authorization, "Bearer " + options_.token);
  if (changing && !options_.actor.empty()) req.set("X-Zdm-Actor", options_.actor);
  if (if_match) req.set(http::field::if_match, std::to_string(*if_match));
  if (changing) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  ex.run(address_, options_.timeout);
  if (ex.error || ex.timed_out) {
    return tl::unexpected(transport_error(ex, address_, method, path, options_.timeout));
  }
  const auto& res = ex.parser.get();
  const unsigned status = res.result_int();
  auto json = nlohmann::json::parse(res.body(), nullptr, false);
  if (json.is_discarded()) json = nullptr;
  if (status < 200 || status >= 300) {
    return tl::unexpected(
        status_error(status, std::move(json), res.body(), address_, method, path, token_sent));
  }
  if (!json.is_object()) {
    AdminError e;
    e.kind = AdminErrorKind::BadAnswer;
    e.status = status;
    e.message =
        fmt::format("proxy {}: {} {} answered {} without a JSON object: {}", address_.to_string(),
                    method, path, status, answer_error_text(nullptr, res.body()));
    return tl::unexpected(std::move(e));
  }
  return json;
}

}  // namespace zdm::ops
