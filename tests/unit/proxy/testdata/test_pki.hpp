#pragma once
// Test-time PKI for the TLS and secure-connect-bundle tests: EC keys and X.509 certificates made
// with the OpenSSL API (so validity can lie in the past, which the CLI of OpenSSL 3.0 cannot do),
// written as PEM into a per-test temporary directory.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace zdm::proxy::testing {

struct PkiKey {
  std::shared_ptr<EVP_PKEY> key;
  std::string pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }
};

struct PkiCert {
  std::shared_ptr<X509> cert;
  PkiKey key;
  std::string pem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(bio.get(), cert.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  }
};

inline PkiKey make_ec_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  return PkiKey{std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free)};
}

struct CertSpec {
  std::string cn;
  std::vector<std::string> san;  // "DNS:localhost", "IP:127.0.0.1"
  bool is_ca = false;
  long not_before_s = -3600;     // relative to now
  long not_after_s = 2 * 86400;  // relative to now
};

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext != nullptr) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

// Signed by `issuer` (self-signed when null).
inline PkiCert make_cert(const CertSpec& spec, const PkiCert* issuer) {
  static long serial = 1;
  PkiCert out;
  out.key = make_ec_key();
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after_s);
  X509_set_pubkey(x, out.key.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  if (spec.is_ca) {
    add_ext(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, issuer_cert, NID_basic_constraints, "CA:FALSE");
  }
  add_ext(x, issuer_cert, NID_subject_key_identifier, "hash");
  if (!spec.san.empty()) {
    std::string san;
    for (const auto& s : spec.san) san += (san.empty() ? "" : ",") + s;
    add_ext(x, issuer_cert, NID_subject_alt_name, san);
  }
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.key.get() : out.key.key.get();
  X509_sign(x, signer, EVP_sha256());
  out.cert = std::shared_ptr<X509>(x, X509_free);
  return out;
}

// A temporary directory removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("zdm-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace zdm::proxy::testing
