#pragma once
// Token ranges of a partitioner's ring and how a run splits them: many more ranges than workers,
// cut at the origin cluster's own ring tokens so that every range lies within one node's
// ownership and its read can go to that node.
//
// Tokens are held as signed 128-bit integers so that one type covers Murmur3 (int64) and
// RandomPartitioner (0 .. 2^127).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::migrate {

__extension__ typedef __int128 TokenValue;
__extension__ typedef unsigned __int128 UnsignedTokenValue;

enum class Partitioner : uint8_t { Murmur3, Random };

// From system.local's class name; nullopt for partitioners that cannot be range-scanned here
// (ByteOrdered, OrderPreserving).
std::optional<Partitioner> partitioner_from_class(std::string_view class_name);
std::string_view partitioner_name(Partitioner p);

// The ring's minimum token (never a key's token) and maximum token (2^127 - 1 for Random: a
// range ending there is read without an upper bound).
TokenValue min_token(Partitioner p);
TokenValue max_token(Partitioner p);

std::string token_to_string(TokenValue t);
Result<TokenValue> token_from_string(std::string_view text);

// The bound value of a token for `token(pk) > ?`: bigint for Murmur3, varint for Random.
Bytes encode_token(Partitioner p, TokenValue t);
// The token() column of a result row.
TokenValue decode_token(Partitioner p, ByteView bytes);

// (start, end]
struct TokenRange {
  TokenValue start = 0;
  TokenValue end = 0;
  friend bool operator==(const TokenRange&, const TokenRange&) = default;
};

// Splits (min, max] into about `count` ranges whose boundaries include every token of `ring`
// (the nodes' tokens as system.local/peers list them; unparsable ones are ignored). Each ring
// segment gets a share of the ranges proportional to its width, at least one.
std::vector<TokenRange> split_ring(Partitioner p, std::vector<TokenValue> ring, size_t count);

// Splits one range into `parts` ranges of about equal width (fewer when it is narrower).
std::vector<TokenRange> split_range(const TokenRange& range, size_t parts);

}  // namespace zdm::migrate
