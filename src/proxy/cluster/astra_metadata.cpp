#include "proxy/cluster/astra_metadata.hpp"

#include <charconv>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "proxy/cluster/cluster_tls.hpp"
#include "proxy/cluster/secure_connect_bundle.hpp"

namespace zdm::proxy {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr uint64_t kMaxMetadataBodyBytes = 1024 * 1024;

tl::unexpected<Error> metadata_error(std::string what) {
  return fail(Errc::Malformed, fmt::format("Astra metadata: {}", what));
}

uint16_t parse_port_or_default(std::string_view text) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || p != text.data() + text.size() || value == 0 || value > 65535) {
    return kDefaultSniProxyPort;  // the Python driver's fallback
  }
  return static_cast<uint16_t>(value);
}

// The text of an SSL-category error (Asio's message() is often just "handshake failure").
std::string ssl_error_text(const boost::system::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof(buf));
    return buf;
  }
  return ec.message();
}

struct FetchState {
  FetchState(const asio::any_io_executor& ex, ssl::context& ctx)
      : resolver(ex), stream(ex, ctx), timer(ex) {}
  tcp::resolver resolver;
  ssl::stream<tcp::socket> stream;
  asio::steady_timer timer;
  bool timed_out = false;
};

asio::awaitable<Result<AstraContactInfo>> run_fetch(std::shared_ptr<FetchState> st,
                                                    AstraMetadataRequest req) {
  const std::string url = fmt::format("https://{}:{}/metadata", req.host, req.port);
  boost::system::error_code ec;
  auto failed = [&](std::string_view phase, std::string detail) -> tl::unexpected<Error> {
    if (st->timed_out) {
      return fail(Errc::Io,
                  fmt::format("Astra metadata service {} did not answer within {} ms ({}); "
                              "check the network path to it and the database status in the "
                              "Astra console",
                              url, req.timeout.count(), phase));
    }
    return fail(Errc::Io, fmt::format("Astra metadata service {}: {} failed: {}", url, phase,
                                      std::move(detail)));
  };

  auto endpoints = co_await st->resolver.async_resolve(
      req.host, std::to_string(req.port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("resolving the host", ec.message());
  co_await asio::async_connect(st->stream.lowest_layer(), endpoints,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("connecting", ec.message());

  if (auto ok = net::prepare_client_tls_stream(st->stream, req.host, req.hostname); !ok) {
    co_return tl::unexpected(ok.error());
  }
  co_await st->stream.async_handshake(ssl::stream_base::client,
                                      asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    const long verify = SSL_get_verify_result(st->stream.native_handle());
    std::string detail = ssl_error_text(ec);
    // A rejecting verify callback (Asio's host-name check) leaves X509_V_ERR_UNSPECIFIED.
    if (verify != X509_V_OK && verify != X509_V_ERR_UNSPECIFIED) {
      detail = fmt::format("{} (the service's certificate: {}; the bundle's ca.crt must sign it)",
                           detail, X509_verify_cert_error_string(verify));
    } else if (req.hostname == net::HostnameCheck::Verify &&
               detail.find("certificate verify failed") != std::string::npos) {
      detail =
          fmt::format("{} (the service's certificate is not valid for '{}')", detail, req.host);
    }
    co_return failed("the TLS handshake", std::move(detail));
  }

  http::request<http::empty_body> request{http::verb::get, "/metadata", 11};
  request.set(http::field::host, req.host);
  request.set(http::field::user_agent, "zdm-proxy");
  request.set(http::field::accept, "application/json");
  request.set(http::field::connection, "close");
  co_await http::async_write(st->stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    std::string detail = ssl_error_text(ec);
    // TLS 1.3: a service that refuses our certificate may close before we have written.
    if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
        detail.find("alert") != std::string::npos) {
      detail +=
          " (the service closed the connection right after the TLS handshake, which "
          "usually means it refused the bundle's client certificate: download the bundle "
          "again)";
    }
    co_return failed("sending the request", std::move(detail));
  }

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxMetadataBodyBytes);
  co_await http::async_read(st->stream, buffer, parser,
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    std::string detail = ssl_error_text(ec);
    // With TLS 1.3 the server checks our certificate after the client's handshake completed, so
    // a refused bundle certificate shows up here, as an alert.
    if (detail.find("alert") != std::string::npos) {
      detail += " (the service refused the bundle's client certificate: download the bundle again)";
    }
    co_return failed("reading the answer", std::move(detail));
  }
  auto response = parser.release();
  if (response.result_int() != 200) {
    co_return fail(Errc::Io,
                   fmt::format("Astra metadata service {} answered HTTP {} {}; check "
                               "the database status in the Astra console",
                               url, response.result_int(), std::string(response.reason())));
  }
  auto info = parse_astra_metadata(response.body());
  if (!info) {
    co_return fail(info.error().code, fmt::format("{} (from {})", info.error().message, url));
  }
  co_return info;
}

}  // namespace

Result<AstraContactInfo> parse_astra_metadata(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return metadata_error("the answer is not valid JSON");
  if (!doc.is_object()) return metadata_error("the answer is not a JSON object");
  auto ci = doc.find("contact_info");
  if (ci == doc.end() || !ci->is_object()) {
    return metadata_error("the answer has no \"contact_info\" object");
  }
  AstraContactInfo info;
  auto dc = ci->find("local_dc");
  if (dc == ci->end() || !dc->is_string()) {
    return metadata_error("\"contact_info\" has no \"local_dc\" string");
  }
  info.local_dc = dc->get<std::string>();

  auto sni = ci->find("sni_proxy_address");
  if (sni == ci->end() || !sni->is_string() || sni->get_ref<const std::string&>().empty()) {
    return metadata_error("\"contact_info\" has no \"sni_proxy_address\" string");
  }
  const std::string& address = sni->get_ref<const std::string&>();
  if (address.front() == '[') {  // [IPv6]:port
    const auto close = address.find(']');
    if (close == std::string::npos) {
      return metadata_error(fmt::format("bad \"sni_proxy_address\" '{}'", address));
    }
    info.sni_proxy_host = address.substr(1, close - 1);
    info.sni_proxy_port = close + 1 < address.size() && address[close + 1] == ':'
                              ? parse_port_or_default(std::string_view(address).substr(close + 2))
                              : kDefaultSniProxyPort;
  } else if (const auto colon = address.rfind(':'); colon != std::string::npos) {
    info.sni_proxy_host = address.substr(0, colon);
    info.sni_proxy_port = parse_port_or_default(std::string_view(address).substr(colon + 1));
  } else {
    info.sni_proxy_host = address;
  }
  if (info.sni_proxy_host.empty()) {
    return metadata_error(fmt::format("\"sni_proxy_address\" '{}' has no host", address));
  }

  auto cps = ci->find("contact_points");
  if (cps == ci->end() || !cps->is_array()) {
    return metadata_error("\"contact_info\" has no \"contact_points\" array");
  }
  for (const auto& cp : *cps) {
    if (!cp.is_string() || cp.get_ref<const std::string&>().empty()) {
      return metadata_error("\"contact_points\" holds something other than host id strings");
    }
    info.host_ids.push_back(cp.get<std::string>());
  }
  if (info.host_ids.empty()) return metadata_error("\"contact_points\" is empty");
  return info;
}

Result<AstraMetadataRequest> astra_metadata_request(const SecureConnectBundle& bundle) {
  auto ctx = make_bundle_tls_context(bundle);
  if (!ctx) return tl::unexpected(ctx.error());
  AstraMetadataRequest req;
  req.host = bundle.host;
  req.port = bundle.port;
  req.tls = std::move(*ctx);
  return req;
}

asio::awaitable<Result<AstraContactInfo>> fetch_astra_metadata(AstraMetadataRequest request) {
  if (!request.tls) co_return fail(Errc::InvalidArgument, "Astra metadata: no TLS context given");
  auto ex = co_await asio::this_coro::executor;
  auto st = std::make_shared<FetchState>(ex, *request.tls);
  // One deadline for the whole exchange: on expiry, cancel whatever is pending. The handler owns
  // the state, so it is safe to run after the coroutine finished.
  st->timer.expires_after(request.timeout);
  st->timer.async_wait([st](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the fetch finished first
    st->timed_out = true;
    st->resolver.cancel();
    boost::system::error_code ignored;
    st->stream.lowest_layer().close(ignored);
  });
  auto result = co_await run_fetch(st, std::move(request));
  st->timer.cancel();
  boost::system::error_code ignored;
  st->stream.lowest_layer().close(ignored);
  co_return result;
}

void fetch_astra_metadata(asio::io_context& io, AstraMetadataRequest request,
                          std::function<void(Result<AstraContactInfo>)> done) {
  asio::co_spawn(io, fetch_astra_metadata(std::move(request)),
                 [done = std::move(done)](std::exception_ptr e, Result<AstraContactInfo> r) {
                   if (e) {
                     done(fail(Errc::Io, "Astra metadata fetch failed with an internal error"));
                     return;
                   }
                   done(std::move(r));
                 });
}

Result<void> prepare_astra_sni_stream(ssl::stream<tcp::socket>& stream, const std::string& host_id,
                                      const std::string& sni_proxy_host,
                                      net::HostnameCheck hostname) {
  if (host_id.empty()) return fail(Errc::InvalidArgument, "Astra SNI: empty host id");
  if (SSL_set_tlsext_host_name(stream.native_handle(), host_id.c_str()) != 1) {
    ERR_clear_error();
    return fail(Errc::InvalidArgument,
                fmt::format("Astra SNI: cannot set server name '{}'", host_id));
  }
  boost::system::error_code ec;
  if (hostname == net::HostnameCheck::Verify) {
    stream.set_verify_callback(ssl::host_name_verification(sni_proxy_host), ec);
  } else {
    stream.set_verify_callback([](bool preverified, ssl::verify_context&) { return preverified; },
                               ec);
  }
  if (ec) {
    return fail(Errc::InvalidArgument,
                fmt::format("Astra SNI: cannot set certificate verification: {}", ec.message()));
  }
  return {};
}

}  // namespace zdm::proxy
