#include "common/md5.hpp"

#include <openssl/evp.h>

namespace zdm {

struct Md5Hasher::Context {
  EVP_MD_CTX* ctx = nullptr;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

namespace {

[[gnu::cold]] tl::unexpected<Error> md5_unavailable(const char* step) {
  return fail(Errc::Unsupported, std::string("MD5 digest failed in OpenSSL ") + step +
                                     "; the OpenSSL configuration may exclude MD5 (FIPS mode)");
}

}  // namespace

Result<Md5Digest> md5(ByteView data) {
  Md5Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr) != 1 ||
      len != out.size()) {
    return md5_unavailable("EVP_Digest");
  }
  return out;
}

Md5Hasher::Md5Hasher() : ctx_(std::make_unique<Context>()) {
  ctx_->ctx = EVP_MD_CTX_new();
  failed_ = ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, EVP_md5(), nullptr) != 1;
}

Md5Hasher::~Md5Hasher() = default;
Md5Hasher::Md5Hasher(Md5Hasher&&) noexcept = default;
Md5Hasher& Md5Hasher::operator=(Md5Hasher&&) noexcept = default;

void Md5Hasher::update(ByteView data) {
  if (failed_ || !ctx_) return;
  if (EVP_DigestUpdate(ctx_->ctx, data.data(), data.size()) != 1) failed_ = true;
}

Result<Md5Digest> Md5Hasher::finish() {
  if (failed_ || !ctx_) return md5_unavailable("init/update");
  Md5Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->ctx, out.data(), &len) != 1 || len != out.size()) {
    failed_ = true;
    return md5_unavailable("EVP_DigestFinal_ex");
  }
  failed_ = EVP_DigestInit_ex(ctx_->ctx, EVP_md5(), nullptr) != 1;
  return out;
}

}  // namespace zdm
