// Cassandra's comparators for clustering order, checked on hand-built serialized values.

#include "protocol/value_compare.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include "common/timeuuid.hpp"

namespace zdm::protocol::test {
namespace {

using protocol::DataType;

Bytes hex(std::string_view h) { return *from_hex(h); }
Bytes i32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  return {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
          static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
}
Bytes i64(int64_t v) {
  Bytes out(8);
  auto u = static_cast<uint64_t>(v);
  for (size_t i = 8; i-- > 0;) {
    out[i] = static_cast<uint8_t>(u);
    u >>= 8;
  }
  return out;
}
Bytes txt(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Every adjacent pair must be strictly increasing, and shuffling then sorting restores the order.
void expect_ascending(const DataType& type, const std::vector<Bytes>& values) {
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    EXPECT_LT(compare_values(type, values[i], values[i + 1]), 0)
        << to_hex(values[i]) << " vs " << to_hex(values[i + 1]);
    EXPECT_GT(compare_values(type, values[i + 1], values[i]), 0);
    EXPECT_EQ(compare_values(type, values[i], values[i]), 0);
  }
  std::vector<Bytes> shuffled = values;
  std::mt19937 rng(42);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(shuffled.begin(), shuffled.end(),
            [&](const Bytes& a, const Bytes& b) { return compare_values(type, a, b) < 0; });
  EXPECT_EQ(shuffled, values);
}

TEST(CompareValues, SignedFixedWidthIntegers) {
  expect_ascending(DataType::simple(TypeId::Tinyint),
                   {{}, hex("80"), hex("ff"), hex("00"), hex("7f")});
  expect_ascending(DataType::simple(TypeId::Smallint),
                   {{}, hex("8000"), hex("ffff"), hex("0000"), hex("0100"), hex("7fff")});
  expect_ascending(DataType::simple(TypeId::Int),
                   {{}, i32(INT32_MIN), i32(-1), i32(0), i32(256), i32(INT32_MAX)});
  for (auto id : {TypeId::Bigint, TypeId::Counter, TypeId::Timestamp, TypeId::Time}) {
    expect_ascending(DataType::simple(id),
                     {{}, i64(INT64_MIN), i64(-1), i64(0), i64(1), i64(INT64_MAX)});
  }
}

TEST(CompareValues, VarintNumericallyIncludingNegativesAndRedundantBytes) {
  expect_ascending(DataType::simple(TypeId::Varint), {{},
                                                      hex("ff7fffffffffffffff"),
                                                      hex("8000"),
                                                      hex("ff7f"),
                                                      hex("80"),
                                                      hex("ff"),
                                                      hex("00"),
                                                      hex("01"),
                                                      hex("7f"),
                                                      hex("0080"),
                                                      hex("7fff"),
                                                      hex("00ffffffffffffffff")});
  // Redundant sign extension compares equal.
  EXPECT_EQ(compare_values(DataType::simple(TypeId::Varint), hex("0001"), hex("01")), 0);
  EXPECT_EQ(compare_values(DataType::simple(TypeId::Varint), hex("ffff"), hex("ff")), 0);
}

TEST(CompareValues, DecimalNumericallyAcrossScales) {
  // [int scale][varint unscaled]: -1.5, -1, -0.05, 0, 0.001, 0.01, 1 (scale 0), 1.5, 100 (1E+2)
  expect_ascending(DataType::simple(TypeId::Decimal), {{},
                                                       hex("00000001f1"),
                                                       hex("00000000ff"),
                                                       hex("00000002fb"),
                                                       hex("0000000000"),
                                                       hex("0000000301"),
                                                       hex("0000000201"),
                                                       hex("0000000001"),
                                                       hex("000000010f"),
                                                       hex("fffffffe01")});
  // 1.0 (10, scale 1) equals 1 (1, scale 0); 1E+2 equals 100.
  EXPECT_EQ(compare_values(DataType::simple(TypeId::Decimal), hex("000000010a"), hex("0000000001")),
            0);
  EXPECT_EQ(compare_values(DataType::simple(TypeId::Decimal), hex("fffffffe01"), hex("0000000064")),
            0);
  // Huge scale gaps decide without big multiplications.
  EXPECT_LT(compare_values(DataType::simple(TypeId::Decimal), hex("7fffffff01"), hex("8000000001")),
            0);
}

TEST(CompareValues, FloatAndDoubleNumerically) {
  expect_ascending(DataType::simple(TypeId::Float), {{},
                                                     hex("ff800000"),
                                                     hex("bf800000"),
                                                     hex("80000000"),
                                                     hex("00000000"),
                                                     hex("3f800000"),
                                                     hex("7f800000"),
                                                     hex("7fc00000")});
  expect_ascending(DataType::simple(TypeId::Double), {{},
                                                      hex("fff0000000000000"),
                                                      hex("bff0000000000000"),
                                                      hex("8000000000000000"),
                                                      hex("0000000000000000"),
                                                      hex("3ff0000000000000"),
                                                      hex("7ff8000000000000")});
}

TEST(CompareValues, BytewiseUnsignedTypesAndBoolean) {
  for (auto id : {TypeId::Varchar, TypeId::Ascii, TypeId::Blob, TypeId::Inet}) {
    expect_ascending(DataType::simple(id),
                     {{}, hex("00"), hex("0000"), hex("01"), hex("7f"), hex("80"), hex("ff")});
  }
  expect_ascending(DataType::simple(TypeId::Boolean), {{}, hex("00"), hex("01")});
}

TEST(CompareValues, DateIsUnsignedDaysAroundTheEpochCenter) {
  // 2^31 is 1970-01-01; smaller is before the epoch.
  expect_ascending(
      DataType::simple(TypeId::Date),
      {{}, hex("00000000"), hex("7fffffff"), hex("80000000"), hex("80000001"), hex("ffffffff")});
}

TEST(CompareValues, UuidOrdersByVersionThenTimeThenUnsignedBytes) {
  // Time order differs from byte order: time_low (first bytes) is the least significant part.
  const Uuid early = make_timeuuid(1000, 5, 0x010203040506);
  const Uuid v1_bytes_high = make_timeuuid(0xFFFFFFFF, 0, 0);  // time_low ff.., time_mid 0
  const Uuid late = make_timeuuid(1'000'000'000'000, 1, 0x010203040506);
  const Uuid v1_bytes_low = make_timeuuid(int64_t{1} << 40, 0, 0);  // time_low 0, time_mid 0100
  auto b = [](const Uuid& u) { return Bytes(u.begin(), u.end()); };
  Bytes v4a = hex("00000000000040008000000000000000");
  Bytes v4b = hex("ffffffffffff4fff8000000000000000");
  Bytes v3 = hex("ffffffffffff3fff8000000000000000");
  expect_ascending(DataType::simple(TypeId::Uuid),
                   {{}, b(early), b(v1_bytes_high), b(late), b(v1_bytes_low), v3, v4a, v4b});
}

TEST(CompareValues, TimeuuidByTimestampThenSignedRemainingBytes) {
  auto b = [](const Uuid& u) { return Bytes(u.begin(), u.end()); };
  expect_ascending(DataType::simple(TypeId::Timeuuid),
                   {{},
                    b(make_timeuuid(0xFFFFFFFF, 0, 0x7F0000000000)),
                    // Same time: node bytes compare signed, so 0x80.. sorts before 0x7f...
                    b(make_timeuuid(int64_t{1} << 40, 0, 0x800000000000)),
                    b(make_timeuuid(int64_t{1} << 40, 0, 0x7F0000000000)),
                    b(make_timeuuid(int64_t{1} << 41, 0, 0))});
}

Bytes field(const Bytes& v) {
  Bytes out = i32(static_cast<int32_t>(v.size()));
  out.insert(out.end(), v.begin(), v.end());
  return out;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(CompareValues, TuplesComponentWiseWithNullFirst) {
  auto type =
      DataType::tuple_of({DataType::simple(TypeId::Int), DataType::simple(TypeId::Varchar)});
  const Bytes null_field = i32(-1);
  expect_ascending(type, {{},
                          concat({null_field, field(txt("z"))}),
                          concat({field(i32(-5)), field(txt("b"))}),
                          concat({field(i32(1))}),
                          concat({field(i32(1)), field(txt("a"))}),
                          concat({field(i32(1)), field(txt("b"))}),
                          concat({field(i32(2)), field(txt("a"))})});
}

TEST(CompareValues, FrozenCollectionsElementWiseThenShorterFirst) {
  auto list = DataType::list_of(DataType::simple(TypeId::Int));
  expect_ascending(list, {{},
                          concat({i32(0)}),
                          concat({i32(1), field(i32(-3))}),
                          concat({i32(2), field(i32(-3)), field(i32(1))}),
                          concat({i32(1), field(i32(2))})});
  auto map = DataType::map_of(DataType::simple(TypeId::Int), DataType::simple(TypeId::Int));
  expect_ascending(map, {concat({i32(1), field(i32(1)), field(i32(-1))}),
                         concat({i32(1), field(i32(1)), field(i32(5))}),
                         concat({i32(1), field(i32(2)), field(i32(0))})});
}

}  // namespace
}  // namespace zdm::protocol::test
