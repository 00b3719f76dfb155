#pragma once
// The Murmur3 token ring as the client sees it: each host owns the range (previous token, its
// token]; a key's token is owned by the first ring token >= it, wrapping to the smallest.
// Routing sends a request to that owner (the primary replica). Also builds routing keys from
// bound values the way Cassandra serializes partition keys.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/murmur3.hpp"
#include "common/result.hpp"
#include "protocol/messages.hpp"

namespace zdm::client {

// Index of a host in the session's host list.
using HostIndex = uint32_t;

class TokenMap {
 public:
  TokenMap() = default;

  // Adds a host's tokens (decimal strings as system.local/peers list them). Unparsable tokens
  // fail with Malformed and leave the map unchanged.
  Result<void> add_host(HostIndex host, std::span<const std::string> tokens);
  void add_token(HostIndex host, int64_t token);
  // Sorts the ring; call after the last add.
  void build();

  bool empty() const { return ring_.empty(); }
  size_t size() const { return ring_.size(); }
  // The host owning `token`; nullopt when the ring is empty.
  std::optional<HostIndex> owner(Token token) const;
  std::optional<HostIndex> owner_of_key(ByteView routing_key) const {
    return owner(murmur3_token(routing_key));
  }

 private:
  std::vector<std::pair<int64_t, HostIndex>> ring_;
};

// The routing key of a statement: the bound values at the partition key indexes (pk_indexes of
// the prepared metadata). One column: the value itself; several: Cassandra's composite encoding
// (per component [short] length, bytes, 0x00). nullopt when there are no pk indexes or a
// component is missing, null or unset (the statement cannot be routed).
std::optional<Bytes> routing_key(std::span<const uint16_t> pk_indexes,
                                 std::span<const protocol::BoundValue> values);

}  // namespace zdm::client
