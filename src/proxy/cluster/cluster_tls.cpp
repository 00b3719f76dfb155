#include "proxy/cluster/cluster_tls.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/asio/ssl/error.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include "proxy/cluster/secure_connect_bundle.hpp"

namespace zdm::proxy {

namespace ssl = boost::asio::ssl;

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::string asn1_time_text(const ASN1_TIME* t) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), t) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string("?");
}

std::string subject_text(X509* cert) {
  char buf[256];
  if (X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

Result<std::string> read_text_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Errc::InvalidArgument,
                fmt::format("{} '{}' cannot be read: {}", what, path, std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::string cluster_prefix(ClusterType cluster) {
  return cluster == ClusterType::Origin ? "ORIGIN" : "TARGET";
}

// Prefixes an error from net/tls with the setting it came from, so the user knows which
// variable to fix.
tl::unexpected<Error> in_setting(const Error& e, std::string_view setting) {
  return fail(e.code, fmt::format("{}: {}", setting, e.message));
}

struct ClusterPaths {
  const std::string& ca;
  const std::string& cert;
  const std::string& key;
  const std::string& bundle;
};

ClusterPaths paths_of(const ProxyConfig& c, ClusterType cluster) {
  if (cluster == ClusterType::Origin) {
    return {c.origin_tls_server_ca_path, c.origin_tls_client_cert_path,
            c.origin_tls_client_key_path, c.origin_secure_connect_bundle_path};
  }
  return {c.target_tls_server_ca_path, c.target_tls_client_cert_path, c.target_tls_client_key_path,
          c.target_secure_connect_bundle_path};
}

std::string last_ssl_error() {
  std::string reason = "unknown OpenSSL error";
  if (unsigned long e = ERR_peek_last_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    reason = buf;
  }
  ERR_clear_error();
  return reason;
}

}  // namespace

std::string_view tls_mode_name(TlsMode m) {
  switch (m) {
    case TlsMode::Off:
      return "off";
    case TlsMode::OneWay:
      return "one-way";
    case TlsMode::Mutual:
      return "mutual";
  }
  return "?";
}

Result<void> check_certificates_valid(std::string_view pem, std::string_view what,
                                      std::chrono::system_clock::time_point now) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Errc::Io, "out of memory reading PEM");
  time_t at = std::chrono::system_clock::to_time_t(now);
  int total = 0;
  int usable = 0;
  std::string first_problem;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    ++total;
    const ASN1_TIME* not_before = X509_get0_notBefore(cert.get());
    const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
    std::string problem;
    if (X509_cmp_time(not_after, &at) < 0) {
      problem = fmt::format("certificate '{}' expired on {}", subject_text(cert.get()),
                            asn1_time_text(not_after));
    } else if (X509_cmp_time(not_before, &at) > 0) {
      problem = fmt::format("certificate '{}' is not valid before {}", subject_text(cert.get()),
                            asn1_time_text(not_before));
    }
    if (problem.empty()) {
      ++usable;
    } else {
      if (first_problem.empty()) first_problem = problem;
      spdlog::warn("{}: {}", what, problem);
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  if (total == 0) {
    return fail(Errc::InvalidArgument, fmt::format("{} holds no PEM certificate", what));
  }
  if (usable == 0) {
    return fail(Errc::InvalidArgument,
                fmt::format("{}: {}; replace it with a current certificate", what, first_problem));
  }
  return {};
}

Result<void> check_certificate_file_valid(const std::string& path, std::string_view what) {
  auto text = read_text_file(path, what);
  if (!text) return tl::unexpected(text.error());
  return check_certificates_valid(*text, fmt::format("{} '{}'", what, path));
}

TlsMode cluster_tls_mode(const ProxyConfig& config, ClusterType cluster) {
  const ClusterPaths p = paths_of(config, cluster);
  if (!p.bundle.empty() || p.ca.empty()) return TlsMode::Off;
  return p.cert.empty() ? TlsMode::OneWay : TlsMode::Mutual;
}

Result<ClusterTls> make_cluster_tls(const ProxyConfig& config, ClusterType cluster,
                                    net::HostnameCheck hostname) {
  const ClusterPaths p = paths_of(config, cluster);
  const std::string prefix = cluster_prefix(cluster);
  ClusterTls out;
  out.hostname = hostname;
  out.mode = cluster_tls_mode(config, cluster);
  if (out.mode == TlsMode::Off) {
    if (p.bundle.empty() && (!p.cert.empty() || !p.key.empty())) {
      return fail(Errc::InvalidArgument,
                  fmt::format("ZDM_{0}_TLS_CLIENT_CERT_PATH/KEY_PATH are set without "
                              "ZDM_{0}_TLS_SERVER_CA_PATH: mutual TLS needs the server CA too",
                              prefix));
    }
    return out;
  }
  const std::string ca_setting = fmt::format("ZDM_{}_TLS_SERVER_CA_PATH", prefix);
  if (auto ok = check_certificate_file_valid(p.ca, "TLS CA file"); !ok) {
    return in_setting(ok.error(), ca_setting);
  }
  net::ClientTlsOptions options;
  options.ca_file = p.ca;
  options.hostname = hostname;
  if (out.mode == TlsMode::Mutual) {
    if (p.key.empty()) {
      return fail(Errc::InvalidArgument,
                  fmt::format("ZDM_{0}_TLS_CLIENT_CERT_PATH is set but ZDM_{0}_TLS_CLIENT_KEY_PATH "
                              "is not: mutual TLS needs both",
                              prefix));
    }
    if (auto ok = check_certificate_file_valid(p.cert, "TLS client certificate file"); !ok) {
      return in_setting(ok.error(), fmt::format("ZDM_{}_TLS_CLIENT_CERT_PATH", prefix));
    }
    options.cert_file = p.cert;
    options.key_file = p.key;
  }
  auto ctx = net::make_client_tls_context(options);
  if (!ctx) {
    return in_setting(ctx.error(), fmt::format("ZDM_{}_TLS_*", prefix));
  }
  // The reference appends the CA to the system pool; keep that so public CAs still work.
  boost::system::error_code ec;
  (*ctx)->set_default_verify_paths(ec);
  if (hostname == net::HostnameCheck::Skip) {
    spdlog::warn(
        "TLS to {}: hostname verification is OFF; any certificate signed by the CA is accepted",
        prefix);
  }
  out.context = std::move(*ctx);
  return out;
}

Result<ClusterConnectSetup> make_cluster_connect_setup(const ProxyConfig& config,
                                                       ClusterType cluster) {
  const ClusterPaths p = paths_of(config, cluster);
  const bool skip = cluster == ClusterType::Origin ? config.origin_tls_skip_hostname_verification
                                                   : config.target_tls_skip_hostname_verification;
  const auto hostname = skip ? net::HostnameCheck::Skip : net::HostnameCheck::Verify;
  ClusterConnectSetup out;
  out.tls.hostname = hostname;
  out.tls.cluster_name = cluster_prefix(cluster);
  if (!p.bundle.empty()) {
    const std::string setting =
        fmt::format("ZDM_{}_SECURE_CONNECT_BUNDLE_PATH", cluster_prefix(cluster));
    auto bundle = read_secure_connect_bundle(p.bundle);
    if (!bundle) return in_setting(bundle.error(), setting);
    auto request = astra_metadata_request(*bundle);
    if (!request) return in_setting(request.error(), setting);
    out.tls.context = request->tls;  // the same mutual TLS reaches the SNI proxy
    if (skip) {
      spdlog::warn("TLS to {} (Astra SNI proxy): hostname verification is OFF",
                   cluster_prefix(cluster));
    }
    out.astra = std::move(*request);
    return out;
  }
  auto tls = make_cluster_tls(config, cluster, hostname);
  if (!tls) return tl::unexpected(tls.error());
  out.tls.context = std::move(tls->context);
  return out;
}

Result<std::shared_ptr<ssl::context>> make_proxy_tls_context(const ProxyConfig& config) {
  if (config.proxy_tls_ca_path.empty() && config.proxy_tls_cert_path.empty() &&
      config.proxy_tls_key_path.empty()) {
    if (config.proxy_tls_require_client_auth) {
      return fail(
          Errc::InvalidArgument,
          "ZDM_PROXY_TLS_REQUIRE_CLIENT_AUTH is true but proxy TLS is not configured "
          "(set ZDM_PROXY_TLS_CA_PATH, ZDM_PROXY_TLS_CERT_PATH and ZDM_PROXY_TLS_KEY_PATH)");
    }
    return std::shared_ptr<ssl::context>();
  }
  if (config.proxy_tls_ca_path.empty() || config.proxy_tls_cert_path.empty() ||
      config.proxy_tls_key_path.empty()) {
    return fail(Errc::InvalidArgument,
                "proxy TLS needs all three of ZDM_PROXY_TLS_CA_PATH, ZDM_PROXY_TLS_CERT_PATH and "
                "ZDM_PROXY_TLS_KEY_PATH");
  }
  if (auto ok = check_certificate_file_valid(config.proxy_tls_ca_path, "TLS CA file"); !ok) {
    return in_setting(ok.error(), "ZDM_PROXY_TLS_CA_PATH");
  }
  if (auto ok = check_certificate_file_valid(config.proxy_tls_cert_path, "TLS certificate file");
      !ok) {
    return in_setting(ok.error(), "ZDM_PROXY_TLS_CERT_PATH");
  }
  net::ServerTlsOptions options;
  options.cert_file = config.proxy_tls_cert_path;
  options.key_file = config.proxy_tls_key_path;
  options.ca_file = config.proxy_tls_ca_path;
  options.client_cert = config.proxy_tls_require_client_auth ? net::ClientCertPolicy::Required
                                                             : net::ClientCertPolicy::Optional;
  auto ctx = net::make_server_tls_context(options);
  if (!ctx) return in_setting(ctx.error(), "ZDM_PROXY_TLS_*");
  return std::move(*ctx);
}

Result<std::shared_ptr<ssl::context>> make_bundle_tls_context(const SecureConnectBundle& bundle) {
  const std::string where = fmt::format("secure connect bundle '{}'", bundle.source);
  if (auto ok = check_certificates_valid(bundle.ca_pem, where + " ca.crt"); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = check_certificates_valid(bundle.cert_pem, where + " cert"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ctx->add_certificate_authority(boost::asio::buffer(bundle.ca_pem), ec);
  if (ec) {
    return fail(Errc::InvalidArgument, fmt::format("{}: ca.crt is not a valid PEM certificate: {}",
                                                   where, last_ssl_error()));
  }
  ctx->use_certificate_chain(boost::asio::buffer(bundle.cert_pem), ec);
  if (ec) {
    return fail(Errc::InvalidArgument, fmt::format("{}: cert is not a valid PEM certificate: {}",
                                                   where, last_ssl_error()));
  }
  // Parsed on its own first: OpenSSL reports a key that does not match the certificate the same
  // way as a key it cannot read.
  {
    BioPtr bio(BIO_new_mem_buf(bundle.key_pem.data(), static_cast<int>(bundle.key_pem.size())));
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr,
        EVP_PKEY_free);
    if (!key) {
      return fail(Errc::InvalidArgument, fmt::format("{}: key is not a valid PEM private key: {}",
                                                     where, last_ssl_error()));
    }
  }
  ctx->use_private_key(boost::asio::buffer(bundle.key_pem), ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    return fail(Errc::InvalidArgument,
                fmt::format("{}: key does not match cert (download the bundle again)", where));
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

std::string explain_client_tls_failure(ssl::stream<boost::asio::ip::tcp::socket>& stream,
                                       const boost::system::error_code& ec) {
  std::string reason = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof(buf));
    reason = buf;
  }
  const auto has = [&](std::string_view text) { return reason.find(text) != std::string::npos; };
  const long verify = SSL_get_verify_result(stream.native_handle());
  if (has("peer did not return a certificate") || has("certificate required")) {
    return reason +
           " (ZDM_PROXY_TLS_REQUIRE_CLIENT_AUTH is true: the client must present a certificate "
           "signed by a CA in ZDM_PROXY_TLS_CA_PATH)";
  }
  if (has("certificate verify failed") && verify != X509_V_OK) {
    return fmt::format(
        "{}: the client's certificate was refused: {} (it must be current and "
        "signed by a CA in ZDM_PROXY_TLS_CA_PATH)",
        reason, X509_verify_cert_error_string(verify));
  }
  if (has("alert")) {
    return reason +
           " (the client refused the proxy's certificate, ZDM_PROXY_TLS_CERT_PATH: the client "
           "must trust its CA and connect by a name or address it lists)";
  }
  if (has("wrong version number") || has("http request") || has("unknown protocol")) {
    return reason + " (the client does not speak TLS; enable TLS in the driver)";
  }
  return reason;
}

}  // namespace zdm::proxy
