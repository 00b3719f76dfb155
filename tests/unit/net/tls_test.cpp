// TLS contexts and the Stream abstraction: a CA, server and client certificates are generated at
// test time with the openssl CLI into a temporary directory.
#include "net/tls.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <gtest/gtest.h>

#include "net/stream.hpp"

namespace zdm::net {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;

class TlsFiles {
 public:
  TlsFiles() {
    dir_ = fs::temp_directory_path() /
           ("zdm-tls-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string script =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
        "-out ca.pem -days 2 "
        "-subj /CN=zdm-test-ca >/dev/null 2>&1 && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
        "-out server.csr "
        "-subj /CN=localhost >/dev/null 2>&1 && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile san.ext >/dev/null 2>&1 && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key "
        "-out client.csr "
        "-subj /CN=zdm-client >/dev/null 2>&1 && "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 2 >/dev/null 2>&1";
    ok_ = std::system(script.c_str()) == 0;
  }
  ~TlsFiles() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  bool ok() const { return ok_; }
  std::string path(const char* name) const { return (dir_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  bool ok_ = false;
};

struct HandshakeOutcome {
  bool server_ok = false;
  bool client_ok = false;
  std::string echoed;
};

// Server and client handshake over loopback; on success the client sends "ping" and the server
// reads it through Stream.
HandshakeOutcome handshake(const std::shared_ptr<asio::ssl::context>& server_ctx,
                           const std::shared_ptr<asio::ssl::context>& client_ctx,
                           const std::string& host, HostnameCheck check) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client_socket(io);
  client_socket.connect(acceptor.local_endpoint());
  Stream server(acceptor.accept(), server_ctx);
  Stream client(std::move(client_socket), client_ctx);
  EXPECT_TRUE(prepare_client_tls_stream(*client.tls(), host, check).has_value());

  HandshakeOutcome out;
  std::string received(4, '\0');
  server.async_handshake(asio::ssl::stream_base::server, [&](boost::system::error_code ec) {
    out.server_ok = !ec;
    if (ec) return;
    asio::async_read(*server.tls(), asio::buffer(received),
                     [&](boost::system::error_code rec, size_t) {
                       if (!rec) out.echoed = received;
                     });
  });
  client.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code ec) {
    out.client_ok = !ec;
    if (ec) {
      client.close();  // lets the server's handshake fail instead of waiting
      return;
    }
    static const char ping[] = "ping";
    client.async_write(asio::buffer(ping, 4), [](boost::system::error_code, size_t) {});
  });
  io.run_for(std::chrono::seconds(20));
  return out;
}

// Key generation is the slow part: one CA and set of certificates for the whole suite.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { files_ = new TlsFiles(); }
  static void TearDownTestSuite() {
    delete files_;
    files_ = nullptr;
  }
  static inline TlsFiles* files_ = nullptr;
};

TEST_F(TlsTest, HandshakeSucceedsWithTrustedCaAndMatchingHostname) {
  TlsFiles& files = *files_;
  ASSERT_TRUE(files.ok()) << "openssl could not generate test certificates";
  auto server = make_server_tls_context(
      {files.path("server.pem"), files.path("server.key"), "", ClientCertPolicy::Optional});
  ASSERT_TRUE(server.has_value()) << server.error().message;
  ClientTlsOptions copts;
  copts.ca_file = files.path("ca.pem");
  auto client = make_client_tls_context(copts);
  ASSERT_TRUE(client.has_value()) << client.error().message;
  auto by_name = handshake(*server, *client, "localhost", HostnameCheck::Verify);
  EXPECT_TRUE(by_name.client_ok);
  EXPECT_TRUE(by_name.server_ok);
  EXPECT_EQ(by_name.echoed, "ping");
  auto by_ip = handshake(*server, *client, "127.0.0.1", HostnameCheck::Verify);
  EXPECT_TRUE(by_ip.client_ok);
}

TEST_F(TlsTest, HostnameMismatchFailsUnlessVerificationIsSkipped) {
  TlsFiles& files = *files_;
  ASSERT_TRUE(files.ok());
  auto server = make_server_tls_context(
      {files.path("server.pem"), files.path("server.key"), "", ClientCertPolicy::Optional});
  ASSERT_TRUE(server.has_value());
  ClientTlsOptions copts;
  copts.ca_file = files.path("ca.pem");
  auto client = make_client_tls_context(copts);
  ASSERT_TRUE(client.has_value());
  EXPECT_FALSE(handshake(*server, *client, "other.example", HostnameCheck::Verify).client_ok);
  EXPECT_TRUE(handshake(*server, *client, "other.example", HostnameCheck::Skip).client_ok);
}

TEST_F(TlsTest, UntrustedServerCertificateFails) {
  TlsFiles& files = *files_;
  ASSERT_TRUE(files.ok());
  auto server = make_server_tls_context(
      {files.path("server.pem"), files.path("server.key"), "", ClientCertPolicy::Optional});
  ASSERT_TRUE(server.has_value());
  ClientTlsOptions copts;
  copts.ca_file = files.path("client.pem");  // a certificate, but not the issuing CA
  auto client = make_client_tls_context(copts);
  ASSERT_TRUE(client.has_value());
  EXPECT_FALSE(handshake(*server, *client, "localhost", HostnameCheck::Verify).client_ok);
}

TEST_F(TlsTest, RequiredClientCertificateIsEnforced) {
  TlsFiles& files = *files_;
  ASSERT_TRUE(files.ok());
  auto server = make_server_tls_context({files.path("server.pem"), files.path("server.key"),
                                         files.path("ca.pem"), ClientCertPolicy::Required});
  ASSERT_TRUE(server.has_value()) << server.error().message;
  ClientTlsOptions without;
  without.ca_file = files.path("ca.pem");
  auto anonymous = make_client_tls_context(without);
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_FALSE(handshake(*server, *anonymous, "localhost", HostnameCheck::Verify).server_ok);

  ClientTlsOptions with = without;
  with.cert_file = files.path("client.pem");
  with.key_file = files.path("client.key");
  auto mutual = make_client_tls_context(with);
  ASSERT_TRUE(mutual.has_value()) << mutual.error().message;
  auto outcome = handshake(*server, *mutual, "localhost", HostnameCheck::Verify);
  EXPECT_TRUE(outcome.server_ok);
  EXPECT_EQ(outcome.echoed, "ping");
}

TEST_F(TlsTest, ErrorsNameTheFileAndTheProblem) {
  TlsFiles& files = *files_;
  ASSERT_TRUE(files.ok());
  auto missing = make_server_tls_context(
      {"/nonexistent/zdm.pem", files.path("server.key"), "", ClientCertPolicy::Optional});
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("/nonexistent/zdm.pem"), std::string::npos);
  EXPECT_NE(missing.error().message.find("cannot be read"), std::string::npos);

  const std::string junk = files.path("junk.pem");
  std::ofstream(junk) << "not a certificate\n";
  auto invalid =
      make_server_tls_context({junk, files.path("server.key"), "", ClientCertPolicy::Optional});
  ASSERT_FALSE(invalid.has_value());
  EXPECT_NE(invalid.error().message.find("not a valid PEM"), std::string::npos);

  auto mismatched = make_server_tls_context(
      {files.path("server.pem"), files.path("client.key"), "", ClientCertPolicy::Optional});
  ASSERT_FALSE(mismatched.has_value());

  auto no_ca = make_server_tls_context(
      {files.path("server.pem"), files.path("server.key"), "", ClientCertPolicy::Required});
  ASSERT_FALSE(no_ca.has_value());
  EXPECT_NE(no_ca.error().message.find("CA"), std::string::npos);
}

}  // namespace
}  // namespace zdm::net
