#include "client/connection_options.hpp"

#include <charconv>

#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>

namespace zdm::client {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port) {
  Endpoint ep;
  ep.port = default_port;
  std::string_view port_text;
  if (text.empty()) return fail(Errc::InvalidArgument, "empty endpoint; expected host[:port]");
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::InvalidArgument, fmt::format("endpoint '{}': missing ']'", text));
    }
    ep.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return fail(Errc::InvalidArgument,
                    fmt::format("endpoint '{}': expected ':' after ']'", text));
      }
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      ep.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    } else {
      ep.host = std::string(text);  // a name, IPv4, or a bare IPv6 address
    }
  }
  if (ep.host.empty())
    return fail(Errc::InvalidArgument, fmt::format("endpoint '{}': empty host", text));
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return fail(Errc::InvalidArgument,
                  fmt::format("endpoint '{}': bad port '{}'", text, port_text));
    }
    ep.port = static_cast<uint16_t>(value);
  }
  return ep;
}

Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const TlsOptions& tls) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (tls.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(tls.ca_file, ec);
  }
  if (ec) {
    return fail(Errc::InvalidArgument,
                fmt::format("TLS CA '{}': {}",
                            tls.ca_file.empty() ? "<system default>" : tls.ca_file, ec.message()));
  }
  if (!tls.cert_file.empty()) {
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
      return fail(Errc::InvalidArgument,
                  fmt::format("TLS client certificate '{}': {}", tls.cert_file, ec.message()));
    }
    const std::string& key = tls.key_file.empty() ? tls.cert_file : tls.key_file;
    ctx->use_private_key_file(key, ssl::context::pem, ec);
    if (ec) {
      return fail(Errc::InvalidArgument, fmt::format("TLS client key '{}': {}", key, ec.message()));
    }
  }
  ctx->set_verify_mode(tls.verify_peer ? ssl::verify_peer : ssl::verify_none, ec);
  return ctx;
}

}  // namespace zdm::client
