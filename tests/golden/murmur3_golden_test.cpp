// Our Murmur3Partitioner hash against the DataStax Python driver's (gen_murmur3.py).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/murmur3.hpp"
#include "golden_data.hpp"

namespace zdm {
namespace {

Bytes unhex(const std::string& hex) {
  auto b = from_hex(hex);
  EXPECT_TRUE(b.has_value()) << hex;
  return b ? *b : Bytes{};
}

TEST(Murmur3Golden, MatchesDriverForRandomKeys) {
  const auto data = golden::load("murmur3.json");
  ASSERT_TRUE(data.is_object());
  const auto& keys = data.at("keys");
  ASSERT_GE(keys.size(), 2000u);
  size_t high_tail = 0;
  for (const auto& k : keys) {
    const Bytes key = unhex(k.at("key").get<std::string>());
    const auto want = k.at("hash").get<int64_t>();
    EXPECT_EQ(murmur3_hash64(key), want) << "key " << to_hex(key);
    if (!key.empty()) {
      EXPECT_EQ(murmur3_token(key).value, want == INT64_MIN ? INT64_MAX : want);
    }
    if (key.size() % 16 != 0 && key.back() >= 0x80) ++high_tail;
  }
  EXPECT_GT(high_tail, 100u) << "the data must exercise sign-extended tail bytes";
}

TEST(Murmur3Golden, MatchesDriverForCompositePartitionKeys) {
  const auto data = golden::load("murmur3.json");
  ASSERT_TRUE(data.is_object());
  const auto& composites = data.at("composites");
  ASSERT_GE(composites.size(), 100u);
  for (const auto& c : composites) {
    std::vector<Bytes> parts;
    for (const auto& p : c.at("components")) parts.push_back(unhex(p.get<std::string>()));
    std::vector<ByteView> views(parts.begin(), parts.end());
    const Bytes encoded = composite_partition_key(views);
    EXPECT_EQ(to_hex(encoded), c.at("encoded").get<std::string>());
    EXPECT_EQ(murmur3_hash64(encoded), c.at("hash").get<int64_t>());
  }
}

}  // namespace
}  // namespace zdm
