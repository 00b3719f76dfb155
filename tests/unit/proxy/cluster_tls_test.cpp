// TLS settings from ProxyConfig: one-way and mutual TLS to a cluster, hostname verification on by
// default, the client-facing context, bundle contexts from memory, and the errors a user sees for
// unreadable files, bad PEM, expired CAs, mismatched keys, untrusted servers and wrong names.
// Certificates are generated at test time (testdata/test_pki.hpp); handshakes run over loopback.
#include "proxy/cluster/cluster_tls.hpp"

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proxy/cluster/secure_connect_bundle.hpp"
#include "proxy/session/upstream_connection.hpp"
#include "testdata/test_pki.hpp"

namespace zdm::proxy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using testing::CertSpec;
using testing::make_cert;
using testing::PkiCert;
using testing::TempDir;

struct Pki {
  TempDir dir{"cluster-tls"};
  PkiCert ca = make_cert({"zdm-test-ca", {}, true}, nullptr);
  PkiCert other_ca = make_cert({"zdm-other-ca", {}, true}, nullptr);
  PkiCert expired_ca = make_cert({"zdm-expired-ca", {}, true, -10 * 86400, -86400}, nullptr);
  PkiCert server = make_cert({"localhost", {"DNS:localhost", "IP:127.0.0.1"}}, &ca);
  PkiCert expired_server =
      make_cert({"localhost", {"DNS:localhost", "IP:127.0.0.1"}, false, -10 * 86400, -86400}, &ca);
  PkiCert client = make_cert({"zdm-proxy", {}}, &ca);
  PkiCert rogue_client = make_cert({"zdm-rogue", {}}, &other_ca);

  std::string ca_pem = dir.write("ca.pem", ca.pem());
  std::string other_ca_pem = dir.write("other-ca.pem", other_ca.pem());
  std::string expired_ca_pem = dir.write("expired-ca.pem", expired_ca.pem());
  std::string server_pem = dir.write("server.pem", server.pem());
  std::string server_key = dir.write("server.key", server.key.pem());
  std::string expired_server_pem = dir.write("expired-server.pem", expired_server.pem());
  std::string expired_server_key = dir.write("expired-server.key", expired_server.key.pem());
  std::string client_pem = dir.write("client.pem", client.pem());
  std::string client_key = dir.write("client.key", client.key.pem());
  std::string rogue_pem = dir.write("rogue.pem", rogue_client.pem());
  std::string rogue_key = dir.write("rogue.key", rogue_client.key.pem());
  std::string junk = dir.write("junk.pem", "this is not PEM\n");
};

class ClusterTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static inline Pki* pki_ = nullptr;

  static std::shared_ptr<ssl::context> server_ctx(bool require_client_cert, const std::string& cert,
                                                  const std::string& key) {
    net::ServerTlsOptions o;
    o.cert_file = cert;
    o.key_file = key;
    o.ca_file = pki_->ca_pem;
    o.client_cert =
        require_client_cert ? net::ClientCertPolicy::Required : net::ClientCertPolicy::Optional;
    auto ctx = net::make_server_tls_context(o);
    EXPECT_TRUE(ctx.has_value()) << ctx.error().message;
    return ctx ? *ctx : nullptr;
  }
  static std::shared_ptr<ssl::context> server_ctx(bool require_client_cert) {
    return server_ctx(require_client_cert, pki_->server_pem, pki_->server_key);
  }
};

struct Outcome {
  bool client_ok = false;
  bool server_ok = false;
  bool exchanged = false;  // a byte went both ways: both ends accepted each other
  std::string explanation;
};

// A handshake as the proxy's upstream side does it: prepare_client_tls_stream with `name`, then
// one byte each way (with TLS 1.3 a refused client certificate only shows after the handshake).
Outcome handshake(const std::shared_ptr<ssl::context>& server, const ClusterTls& tls,
                  const std::string& name) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket raw(io);
  raw.connect(acceptor.local_endpoint());
  ssl::stream<tcp::socket> srv(acceptor.accept(), *server);
  ssl::stream<tcp::socket> cli(std::move(raw), *tls.context);
  EXPECT_TRUE(net::prepare_client_tls_stream(cli, name, tls.hostname).has_value());

  Outcome out;
  char sbuf = 0;
  char cbuf = 0;
  srv.async_handshake(ssl::stream_base::server, [&](boost::system::error_code ec) {
    out.server_ok = !ec;
    if (ec) {
      srv.lowest_layer().close();
      return;
    }
    asio::async_read(srv, asio::buffer(&sbuf, 1), [&](boost::system::error_code rec, size_t) {
      if (rec) return;
      asio::async_write(srv, asio::buffer(&sbuf, 1), [](boost::system::error_code, size_t) {});
    });
  });
  cli.async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
    out.client_ok = !ec;
    if (ec) {
      out.explanation =
          explain_tls_handshake_failure(cli, ec, "127.0.0.1:9042", name, tls.hostname, "ORIGIN");
      cli.lowest_layer().close();
      return;
    }
    static const char ping = 'p';
    asio::async_write(cli, asio::buffer(&ping, 1), [&](boost::system::error_code wec, size_t) {
      if (wec) return;
      asio::async_read(cli, asio::buffer(&cbuf, 1), [&](boost::system::error_code rec, size_t) {
        out.exchanged = !rec && cbuf == 'p';
        if (rec) cli.lowest_layer().close();
      });
    });
  });
  io.run_for(std::chrono::seconds(20));
  return out;
}

ProxyConfig origin_tls(const std::string& ca, const std::string& cert = {},
                       const std::string& key = {}) {
  ProxyConfig c;
  c.origin_contact_points = "127.0.0.1";
  c.origin_tls_server_ca_path = ca;
  c.origin_tls_client_cert_path = cert;
  c.origin_tls_client_key_path = key;
  return c;
}

TEST_F(ClusterTlsTest, NoSettingsMeansPlainConnections) {
  ProxyConfig c;
  EXPECT_EQ(cluster_tls_mode(c, ClusterType::Origin), TlsMode::Off);
  auto tls = make_cluster_tls(c, ClusterType::Target);
  ASSERT_TRUE(tls.has_value());
  EXPECT_EQ(tls->mode, TlsMode::Off);
  EXPECT_EQ(tls->context, nullptr);
  auto proxy = make_proxy_tls_context(c);
  ASSERT_TRUE(proxy.has_value());
  EXPECT_EQ(*proxy, nullptr);
}

TEST_F(ClusterTlsTest, CaAloneGivesOneWayTlsWithHostnameVerification) {
  ProxyConfig c = origin_tls(pki_->ca_pem);
  auto tls = make_cluster_tls(c, ClusterType::Origin);
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  EXPECT_EQ(tls->mode, TlsMode::OneWay);
  EXPECT_EQ(tls->hostname, net::HostnameCheck::Verify);
  auto out = handshake(server_ctx(false), *tls, "localhost");
  EXPECT_TRUE(out.client_ok) << out.explanation;
  EXPECT_TRUE(out.exchanged);
  EXPECT_TRUE(handshake(server_ctx(false), *tls, "127.0.0.1").exchanged);
}

TEST_F(ClusterTlsTest, WrongHostnameFailsWithClearMessageUnlessVerificationIsOff) {
  ProxyConfig c = origin_tls(pki_->ca_pem);
  auto tls = make_cluster_tls(c, ClusterType::Origin);
  ASSERT_TRUE(tls.has_value());
  auto out = handshake(server_ctx(false), *tls, "db.example.com");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.explanation.find("not valid for host name 'db.example.com'"), std::string::npos)
      << out.explanation;
  EXPECT_NE(out.explanation.find("ZDM_ORIGIN_TLS_SKIP_HOSTNAME_VERIFICATION"), std::string::npos);

  auto lax = make_cluster_tls(c, ClusterType::Origin, net::HostnameCheck::Skip);
  ASSERT_TRUE(lax.has_value());
  EXPECT_TRUE(handshake(server_ctx(false), *lax, "db.example.com").exchanged);
}

TEST_F(ClusterTlsTest, UntrustedServerIsRefusedEvenWithVerificationOff) {
  ProxyConfig c = origin_tls(pki_->other_ca_pem);
  auto tls = make_cluster_tls(c, ClusterType::Origin, net::HostnameCheck::Skip);
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  auto out = handshake(server_ctx(false), *tls, "localhost");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.explanation.find("not signed by a trusted CA"), std::string::npos)
      << out.explanation;
  EXPECT_NE(out.explanation.find("ZDM_ORIGIN_TLS_SERVER_CA_PATH"), std::string::npos);
}

TEST_F(ClusterTlsTest, ExpiredServerCertificateIsExplained) {
  auto tls = make_cluster_tls(origin_tls(pki_->ca_pem), ClusterType::Origin);
  ASSERT_TRUE(tls.has_value());
  auto out = handshake(server_ctx(false, pki_->expired_server_pem, pki_->expired_server_key), *tls,
                       "localhost");
  EXPECT_FALSE(out.client_ok);
  EXPECT_NE(out.explanation.find("expired"), std::string::npos) << out.explanation;
}

TEST_F(ClusterTlsTest, MutualTlsPresentsTheClientCertificate) {
  ProxyConfig one_way = origin_tls(pki_->ca_pem);
  auto anonymous = make_cluster_tls(one_way, ClusterType::Origin);
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_FALSE(handshake(server_ctx(true), *anonymous, "localhost").exchanged);

  ProxyConfig mutual = origin_tls(pki_->ca_pem, pki_->client_pem, pki_->client_key);
  auto tls = make_cluster_tls(mutual, ClusterType::Origin);
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  EXPECT_EQ(tls->mode, TlsMode::Mutual);
  auto out = handshake(server_ctx(true), *tls, "localhost");
  EXPECT_TRUE(out.server_ok);
  EXPECT_TRUE(out.exchanged);

  ProxyConfig rogue = origin_tls(pki_->ca_pem, pki_->rogue_pem, pki_->rogue_key);
  auto refused = make_cluster_tls(rogue, ClusterType::Origin);
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(handshake(server_ctx(true), *refused, "localhost").exchanged);
}

TEST_F(ClusterTlsTest, TargetSettingsAreReadForTarget) {
  ProxyConfig c;
  c.target_tls_server_ca_path = pki_->ca_pem;
  c.target_tls_client_cert_path = pki_->client_pem;
  c.target_tls_client_key_path = pki_->client_key;
  EXPECT_EQ(cluster_tls_mode(c, ClusterType::Target), TlsMode::Mutual);
  EXPECT_EQ(cluster_tls_mode(c, ClusterType::Origin), TlsMode::Off);
  c.target_tls_server_ca_path = "/nonexistent/target-ca.pem";
  auto tls = make_cluster_tls(c, ClusterType::Target);
  ASSERT_FALSE(tls.has_value());
  EXPECT_NE(tls.error().message.find("ZDM_TARGET_TLS_SERVER_CA_PATH"), std::string::npos)
      << tls.error().message;
}

TEST_F(ClusterTlsTest, BundleClustersHaveNoCustomTls) {
  ProxyConfig c;
  c.origin_secure_connect_bundle_path = "/some/bundle.zip";
  EXPECT_EQ(cluster_tls_mode(c, ClusterType::Origin), TlsMode::Off);
}

TEST_F(ClusterTlsTest, ErrorsNameTheSettingTheFileAndTheProblem) {
  {
    auto r = make_cluster_tls(origin_tls("/nonexistent/ca.pem"), ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("ZDM_ORIGIN_TLS_SERVER_CA_PATH"), std::string::npos);
    EXPECT_NE(r.error().message.find("/nonexistent/ca.pem"), std::string::npos);
    EXPECT_NE(r.error().message.find("cannot be read"), std::string::npos) << r.error().message;
  }
  {
    auto r = make_cluster_tls(origin_tls(pki_->junk), ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("no PEM certificate"), std::string::npos) << r.error().message;
  }
  {
    auto r = make_cluster_tls(origin_tls(pki_->expired_ca_pem), ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("expired on"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("zdm-expired-ca"), std::string::npos);
  }
  {
    // The client key of another certificate.
    auto r = make_cluster_tls(origin_tls(pki_->ca_pem, pki_->client_pem, pki_->rogue_key),
                              ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("does not match"), std::string::npos) << r.error().message;
  }
  {
    auto r = make_cluster_tls(origin_tls(pki_->ca_pem, pki_->junk, pki_->client_key),
                              ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("ZDM_ORIGIN_TLS_CLIENT_CERT_PATH"), std::string::npos)
        << r.error().message;
  }
  {
    auto r =
        make_cluster_tls(origin_tls("", pki_->client_pem, pki_->client_key), ClusterType::Origin);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("needs the server CA"), std::string::npos);
  }
}

TEST_F(ClusterTlsTest, CertificateValidityIsCheckedAgainstTheGivenTime) {
  const std::string pem = pki_->ca.pem();
  EXPECT_TRUE(check_certificates_valid(pem, "CA").has_value());
  auto later = check_certificates_valid(
      pem, "CA", std::chrono::system_clock::now() + std::chrono::hours(24 * 30));
  ASSERT_FALSE(later.has_value());
  EXPECT_NE(later.error().message.find("expired"), std::string::npos);
  auto earlier = check_certificates_valid(
      pem, "CA", std::chrono::system_clock::now() - std::chrono::hours(24 * 30));
  ASSERT_FALSE(earlier.has_value());
  EXPECT_NE(earlier.error().message.find("not valid before"), std::string::npos);
  // One current certificate among expired ones is enough (CA bundles accumulate old roots).
  EXPECT_TRUE(check_certificates_valid(pki_->expired_ca.pem() + pem, "CA").has_value());
}

// The client-facing side: a driver connecting to the proxy.
ClusterTls driver_tls(bool with_client_cert, const Pki& pki) {
  net::ClientTlsOptions o;
  o.ca_file = pki.ca_pem;
  if (with_client_cert) {
    o.cert_file = pki.client_pem;
    o.key_file = pki.client_key;
  }
  ClusterTls tls;
  tls.mode = with_client_cert ? TlsMode::Mutual : TlsMode::OneWay;
  auto ctx = net::make_client_tls_context(o);
  EXPECT_TRUE(ctx.has_value());
  if (ctx) tls.context = *ctx;
  return tls;
}

ProxyConfig proxy_tls(const Pki& pki, bool require_client_auth) {
  ProxyConfig c;
  c.proxy_tls_ca_path = pki.ca_pem;
  c.proxy_tls_cert_path = pki.server_pem;
  c.proxy_tls_key_path = pki.server_key;
  c.proxy_tls_require_client_auth = require_client_auth;
  return c;
}

TEST_F(ClusterTlsTest, ProxyServesTlsToDriversWithOptionalClientCertificates) {
  auto ctx = make_proxy_tls_context(proxy_tls(*pki_, false));
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message;
  ASSERT_NE(*ctx, nullptr);
  EXPECT_TRUE(handshake(*ctx, driver_tls(false, *pki_), "localhost").exchanged);
  EXPECT_TRUE(handshake(*ctx, driver_tls(true, *pki_), "localhost").exchanged);
}

TEST_F(ClusterTlsTest, ProxyRequiresClientCertificatesWhenAsked) {
  auto ctx = make_proxy_tls_context(proxy_tls(*pki_, true));
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message;
  auto anonymous = handshake(*ctx, driver_tls(false, *pki_), "localhost");
  EXPECT_FALSE(anonymous.server_ok);
  EXPECT_FALSE(anonymous.exchanged);
  auto mutual = handshake(*ctx, driver_tls(true, *pki_), "localhost");
  EXPECT_TRUE(mutual.server_ok);
  EXPECT_TRUE(mutual.exchanged);
}

TEST_F(ClusterTlsTest, ProxyTlsErrorsNameTheSetting) {
  ProxyConfig partial = proxy_tls(*pki_, false);
  partial.proxy_tls_key_path.clear();
  EXPECT_FALSE(make_proxy_tls_context(partial).has_value());

  ProxyConfig require_without_tls;
  require_without_tls.proxy_tls_require_client_auth = true;
  EXPECT_FALSE(make_proxy_tls_context(require_without_tls).has_value());

  ProxyConfig expired = proxy_tls(*pki_, true);
  expired.proxy_tls_ca_path = pki_->expired_ca_pem;
  auto r = make_proxy_tls_context(expired);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("ZDM_PROXY_TLS_CA_PATH"), std::string::npos);
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;

  ProxyConfig expired_cert = proxy_tls(*pki_, false);
  expired_cert.proxy_tls_cert_path = pki_->expired_server_pem;
  expired_cert.proxy_tls_key_path = pki_->expired_server_key;
  auto e = make_proxy_tls_context(expired_cert);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message.find("ZDM_PROXY_TLS_CERT_PATH"), std::string::npos)
      << e.error().message;

  ProxyConfig mismatched = proxy_tls(*pki_, false);
  mismatched.proxy_tls_key_path = pki_->client_key;
  auto m = make_proxy_tls_context(mismatched);
  ASSERT_FALSE(m.has_value());
  EXPECT_NE(m.error().message.find("does not match"), std::string::npos) << m.error().message;
}

TEST_F(ClusterTlsTest, BundleContextIsBuiltFromPemInMemory) {
  SecureConnectBundle b;
  b.source = "bundle.zip";
  b.ca_pem = pki_->ca.pem();
  b.cert_pem = pki_->client.pem();
  b.key_pem = pki_->client.key.pem();
  auto ctx = make_bundle_tls_context(b);
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message;
  ClusterTls tls{TlsMode::Mutual, *ctx, net::HostnameCheck::Verify};
  EXPECT_TRUE(handshake(server_ctx(true), tls, "localhost").exchanged);

  SecureConnectBundle wrong_key = b;
  wrong_key.key_pem = pki_->rogue_client.key.pem();
  auto w = make_bundle_tls_context(wrong_key);
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().message.find("key does not match cert"), std::string::npos);

  SecureConnectBundle bad_ca = b;
  bad_ca.ca_pem = "garbage";
  auto g = make_bundle_tls_context(bad_ca);
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().message.find("ca.crt"), std::string::npos) << g.error().message;

  SecureConnectBundle expired = b;
  expired.ca_pem = pki_->expired_ca.pem();
  auto x = make_bundle_tls_context(expired);
  ASSERT_FALSE(x.has_value());
  EXPECT_NE(x.error().message.find("expired"), std::string::npos);
}

// connect_stream (the proxy's request connections) completes the handshake itself, so a failure
// is explained; the stream it hands over has its handshake done, and FramedConnection's own
// handshake call on it is a no-op.
struct ConnectOutcome {
  bool ok = false;
  std::string error;
  bool second_handshake_ok = false;
};

ConnectOutcome connect_through(const std::shared_ptr<ssl::context>& server, UpstreamTls tls) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto srv = std::make_shared<ssl::stream<tcp::socket>>(io, *server);
  acceptor.async_accept(srv->lowest_layer(), [srv](boost::system::error_code ec) {
    if (ec) return;
    srv->async_handshake(ssl::stream_base::server, [](boost::system::error_code) {});
  });
  ConnectOutcome out;
  std::optional<net::Stream> kept;
  connect_stream(io.get_executor(), "127.0.0.1", acceptor.local_endpoint().port(), tls, "",
                 std::chrono::milliseconds(10000), [&](Result<net::Stream> r) {
                   out.ok = r.has_value();
                   if (!r) {
                     out.error = r.error().message;
                     return;
                   }
                   kept.emplace(std::move(*r));
                   kept->async_handshake(ssl::stream_base::client,
                                         [&](boost::system::error_code ec) {
                                           out.second_handshake_ok = !ec;
                                           kept->close();
                                           srv->lowest_layer().close();
                                         });
                 });
  io.run_for(std::chrono::seconds(20));
  return out;
}

TEST_F(ClusterTlsTest, ConnectStreamCompletesTheHandshakeOrExplainsWhyNot) {
  UpstreamTls good;
  good.context = make_cluster_tls(origin_tls(pki_->ca_pem), ClusterType::Origin)->context;
  good.cluster_name = "TARGET";
  auto ok = connect_through(server_ctx(false), good);
  EXPECT_TRUE(ok.ok) << ok.error;
  EXPECT_TRUE(ok.second_handshake_ok);

  UpstreamTls untrusted = good;
  untrusted.context =
      make_cluster_tls(origin_tls(pki_->other_ca_pem), ClusterType::Origin)->context;
  auto bad = connect_through(server_ctx(false), untrusted);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("TLS handshake with TARGET node 127.0.0.1:"), std::string::npos)
      << bad.error;
  EXPECT_NE(bad.error.find("not signed by a trusted CA"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("ZDM_TARGET_TLS_SERVER_CA_PATH"), std::string::npos) << bad.error;

  auto expired =
      connect_through(server_ctx(false, pki_->expired_server_pem, pki_->expired_server_key), good);
  EXPECT_FALSE(expired.ok);
  EXPECT_NE(expired.error.find("expired"), std::string::npos) << expired.error;
}

TEST_F(ClusterTlsTest, ConnectSetupFollowsTheClusterSettings) {
  ProxyConfig c = origin_tls(pki_->ca_pem);
  c.target_contact_points = "127.0.0.1";
  auto origin = make_cluster_connect_setup(c, ClusterType::Origin);
  ASSERT_TRUE(origin) << origin.error().message;
  EXPECT_TRUE(origin->tls);
  EXPECT_EQ(origin->tls.hostname, net::HostnameCheck::Verify);
  EXPECT_EQ(origin->tls.cluster_name, "ORIGIN");
  EXPECT_FALSE(origin->astra);
  auto target = make_cluster_connect_setup(c, ClusterType::Target);
  ASSERT_TRUE(target);
  EXPECT_FALSE(target->tls);
  EXPECT_EQ(target->tls.cluster_name, "TARGET");

  c.origin_tls_skip_hostname_verification = true;
  auto skip = make_cluster_connect_setup(c, ClusterType::Origin);
  ASSERT_TRUE(skip);
  EXPECT_EQ(skip->tls.hostname, net::HostnameCheck::Skip);

  ProxyConfig b;
  b.target_secure_connect_bundle_path = pki_->dir.path("missing-bundle.zip");
  auto missing = make_cluster_connect_setup(b, ClusterType::Target);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("ZDM_TARGET_SECURE_CONNECT_BUNDLE_PATH"),
            std::string::npos)
      << missing.error().message;
  EXPECT_NE(missing.error().message.find("missing-bundle.zip"), std::string::npos)
      << missing.error().message;
}

TEST_F(ClusterTlsTest, AlertsAfterTheHandshakeAreExplainedByTheirCode) {
  const std::string required =
      explain_tls_alert("connection closed", SSL_AD_CERTIFICATE_REQUIRED, "ORIGIN");
  EXPECT_NE(required.find("ZDM_ORIGIN_TLS_CLIENT_CERT_PATH"), std::string::npos) << required;
  const std::string unknown = explain_tls_alert("connection closed", SSL_AD_UNKNOWN_CA, "TARGET");
  EXPECT_NE(unknown.find("refused our client certificate"), std::string::npos) << unknown;
  // Text that mentions alerts is not an alert.
  EXPECT_EQ(explain_tls_alert("tlsv13 alert certificate required", std::nullopt, "ORIGIN"),
            "tlsv13 alert certificate required");
  EXPECT_EQ(explain_tls_alert("closed", SSL_AD_CLOSE_NOTIFY, "ORIGIN"), "closed");
}

TEST_F(ClusterTlsTest, ReceivedAlertsAreReadFromOpenSslErrorCodes) {
  const boost::system::error_code required(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)),
      boost::asio::error::get_ssl_category());
  EXPECT_EQ(net::received_tls_alert(required), SSL_AD_CERTIFICATE_REQUIRED);
  const boost::system::error_code unknown_ca(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV1_ALERT_UNKNOWN_CA)),
      boost::asio::error::get_ssl_category());
  EXPECT_EQ(net::received_tls_alert(unknown_ca), SSL_AD_UNKNOWN_CA);
  const boost::system::error_code verify(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
      boost::asio::error::get_ssl_category());
  EXPECT_EQ(net::received_tls_alert(verify), std::nullopt);
  EXPECT_EQ(net::received_tls_alert(boost::asio::error::eof), std::nullopt);
}

}  // namespace
}  // namespace zdm::proxy
