#include "migrate/token_range.hpp"

#include <algorithm>

#include "migrate/cql_values.hpp"
#include "protocol/value.hpp"

namespace zdm::migrate {

namespace {
// 2^127 - 1: RandomPartitioner's tokens go up to 2^127, which a signed 128-bit value cannot hold;
// the last range of a ring is read without an upper bound, so that one token is not lost.
constexpr TokenValue kMaxRandom = static_cast<TokenValue>(~static_cast<UnsignedTokenValue>(0) >> 1);
}  // namespace

std::optional<Partitioner> partitioner_from_class(std::string_view class_name) {
  auto dot = class_name.rfind('.');
  auto bare = dot == std::string_view::npos ? class_name : class_name.substr(dot + 1);
  if (bare == "Murmur3Partitioner") return Partitioner::Murmur3;
  if (bare == "RandomPartitioner") return Partitioner::Random;
  return std::nullopt;
}

std::string_view partitioner_name(Partitioner p) {
  return p == Partitioner::Murmur3 ? "Murmur3Partitioner" : "RandomPartitioner";
}

TokenValue min_token(Partitioner p) {
  return p == Partitioner::Murmur3 ? static_cast<TokenValue>(INT64_MIN) : TokenValue{-1};
}

TokenValue max_token(Partitioner p) {
  return p == Partitioner::Murmur3 ? static_cast<TokenValue>(INT64_MAX) : kMaxRandom;
}

std::string token_to_string(TokenValue t) {
  if (t == 0) return "0";
  bool negative = t < 0;
  auto u =
      negative ? static_cast<UnsignedTokenValue>(-(t + 1)) + 1 : static_cast<UnsignedTokenValue>(t);
  std::string out;
  while (u > 0) {
    out += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (negative) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

Result<TokenValue> token_from_string(std::string_view text) {
  if (text.empty()) return fail(Errc::Malformed, "empty token");
  bool negative = text[0] == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 39) return fail(Errc::Malformed, "bad token");
  UnsignedTokenValue u = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fail(Errc::Malformed, "bad token");
    u = u * 10 + static_cast<unsigned>(c - '0');
  }
  if (u > static_cast<UnsignedTokenValue>(kMaxRandom) + (negative ? 1 : 0)) {
    return fail(Errc::Malformed, "token out of range");
  }
  if (negative) return -static_cast<TokenValue>(u - 1) - 1;
  return static_cast<TokenValue>(u);
}

Bytes encode_token(Partitioner p, TokenValue t) {
  if (p == Partitioner::Murmur3) return encode_bigint(static_cast<int64_t>(t));
  Bytes raw(16);
  auto u = static_cast<UnsignedTokenValue>(t);
  for (int i = 15; i >= 0; --i) {
    raw[static_cast<size_t>(i)] = static_cast<uint8_t>(u & 0xff);
    u >>= 8;
  }
  return protocol::Varint::from_twos_complement(raw).bytes();
}

TokenValue decode_token(Partitioner p, ByteView bytes) {
  if (p == Partitioner::Murmur3 || bytes.empty() || bytes.size() > 16) {
    uint64_t u = 0;
    for (size_t i = 0; i < bytes.size() && i < 8; ++i) u = (u << 8) | bytes[i];
    return static_cast<int64_t>(u);
  }
  // varint: sign-extend big-endian two's complement
  UnsignedTokenValue u = (bytes[0] & 0x80) ? ~static_cast<UnsignedTokenValue>(0) : 0;
  for (uint8_t b : bytes) u = (u << 8) | b;
  return static_cast<TokenValue>(u);
}

namespace {

// end - start without overflow (Random's ring is 2^127 + 1 tokens wide).
UnsignedTokenValue width_of(TokenValue start, TokenValue end) {
  return static_cast<UnsignedTokenValue>(end) - static_cast<UnsignedTokenValue>(start);
}

}  // namespace

std::vector<TokenRange> split_range(const TokenRange& range, size_t parts) {
  std::vector<TokenRange> out;
  const UnsignedTokenValue width = width_of(range.start, range.end);
  if (parts <= 1 || width <= 1) {
    out.push_back(range);
    return out;
  }
  if (parts > width) parts = static_cast<size_t>(width);
  const UnsignedTokenValue step = width / parts;
  TokenValue start = range.start;
  for (size_t i = 1; i <= parts; ++i) {
    TokenValue end =
        i == parts
            ? range.end
            : static_cast<TokenValue>(static_cast<UnsignedTokenValue>(range.start) + step * i);
    if (end > start) out.push_back(TokenRange{start, end});
    start = end;
  }
  return out;
}

std::vector<TokenRange> split_ring(Partitioner p, std::vector<TokenValue> ring, size_t count) {
  const TokenValue lo = min_token(p);
  const TokenValue hi = max_token(p);
  std::vector<TokenValue> bounds{lo};
  std::sort(ring.begin(), ring.end());
  for (TokenValue t : ring) {
    if (t > lo && t < hi && t != bounds.back()) bounds.push_back(t);
  }
  bounds.push_back(hi);
  if (count < bounds.size() - 1) count = bounds.size() - 1;
  // Each ring segment gets a share of the ranges proportional to its width.
  const auto total = static_cast<long double>(width_of(lo, hi));
  std::vector<TokenRange> out;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    TokenRange segment{bounds[i], bounds[i + 1]};
    const auto share =
        static_cast<size_t>(static_cast<long double>(width_of(segment.start, segment.end)) / total *
                                static_cast<long double>(count) +
                            0.5L);
    auto parts = split_range(segment, std::max<size_t>(1, share));
    out.insert(out.end(), parts.begin(), parts.end());
  }
  return out;
}

}  // namespace zdm::migrate
