// The Astra metadata service client against a local stand-in: a Beast HTTPS server with a test CA
// that requires a client certificate, on 127.0.0.1 port 0. Checks success (also end to end from a
// bundle zip), a refused client certificate, an untrusted service, HTTP errors, bad JSON, the
// deadline, and the SNI name sent to the SNI proxy.
#include "proxy/cluster/astra_metadata.hpp"

#include <cstdlib>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "proxy/cluster/cluster_tls.hpp"
#include "proxy/cluster/secure_connect_bundle.hpp"
#include "testdata/test_pki.hpp"

namespace zdm::proxy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using asio::ip::tcp;
using testing::make_cert;
using testing::PkiCert;
using testing::TempDir;

const char* kMetadata = R"({"version":1,"region":"us-east1",
  "contact_info":{"type":"sni_proxy","local_dc":"dc-east",
  "contact_points":["4f2b7a5e-0000-4000-8000-000000000001","4f2b7a5e-0000-4000-8000-000000000002"],
  "sni_proxy_address":"sni.example.com:29042"}})";

struct Pki {
  TempDir dir{"astra"};
  PkiCert ca = make_cert({"astra-test-ca", {}, true}, nullptr);
  PkiCert other_ca = make_cert({"other-ca", {}, true}, nullptr);
  PkiCert service = make_cert({"localhost", {"DNS:localhost", "IP:127.0.0.1"}}, &ca);
  PkiCert client = make_cert({"astra-client", {}}, &ca);
  PkiCert rogue = make_cert({"rogue-client", {}}, &other_ca);
  std::string ca_pem = dir.write("ca.pem", ca.pem());
  std::string service_pem = dir.write("service.pem", service.pem());
  std::string service_key = dir.write("service.key", service.key.pem());
};

// What the stand-in service does with each connection.
enum class Behaviour { Answer, HangAfterRequest, NeverHandshake };

struct ServiceState {
  std::shared_ptr<ssl::context> ctx;
  Behaviour behaviour = Behaviour::Answer;
  unsigned status = 200;
  std::string body;
  int handshakes_ok = 0;
  int handshakes_failed = 0;
  std::string last_target;
  std::string last_host_header;
  std::vector<std::shared_ptr<tcp::socket>> held;  // NeverHandshake keeps sockets open
};

asio::awaitable<void> serve_connection(std::shared_ptr<ServiceState> st, tcp::socket socket) {
  ssl::stream<tcp::socket> stream(std::move(socket), *st->ctx);
  boost::system::error_code ec;
  co_await stream.async_handshake(ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    ++st->handshakes_failed;
    co_return;
  }
  ++st->handshakes_ok;
  boost::beast::flat_buffer buffer;
  http::request<http::string_body> req;
  co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    ++st->handshakes_failed;  // TLS 1.3: a refused client certificate surfaces on first read
    co_return;
  }
  st->last_target = std::string(req.target());
  st->last_host_header = std::string(req[http::field::host]);
  if (st->behaviour == Behaviour::HangAfterRequest) {
    char byte = 0;  // waits until the client gives up and closes
    co_await asio::async_read(stream, asio::buffer(&byte, 1),
                              asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  http::response<http::string_body> res{static_cast<http::status>(st->status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = st->body;
  res.prepare_payload();
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> accept_loop(std::shared_ptr<ServiceState> st,
                                  std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (st->behaviour == Behaviour::NeverHandshake) {
      st->held.push_back(std::make_shared<tcp::socket>(std::move(socket)));
      continue;
    }
    asio::co_spawn(acceptor->get_executor(), serve_connection(st, std::move(socket)),
                   asio::detached);
  }
}

class AstraMetadataTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static inline Pki* pki_ = nullptr;

  // Starts the stand-in on io_; returns its port.
  uint16_t start_service(Behaviour behaviour, unsigned status, std::string body) {
    net::ServerTlsOptions o;
    o.cert_file = pki_->service_pem;
    o.key_file = pki_->service_key;
    o.ca_file = pki_->ca_pem;
    o.client_cert = net::ClientCertPolicy::Required;
    auto ctx = net::make_server_tls_context(o);
    EXPECT_TRUE(ctx.has_value()) << ctx.error().message;
    state_ = std::make_shared<ServiceState>();
    state_->ctx = *ctx;
    state_->behaviour = behaviour;
    state_->status = status;
    state_->body = std::move(body);
    auto acceptor =
        std::make_shared<tcp::acceptor>(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const uint16_t port = acceptor->local_endpoint().port();
    asio::co_spawn(io_, accept_loop(state_, acceptor), asio::detached);
    acceptor_ = acceptor;
    return port;
  }

  SecureConnectBundle bundle_with(const PkiCert& client, const std::string& ca_pem) {
    SecureConnectBundle b;
    b.source = "test-bundle.zip";
    b.host = "127.0.0.1";
    b.ca_pem = ca_pem;
    b.cert_pem = client.pem();
    b.key_pem = client.key.pem();
    return b;
  }

  // Runs one fetch to completion (bounded) through the callback API.
  std::optional<Result<AstraContactInfo>> fetch(AstraMetadataRequest req) {
    std::optional<Result<AstraContactInfo>> out;
    fetch_astra_metadata(io_, std::move(req), [&](Result<AstraContactInfo> r) {
      out = std::move(r);
      acceptor_->close();  // lets io_ run out of work
      for (auto& s : state_->held) s->close();
    });
    io_.run_for(std::chrono::seconds(20));
    return out;
  }

  asio::io_context io_;
  std::shared_ptr<ServiceState> state_;
  std::shared_ptr<tcp::acceptor> acceptor_;
};

TEST(AstraMetadataParse, ReadsContactInfo) {
  auto info = parse_astra_metadata(kMetadata);
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->sni_proxy_host, "sni.example.com");
  EXPECT_EQ(info->sni_proxy_port, 29042);
  EXPECT_EQ(info->local_dc, "dc-east");
  ASSERT_EQ(info->host_ids.size(), 2u);
  EXPECT_EQ(info->host_ids[1], "4f2b7a5e-0000-4000-8000-000000000002");
}

TEST(AstraMetadataParse, DefaultsThePortAndAcceptsIpv6) {
  auto no_port = parse_astra_metadata(
      R"({"contact_info":{"local_dc":"d","contact_points":["a"],"sni_proxy_address":"sni.host"}})");
  ASSERT_TRUE(no_port.has_value());
  EXPECT_EQ(no_port->sni_proxy_port, kDefaultSniProxyPort);
  auto v6 = parse_astra_metadata(
      R"({"contact_info":{"local_dc":"d","contact_points":["a"],"sni_proxy_address":"[::1]:1234"}})");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->sni_proxy_host, "::1");
  EXPECT_EQ(v6->sni_proxy_port, 1234);
}

TEST(AstraMetadataParse, RejectsMalformedAnswersWithTheField) {
  struct Case {
    const char* json;
    const char* expected;
  };
  const Case cases[] = {
      {"<html>", "not valid JSON"},
      {"42", "not a JSON object"},
      {"{}", "contact_info"},
      {R"({"contact_info":{"contact_points":["a"],"sni_proxy_address":"h:1"}})", "local_dc"},
      {R"({"contact_info":{"local_dc":"d","contact_points":["a"]}})", "sni_proxy_address"},
      {R"({"contact_info":{"local_dc":"d","sni_proxy_address":"h:1"}})", "contact_points"},
      {R"({"contact_info":{"local_dc":"d","contact_points":[],"sni_proxy_address":"h:1"}})",
       "empty"},
      {R"({"contact_info":{"local_dc":"d","contact_points":[7],"sni_proxy_address":"h:1"}})",
       "host id strings"},
      {R"({"contact_info":{"local_dc":"d","contact_points":["a"],"sni_proxy_address":":1"}})",
       "has no host"},
  };
  for (const auto& c : cases) {
    auto r = parse_astra_metadata(c.json);
    ASSERT_FALSE(r.has_value()) << c.json;
    EXPECT_NE(r.error().message.find(c.expected), std::string::npos)
        << c.json << " -> " << r.error().message;
  }
}

TEST_F(AstraMetadataTest, FetchesContactInfoOverMutualTls) {
  const uint16_t port = start_service(Behaviour::Answer, 200, kMetadata);
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto req = astra_metadata_request(b);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  EXPECT_EQ(req->timeout, std::chrono::milliseconds(30000));
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value()) << "no completion";
  ASSERT_TRUE(out->has_value()) << out->error().message;
  EXPECT_EQ((*out)->sni_proxy_host, "sni.example.com");
  EXPECT_EQ((*out)->host_ids.size(), 2u);
  EXPECT_EQ(state_->last_target, "/metadata");
  EXPECT_EQ(state_->last_host_header, "127.0.0.1");
}

TEST_F(AstraMetadataTest, WorksEndToEndFromABundleZip) {
  const uint16_t port = start_service(Behaviour::Answer, 200, kMetadata);
  TempDir dir("astra-bundle");
  const std::string config =
      R"({"host":"localhost","port":)" + std::to_string(port) + R"(,"keyspace":"ks"})";
  const std::string cmd =
      "cd '" + dir.path("") + "' && /usr/bin/python3 -c \"import zipfile\n" +
      "z = zipfile.ZipFile('b.zip', 'w', zipfile.ZIP_DEFLATED)\n" +
      "[z.write(n) for n in ('config.json', 'ca.crt', 'cert', 'key')]\nz.close()\"";
  dir.write("config.json", config);
  dir.write("ca.crt", pki_->ca.pem());
  dir.write("cert", pki_->client.pem());
  dir.write("key", pki_->client.key.pem());
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto bundle = read_secure_connect_bundle(dir.path("b.zip"));
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  auto req = astra_metadata_request(*bundle);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  EXPECT_EQ(req->host, "localhost");  // verified against the service's certificate name
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(out->has_value()) << out->error().message;
  EXPECT_EQ((*out)->local_dc, "dc-east");
}

TEST_F(AstraMetadataTest, WrongClientCertificateIsRefused) {
  const uint16_t port = start_service(Behaviour::Answer, 200, kMetadata);
  SecureConnectBundle b = bundle_with(pki_->rogue, pki_->ca.pem());
  b.port = port;
  auto req = astra_metadata_request(b);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("https://127.0.0.1:"), std::string::npos);
  EXPECT_NE(out->error().message.find("client certificate"), std::string::npos)
      << out->error().message;
  EXPECT_EQ(state_->last_target, "");  // the service never saw the request
  EXPECT_GE(state_->handshakes_failed, 1);
}

TEST_F(AstraMetadataTest, UntrustedServiceIsRefused) {
  const uint16_t port = start_service(Behaviour::Answer, 200, kMetadata);
  SecureConnectBundle b = bundle_with(pki_->client, pki_->other_ca.pem());  // wrong CA
  b.port = port;
  auto req = astra_metadata_request(b);
  ASSERT_TRUE(req.has_value());
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("TLS handshake"), std::string::npos) << out->error().message;
  EXPECT_NE(out->error().message.find("ca.crt"), std::string::npos);
}

TEST_F(AstraMetadataTest, BadJsonIsReported) {
  const uint16_t port = start_service(Behaviour::Answer, 200, "{\"contact_info\": ");
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto out = fetch(*astra_metadata_request(b));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("not valid JSON"), std::string::npos) << out->error().message;
  EXPECT_EQ(state_->last_target, "/metadata");
}

TEST_F(AstraMetadataTest, HttpErrorStatusIsReported) {
  const uint16_t port = start_service(Behaviour::Answer, 503, "hibernated");
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto out = fetch(*astra_metadata_request(b));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("HTTP 503"), std::string::npos) << out->error().message;
}

TEST_F(AstraMetadataTest, SilentServiceTimesOut) {
  const uint16_t port = start_service(Behaviour::HangAfterRequest, 200, kMetadata);
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto req = astra_metadata_request(b);
  ASSERT_TRUE(req.has_value());
  req->timeout = std::chrono::milliseconds(300);
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value()) << "the deadline did not fire";
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("did not answer within 300 ms"), std::string::npos)
      << out->error().message;
  EXPECT_NE(out->error().message.find("reading the answer"), std::string::npos);
  EXPECT_EQ(state_->last_target, "/metadata");
}

TEST_F(AstraMetadataTest, ServiceThatNeverHandshakesTimesOut) {
  const uint16_t port = start_service(Behaviour::NeverHandshake, 200, kMetadata);
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto req = astra_metadata_request(b);
  ASSERT_TRUE(req.has_value());
  req->timeout = std::chrono::milliseconds(300);
  auto out = fetch(std::move(*req));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("TLS handshake"), std::string::npos) << out->error().message;
  EXPECT_NE(out->error().message.find("did not answer within"), std::string::npos);
}

TEST_F(AstraMetadataTest, ConnectionRefusedIsReported) {
  start_service(Behaviour::Answer, 200, kMetadata);  // so fetch() has something to close
  tcp::acceptor closed(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = closed.local_endpoint().port();
  closed.close();  // nothing listens on this port any more
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  b.port = port;
  auto out = fetch(*astra_metadata_request(b));
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->has_value());
  EXPECT_NE(out->error().message.find("connecting failed"), std::string::npos)
      << out->error().message;
}

// The SNI proxy routes on the server name: it must be the host id, while the certificate is
// checked against the SNI proxy's own name.
TEST_F(AstraMetadataTest, SniStreamSendsHostIdAndVerifiesProxyName) {
  net::ServerTlsOptions o;
  o.cert_file = pki_->service_pem;
  o.key_file = pki_->service_key;
  o.ca_file = pki_->ca_pem;
  o.client_cert = net::ClientCertPolicy::Required;
  auto server_ctx = net::make_server_tls_context(o);
  ASSERT_TRUE(server_ctx.has_value());
  static std::string seen_sni;
  SSL_CTX_set_tlsext_servername_callback(
      (*server_ctx)->native_handle(), +[](SSL* s, int*, void*) -> int {
        const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
        seen_sni = name != nullptr ? name : "";
        return SSL_TLSEXT_ERR_OK;
      });
  SecureConnectBundle b = bundle_with(pki_->client, pki_->ca.pem());
  auto client_ctx = make_bundle_tls_context(b);
  ASSERT_TRUE(client_ctx.has_value());

  auto attempt = [&](const std::string& proxy_name, net::HostnameCheck check) {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket raw(io);
    raw.connect(acceptor.local_endpoint());
    ssl::stream<tcp::socket> srv(acceptor.accept(), **server_ctx);
    ssl::stream<tcp::socket> cli(std::move(raw), **client_ctx);
    EXPECT_TRUE(
        prepare_astra_sni_stream(cli, "4f2b7a5e-0000-4000-8000-000000000001", proxy_name, check)
            .has_value());
    bool client_ok = false;
    srv.async_handshake(ssl::stream_base::server, [&](boost::system::error_code ec) {
      if (ec) srv.lowest_layer().close();
    });
    cli.async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
      client_ok = !ec;
      if (ec) cli.lowest_layer().close();
    });
    io.run_for(std::chrono::seconds(20));
    return client_ok;
  };
  seen_sni.clear();
  EXPECT_TRUE(attempt("localhost", net::HostnameCheck::Verify));
  EXPECT_EQ(seen_sni, "4f2b7a5e-0000-4000-8000-000000000001");
  EXPECT_FALSE(attempt("sni.example.com", net::HostnameCheck::Verify));
  EXPECT_TRUE(attempt("sni.example.com", net::HostnameCheck::Skip));
}

}  // namespace
}  // namespace zdm::proxy
