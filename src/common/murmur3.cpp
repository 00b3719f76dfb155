#include "common/murmur3.hpp"

#include <cstring>

#include <fmt/format.h>

namespace zdm {
namespace {

constexpr uint64_t kC1 = 0x87c37b91114253d5ULL;
constexpr uint64_t kC2 = 0x4cf5ad432745937fULL;

constexpr uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

constexpr uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// Blocks are little-endian 64-bit words, as Cassandra's getblock reads them.
inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A tail byte as Java sees it: a signed byte widened to long (sign-extended).
inline uint64_t signed_byte(uint8_t b) {
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(b)));
}

}  // namespace

int64_t murmur3_hash64(ByteView key) {
  const uint8_t* data = key.data();
  const size_t len = key.size();
  const size_t nblocks = len / 16;

  uint64_t h1 = 0;
  uint64_t h2 = 0;

  for (size_t i = 0; i < nblocks; ++i) {
    uint64_t k1 = load_le64(data + i * 16);
    uint64_t k2 = load_le64(data + i * 16 + 8);

    k1 *= kC1;
    k1 = rotl64(k1, 31);
    k1 *= kC2;
    h1 ^= k1;
    h1 = rotl64(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;

    k2 *= kC2;
    k2 = rotl64(k2, 33);
    k2 *= kC1;
    h2 ^= k2;
    h2 = rotl64(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  const uint8_t* tail = data + nblocks * 16;
  const size_t rest = len & 15;
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  // XOR (not OR) matters: sign-extended bytes overlap the higher bytes already placed.
  for (size_t i = rest; i > 8; --i) k2 ^= signed_byte(tail[i - 1]) << (8 * (i - 9));
  if (rest > 8) {
    k2 *= kC2;
    k2 = rotl64(k2, 33);
    k2 *= kC1;
    h2 ^= k2;
  }
  for (size_t i = rest < 8 ? rest : 8; i > 0; --i) k1 ^= signed_byte(tail[i - 1]) << (8 * (i - 1));
  if (rest > 0) {
    k1 *= kC1;
    k1 = rotl64(k1, 31);
    k1 *= kC2;
    h1 ^= k1;
  }

  h1 ^= static_cast<uint64_t>(len);
  h2 ^= static_cast<uint64_t>(len);
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  // h2 += h1 would give the second half, which the partitioner does not use.

  return static_cast<int64_t>(h1);
}

Bytes composite_partition_key(std::span<const ByteView> components) {
  size_t total = 0;
  for (const ByteView& c : components) total += c.size() + 3;
  Bytes out;
  out.reserve(total);
  for (const ByteView& c : components) {
    out.push_back(static_cast<uint8_t>((c.size() >> 8) & 0xFF));
    out.push_back(static_cast<uint8_t>(c.size() & 0xFF));
    out.insert(out.end(), c.begin(), c.end());
    out.push_back(0);
  }
  return out;
}

Result<Bytes> composite_partition_key_checked(std::span<const ByteView> components) {
  for (size_t i = 0; i < components.size(); ++i) {
    if (components[i].size() > 0xFFFF) {
      return fail(Errc::TooLarge,
                  fmt::format("partition key component {} is {} bytes; Cassandra allows at most "
                              "65535 per component",
                              i, components[i].size()));
    }
  }
  return composite_partition_key(components);
}

}  // namespace zdm
