#include "client/token_map.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/murmur3.hpp"

namespace zdm::client {
namespace {

Bytes text(std::string_view s) {
  auto v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

TEST(TokenMap, OwnerIsFirstTokenAtOrAfterWrappingToTheSmallest) {
  TokenMap map;
  std::vector<std::string> a = {"-100", "500"};
  std::vector<std::string> b = {"0"};
  ASSERT_TRUE(map.add_host(0, a));
  ASSERT_TRUE(map.add_host(1, b));
  map.build();
  EXPECT_EQ(map.owner(Token{-1000}), 0u);  // (500, -100] wraps
  EXPECT_EQ(map.owner(Token{-100}), 0u);   // a token owns itself
  EXPECT_EQ(map.owner(Token{-99}), 1u);
  EXPECT_EQ(map.owner(Token{0}), 1u);
  EXPECT_EQ(map.owner(Token{1}), 0u);
  EXPECT_EQ(map.owner(Token{501}), 0u);  // past the last token: the first
  EXPECT_EQ(map.owner(Token{INT64_MAX}), 0u);
}

TEST(TokenMap, RoutesKeysByCassandraMurmur3) {
  // Four hosts with eight random tokens each; every key must land on the owner found by a
  // brute-force scan of the ring with the token common/murmur3 (checked against the driver)
  // computes.
  std::mt19937_64 rng(1234);
  TokenMap map;
  std::vector<std::pair<int64_t, HostIndex>> ring;
  for (HostIndex h = 0; h < 4; ++h) {
    std::vector<std::string> tokens;
    for (int i = 0; i < 8; ++i) {
      auto t = static_cast<int64_t>(rng());
      tokens.push_back(std::to_string(t));
      ring.emplace_back(t, h);
    }
    ASSERT_TRUE(map.add_host(h, tokens));
  }
  map.build();
  for (int k = 0; k < 1000; ++k) {
    Bytes key = text("user" + std::to_string(k));
    int64_t t = murmur3_token(key).value;
    std::optional<std::pair<int64_t, HostIndex>> best, smallest;
    for (const auto& e : ring) {
      if (e.first >= t && (!best || e.first < best->first)) best = e;
      if (!smallest || e.first < smallest->first) smallest = e;
    }
    HostIndex expected = best ? best->second : smallest->second;
    EXPECT_EQ(map.owner_of_key(key), expected) << "key user" << k;
  }
}

TEST(TokenMap, KnownDriverTokenRoutesToItsOwner) {
  // The token of the text key "zdm" through the same path `zdm token --text zdm` prints; a
  // host owning exactly that token must own the key.
  Bytes key = text("zdm");
  int64_t t = murmur3_token(key).value;
  TokenMap map;
  map.add_token(7, t);
  map.add_token(8, t == INT64_MAX ? INT64_MIN + 1 : t + 1);
  map.build();
  EXPECT_EQ(map.owner_of_key(key), 7u);
}

TEST(TokenMap, RejectsNonMurmur3Tokens) {
  TokenMap map;
  std::vector<std::string> bad = {"12", "0x1f"};
  EXPECT_FALSE(map.add_host(0, bad));
  EXPECT_TRUE(map.empty());  // unchanged
  EXPECT_FALSE(map.owner(Token{0}).has_value());
}

TEST(RoutingKey, SingleColumnIsTheBareValue) {
  std::vector<protocol::BoundValue> values = {protocol::BoundValue::set({1, 2}),
                                              protocol::BoundValue::set({0, 0, 0, 42})};
  std::vector<uint16_t> pk = {1};
  auto key = routing_key(pk, values);
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, (Bytes{0, 0, 0, 42}));
}

TEST(RoutingKey, MultiColumnIsCassandraCompositeInPkOrder) {
  // Bind order differs from partition key order: pk_indexes say which value is which component.
  std::vector<protocol::BoundValue> values = {protocol::BoundValue::set(text("abc")),
                                              protocol::BoundValue::set({9}),
                                              protocol::BoundValue::set({0, 0, 0, 7})};
  std::vector<uint16_t> pk = {2, 0};
  auto key = routing_key(pk, values);
  ASSERT_TRUE(key);
  Bytes expected = {0, 4, 0, 0, 0, 7, 0, 0, 3, 'a', 'b', 'c', 0};
  EXPECT_EQ(*key, expected);
  std::vector<ByteView> parts = {ByteView(values[2].bytes), ByteView(values[0].bytes)};
  EXPECT_EQ(*key, composite_partition_key(parts));
}

TEST(RoutingKey, UnroutableWhenAComponentIsMissingNullOrUnset) {
  std::vector<uint16_t> pk = {0, 1};
  std::vector<protocol::BoundValue> with_null = {protocol::BoundValue::set({1}),
                                                 protocol::BoundValue::null()};
  std::vector<protocol::BoundValue> with_unset = {protocol::BoundValue::unset(),
                                                  protocol::BoundValue::set({1})};
  std::vector<protocol::BoundValue> short_values = {protocol::BoundValue::set({1})};
  EXPECT_FALSE(routing_key(pk, with_null));
  EXPECT_FALSE(routing_key(pk, with_unset));
  EXPECT_FALSE(routing_key(pk, short_values));
  EXPECT_FALSE(routing_key({}, short_values));
}

}  // namespace
}  // namespace zdm::client
