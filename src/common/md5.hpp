#pragma once
// MD5 digests through OpenSSL's EVP interface. Cassandra's prepared-statement ids are MD5
// digests (of the keyspace and query text), so the embedded node and tests compute them here.
// MD5 is used as an identifier, never for security.

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm {

using Md5Digest = std::array<uint8_t, 16>;

// One-shot digest. Fails (Errc::Unsupported) only when OpenSSL cannot provide MD5, e.g. a
// FIPS-only configuration.
Result<Md5Digest> md5(ByteView data);
inline Result<Md5Digest> md5(std::string_view text) { return md5(as_bytes(text)); }

// Incremental digest over several pieces (e.g. keyspace then query text) without concatenating.
// Not thread-safe; one instance per computation.
class Md5Hasher {
 public:
  Md5Hasher();
  ~Md5Hasher();
  Md5Hasher(Md5Hasher&&) noexcept;
  Md5Hasher& operator=(Md5Hasher&&) noexcept;
  Md5Hasher(const Md5Hasher&) = delete;
  Md5Hasher& operator=(const Md5Hasher&) = delete;

  void update(ByteView data);
  void update(std::string_view text) { update(as_bytes(text)); }
  // Returns the digest of everything passed to update() and resets for a new computation.
  Result<Md5Digest> finish();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  bool failed_ = false;
};

}  // namespace zdm
