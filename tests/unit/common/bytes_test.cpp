#include "common/bytes.hpp"

#include <gtest/gtest.h>

namespace zdm {
namespace {

TEST(ByteReader, ReadsBigEndianIntegers) {
  const uint8_t data[] = {0x01, 0x02, 0xff, 0xff, 0xff, 0xfe};
  ByteReader r(data);
  EXPECT_EQ(*r.read_u16(), 0x0102);
  EXPECT_EQ(*r.read_i32(), -2);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReader, FailsWithTruncatedInsteadOfReadingPastTheEnd) {
  const uint8_t data[] = {0x00, 0x05, 'a', 'b'};
  ByteReader r(data);
  auto s = r.read_string();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::Truncated);
}

TEST(ByteReader, DistinguishesNullAndUnsetValues) {
  Bytes buf;
  ByteWriter w(buf);
  w.write_value(ValueView::null());
  w.write_value(ValueView::unset());
  const uint8_t payload[] = {7};
  w.write_value(ValueView::set(payload));
  ByteReader r(buf);
  EXPECT_EQ(r.read_value()->kind, ValueView::Kind::Null);
  EXPECT_EQ(r.read_value()->kind, ValueView::Kind::Unset);
  auto v = r.read_value();
  ASSERT_EQ(v->kind, ValueView::Kind::Set);
  EXPECT_EQ(v->bytes[0], 7);
}

TEST(ByteReader, RejectsNegativeValueLengthsOtherThanNullAndUnset) {
  const uint8_t data[] = {0xff, 0xff, 0xff, 0xfd};
  ByteReader r(data);
  auto v = r.read_value();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::Malformed);
}

TEST(Vint, RoundTripsBoundaryValues) {
  const int64_t values[] = {0,    1,    -1,    63,        -64,       64,        127,      128,
                            8191, 8192, -8193, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
  for (int64_t v : values) {
    Bytes buf;
    ByteWriter w(buf);
    w.write_vint(v);
    ByteReader r(buf);
    auto back = r.read_vint();
    ASSERT_TRUE(back) << v;
    EXPECT_EQ(*back, v);
    EXPECT_TRUE(r.empty()) << v;
  }
}

TEST(Vint, MatchesCassandraEncodingOfKnownValues) {
  // Cassandra's VIntCoding: 1 byte up to 127, then a prefix of one bits counting extra bytes.
  auto enc = [](uint64_t v) {
    Bytes buf;
    ByteWriter(buf).write_unsigned_vint(v);
    return to_hex(buf);
  };
  EXPECT_EQ(enc(0), "00");
  EXPECT_EQ(enc(127), "7f");
  EXPECT_EQ(enc(128), "8080");
  EXPECT_EQ(enc(16383), "bfff");
  EXPECT_EQ(enc(16384), "c04000");
  EXPECT_EQ(enc(UINT64_MAX), "ffffffffffffffffff");
}

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  auto b = from_hex("0xDEADbeef");
  ASSERT_TRUE(b);
  EXPECT_EQ(to_hex(*b), "deadbeef");
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
}

}  // namespace
}  // namespace zdm
