#pragma once
// Tokens of Cassandra's Murmur3Partitioner: MurmurHash3 x64 128-bit, seed 0, first 64-bit half.
//
// Cassandra's port differs from the reference MurmurHash3 in one place: it reads the 1..15 tail
// bytes as signed Java bytes, so a tail byte >= 0x80 is sign-extended before it is shifted into
// place. Keys whose tail has such bytes hash differently from the reference; we reproduce
// Cassandra (and the DataStax drivers, which do the same).

#include <cstdint>
#include <span>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm {

// A partitioner token on the Murmur3 ring, [-2^63 + 1, 2^63 - 1] for real keys.
struct Token {
  int64_t value = 0;
  friend auto operator<=>(Token, Token) = default;
};

// The first 64-bit half of Cassandra's MurmurHash3 x64 128 (seed 0) as a signed integer, exactly
// what the DataStax drivers' murmur3() returns.
int64_t murmur3_hash64(ByteView key);

// Murmur3Partitioner.getToken: Long.MIN_VALUE is the ring's minimum token, reserved for "before
// every key", so a hash equal to it is mapped to Long.MAX_VALUE.
constexpr int64_t normalize_murmur3_hash(int64_t hash) {
  return hash == INT64_MIN ? INT64_MAX : hash;
}

// The token of a partition key as Murmur3Partitioner.getToken computes it. `key` is the
// serialized partition key: the value itself for a single-column key, composite_partition_key()
// for multi-column keys. An empty key is the ring's minimum token (Long.MIN_VALUE), not the hash
// of nothing (0).
inline Token murmur3_token(ByteView key) {
  if (key.empty()) return Token{INT64_MIN};
  return Token{normalize_murmur3_hash(murmur3_hash64(key))};
}

// The CompositeType encoding that multi-column partition keys are hashed over: per component a
// [short] length, the bytes, then a 0x00 end-of-component byte. (A single-column partition key is
// hashed as its bare value, not through this encoding.)
//
// Like Cassandra's CompositeType.build, the length is written as its low 16 bits; Cassandra
// rejects keys with a component over 65535 bytes before hashing, so callers that cannot rule that
// out should use composite_partition_key_checked().
Bytes composite_partition_key(std::span<const ByteView> components);

// As composite_partition_key(), but fails with Errc::TooLarge when a component exceeds 65535 bytes.
Result<Bytes> composite_partition_key_checked(std::span<const ByteView> components);

}  // namespace zdm
