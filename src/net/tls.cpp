#include "net/tls.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace zdm::net {

namespace ssl = boost::asio::ssl;

namespace {

// Separates "no such file / permission denied" from "not a valid PEM", which OpenSSL alone
// reports in the same opaque way.
Result<void> check_readable(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::InvalidArgument, fmt::format("TLS {} file '{}' cannot be read: {}", what,
                                                   path, std::strerror(errno)));
  }
  return {};
}

std::string ssl_reason(const boost::system::error_code& ec) {
  std::string reason = ec.message();
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    reason = buf;
  }
  ERR_clear_error();
  return reason;
}

Result<void> load_cert_and_key(ssl::context& ctx, const std::string& cert, const std::string& key) {
  if (auto ok = check_readable(cert, "certificate"); !ok) return ok;
  if (auto ok = check_readable(key, "private key"); !ok) return ok;
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) {
    return fail(Errc::InvalidArgument,
                fmt::format("TLS certificate file '{}' is not a valid PEM certificate chain: {}",
                            cert, ssl_reason(ec)));
  }
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    return fail(Errc::InvalidArgument,
                fmt::format("TLS private key file '{}' is not a valid PEM private key (or it is "
                            "encrypted, or does not match the certificate): {}",
                            key, ssl_reason(ec)));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return fail(Errc::InvalidArgument,
                fmt::format("TLS private key '{}' does not match certificate '{}'", key, cert));
  }
  return {};
}

Result<void> load_ca(ssl::context& ctx, const std::string& ca) {
  if (auto ok = check_readable(ca, "CA"); !ok) return ok;
  boost::system::error_code ec;
  ctx.load_verify_file(ca, ec);
  if (ec) {
    return fail(
        Errc::InvalidArgument,
        fmt::format("TLS CA file '{}' holds no valid PEM certificate: {}", ca, ssl_reason(ec)));
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const ServerTlsOptions& options) {
  if (options.cert_file.empty() || options.key_file.empty()) {
    return fail(Errc::InvalidArgument, "TLS server needs both a certificate and a private key");
  }
  if (options.client_cert == ClientCertPolicy::Required && options.ca_file.empty()) {
    return fail(Errc::InvalidArgument,
                "requiring client certificates needs a CA file to verify them against");
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  if (auto ok = load_cert_and_key(*ctx, options.cert_file, options.key_file); !ok) {
    return tl::unexpected(ok.error());
  }
  if (!options.ca_file.empty()) {
    if (auto ok = load_ca(*ctx, options.ca_file); !ok) return tl::unexpected(ok.error());
    ssl::verify_mode mode = ssl::verify_peer;
    if (options.client_cert == ClientCertPolicy::Required) {
      mode |= ssl::verify_fail_if_no_peer_cert;
    }
    ctx->set_verify_mode(mode);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> make_client_tls_context(const ClientTlsOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (!options.ca_file.empty()) {
    if (auto ok = load_ca(*ctx, options.ca_file); !ok) return tl::unexpected(ok.error());
  } else {
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);
  }
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (options.cert_file.empty() || options.key_file.empty()) {
      return fail(Errc::InvalidArgument,
                  "a TLS client certificate needs both the certificate and its private key");
    }
    if (auto ok = load_cert_and_key(*ctx, options.cert_file, options.key_file); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

Result<void> prepare_client_tls_stream(ssl::stream<boost::asio::ip::tcp::socket>& s,
                                       const std::string& host, HostnameCheck check) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  const bool is_address = !ec;
  ec.clear();
  // SNI carries names only, never addresses (RFC 6066).
  if (!is_address && !host.empty()) {
    if (SSL_set_tlsext_host_name(s.native_handle(), host.c_str()) != 1) {
      ERR_clear_error();
      return fail(Errc::InvalidArgument, fmt::format("cannot set TLS SNI name '{}'", host));
    }
  }
  if (check == HostnameCheck::Verify) {
    s.set_verify_callback(ssl::host_name_verification(host), ec);
    if (ec) {
      return fail(Errc::InvalidArgument,
                  fmt::format("cannot enable hostname verification: {}", ec.message()));
    }
  } else {
    s.set_verify_callback([](bool preverified, ssl::verify_context&) { return preverified; }, ec);
  }
  return {};
}

std::string explain_tls_handshake_failure(ssl::stream<boost::asio::ip::tcp::socket>& stream,
                                          const boost::system::error_code& ec,
                                          std::string_view peer, std::string_view expected_name,
                                          HostnameCheck hostname, std::string_view cluster_name) {
  const long verify = SSL_get_verify_result(stream.native_handle());
  const std::string ca_setting = fmt::format("ZDM_{}_TLS_SERVER_CA_PATH", cluster_name);
  std::string why;
  bool wrong_name = false;  // the certificate does not name the host connected to
  switch (verify) {
    case X509_V_OK:
    case X509_V_ERR_UNSPECIFIED:  // what a rejecting verify callback (Asio's name check) leaves
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      why = "its certificate has expired; the cluster must renew it";
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      why = "its certificate is not valid yet (check the clocks)";
      break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      why = fmt::format("its certificate is not signed by a trusted CA ({}); check {}",
                        X509_verify_cert_error_string(verify), ca_setting);
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      why = fmt::format("its certificate is not valid for '{}'", expected_name);
      wrong_name = true;
      break;
    default:
      why =
          fmt::format("certificate verification failed: {}", X509_verify_cert_error_string(verify));
      break;
  }
  const bool verify_failed =
      ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
  if (why.empty() && verify_failed && hostname == HostnameCheck::Verify) {
    // Asio's host-name callback rejects the chain without recording an X509 error code: the
    // chain was otherwise fine, so the name is what did not match.
    why = fmt::format("its certificate is not valid for host name '{}'", expected_name);
    wrong_name = true;
  }
  if (wrong_name) {
    return fmt::format(
        "TLS handshake with {} node {} failed: {}. Connect by a name the certificate lists, or "
        "turn hostname verification off with ZDM_{}_TLS_SKIP_HOSTNAME_VERIFICATION=true",
        cluster_name, peer, why, cluster_name);
  }
  if (!why.empty()) {
    return fmt::format("TLS handshake with {} node {} failed: {}", cluster_name, peer, why);
  }
  // The verify result is fine: the server refused us (usually our client certificate) or the
  // peer does not speak TLS.
  std::string reason = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof(buf));
    reason = buf;
  }
  const bool alert = received_tls_alert(ec).has_value();
  return fmt::format("TLS handshake with {} node {} failed: {}{}", cluster_name, peer, reason,
                     alert ? fmt::format(" (the node refused the connection; if it requires client "
                                         "certificates, set ZDM_{0}_TLS_CLIENT_CERT_PATH and "
                                         "ZDM_{0}_TLS_CLIENT_KEY_PATH to a pair its CA trusts)",
                                         cluster_name)
                           : std::string());
}

std::optional<uint8_t> received_tls_alert(const boost::system::error_code& ec) {
  if (!ec || ec.category() != boost::asio::error::get_ssl_category()) return std::nullopt;
  // OpenSSL reports a received alert as reason SSL_AD_REASON_OFFSET + the alert's description.
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (reason < SSL_AD_REASON_OFFSET || reason > SSL_AD_REASON_OFFSET + 255) return std::nullopt;
  return static_cast<uint8_t>(reason - SSL_AD_REASON_OFFSET);
}

std::string explain_tls_alert(std::string message, std::optional<uint8_t> alert,
                              std::string_view cluster_name) {
  if (!alert) return message;
  switch (*alert) {
    case SSL_AD_CERTIFICATE_REQUIRED:
    case SSL_AD_HANDSHAKE_FAILURE:
      message += fmt::format(
          " (the {0} node requires a client certificate: set ZDM_{0}_TLS_CLIENT_CERT_PATH and "
          "ZDM_{0}_TLS_CLIENT_KEY_PATH to a pair its CA trusts)",
          cluster_name);
      break;
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
      message += fmt::format(
          " (the {0} node refused our client certificate: check that "
          "ZDM_{0}_TLS_CLIENT_CERT_PATH is current and signed by a CA the node trusts)",
          cluster_name);
      break;
    default:
      break;
  }
  return message;
}

}  // namespace zdm::net
