#include "protocol/value.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "protocol/cql_type.hpp"

namespace zdm::protocol {
namespace {

constexpr ProtocolVersion kVersions[] = {ProtocolVersion::V3, ProtocolVersion::V4,
                                         ProtocolVersion::V5};

DataType T(TypeId id) { return DataType::simple(id); }

DataType parse(std::string_view cql) {
  auto t = parse_cql_type(cql);
  EXPECT_TRUE(t) << cql << ": " << (t ? "" : t.error().to_string());
  return t ? *t : DataType{};
}

Bytes hex(std::string_view h) {
  auto b = from_hex(h);
  EXPECT_TRUE(b) << h;
  return b ? *b : Bytes{};
}

// Encodes in every version, expects `expected_hex` (when given), decodes back to an equal value
// and re-encodes to the same bytes.
void expect_round_trip(const DataType& type, const Value& value,
                       std::string_view expected_hex = "-") {
  for (ProtocolVersion v : kVersions) {
    SCOPED_TRACE(std::string(protocol_version_name(v)) + " " + format_cql_type(type) + " " +
                 to_cql_literal(value, type));
    Bytes out;
    auto enc = encode_value(type, value, out, v);
    ASSERT_TRUE(enc) << enc.error().to_string();
    if (expected_hex != "-") {
      EXPECT_EQ(to_hex(out), expected_hex);
    }
    auto dec = decode_value(type, out, v);
    ASSERT_TRUE(dec) << dec.error().to_string();
    EXPECT_EQ(*dec, value);
    Bytes again;
    ASSERT_TRUE(encode_value(type, *dec, again, v));
    EXPECT_EQ(again, out);
  }
}

void expect_decode_error(const DataType& type, std::string_view bytes_hex, Errc code,
                         std::string_view message_part = "") {
  for (ProtocolVersion v : kVersions) {
    auto dec = decode_value(type, hex(bytes_hex), v);
    ASSERT_FALSE(dec) << format_cql_type(type) << " accepted " << bytes_hex;
    EXPECT_EQ(dec.error().code, code) << dec.error().to_string();
    EXPECT_NE(dec.error().message.find(message_part), std::string::npos) << dec.error().to_string();
  }
}

Uuid uuid_from(std::string_view h) {
  Bytes b = hex(h);
  Uuid u{};
  std::copy(b.begin(), b.end(), u.begin());
  return u;
}

Varint vi(std::string_view s) {
  auto v = Varint::parse(s);
  EXPECT_TRUE(v) << s;
  return v ? *v : Varint{};
}

TEST(Varint, EncodesMinimalTwosComplementAsTheSpecExamples) {
  const std::pair<int64_t, std::string_view> cases[] = {
      {0, "00"},
      {1, "01"},
      {127, "7f"},
      {128, "0080"},
      {129, "0081"},
      {-1, "ff"},
      {-128, "80"},
      {-129, "ff7f"},
      {255, "00ff"},
      {-256, "ff00"},
      {std::numeric_limits<int64_t>::max(), "7fffffffffffffff"},
      {std::numeric_limits<int64_t>::min(), "8000000000000000"},
  };
  for (const auto& [n, h] : cases) {
    Varint v = Varint::from_int64(n);
    EXPECT_EQ(to_hex(v.bytes()), h) << n;
    EXPECT_EQ(v.to_int64(), n);
    EXPECT_EQ(v.to_string(), std::to_string(n));
    EXPECT_EQ(vi(std::to_string(n)), v);
    expect_round_trip(T(TypeId::Varint), Value::varint(v), h);
  }
}

TEST(Varint, HandlesValuesBeyond64BitsAndNormalisesRedundantSignBytes) {
  Varint big = vi("-170141183460469231731687303715884105728");  // -2^127
  EXPECT_EQ(to_hex(big.bytes()), "80000000000000000000000000000000");
  EXPECT_EQ(big.to_string(), "-170141183460469231731687303715884105728");
  EXPECT_FALSE(big.to_int64());
  Varint huge = vi("123456789012345678901234567890");
  EXPECT_EQ(huge.to_string(), "123456789012345678901234567890");
  expect_round_trip(T(TypeId::Varint), Value::varint(huge));

  auto padded = decode_value(T(TypeId::Varint), hex("000001"), ProtocolVersion::V4);
  ASSERT_TRUE(padded);
  EXPECT_EQ(*padded, Value::varint(Varint::from_int64(1)));
  auto padded_negative = decode_value(T(TypeId::Varint), hex("ffff80"), ProtocolVersion::V4);
  ASSERT_TRUE(padded_negative);
  EXPECT_EQ(*padded_negative, Value::varint(Varint::from_int64(-128)));
  EXPECT_FALSE(Varint::parse("12a"));
  EXPECT_FALSE(Varint::parse("-"));
}

TEST(Value, RoundTripsIntegerBoundaries) {
  expect_round_trip(T(TypeId::Tinyint), Value::tinyint(-128), "80");
  expect_round_trip(T(TypeId::Tinyint), Value::tinyint(127), "7f");
  expect_round_trip(T(TypeId::Smallint), Value::smallint(-32768), "8000");
  expect_round_trip(T(TypeId::Smallint), Value::smallint(32767), "7fff");
  expect_round_trip(T(TypeId::Int), Value::int32(std::numeric_limits<int32_t>::min()), "80000000");
  expect_round_trip(T(TypeId::Int), Value::int32(std::numeric_limits<int32_t>::max()), "7fffffff");
  expect_round_trip(T(TypeId::Bigint), Value::int64(std::numeric_limits<int64_t>::min()),
                    "8000000000000000");
  expect_round_trip(T(TypeId::Counter), Value::int64(-1), "ffffffffffffffff");
  expect_round_trip(T(TypeId::Timestamp), Value::int64(1'700'000'000'123), "0000018bcfe5687b");
  expect_round_trip(T(TypeId::Boolean), Value::boolean(true), "01");
  expect_round_trip(T(TypeId::Boolean), Value::boolean(false), "00");
}

TEST(Value, DecodesAnyNonZeroBooleanAsTrue) {
  auto v = decode_value(T(TypeId::Boolean), hex("02"), ProtocolVersion::V5);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, Value::boolean(true));
}

TEST(Value, RoundTripsFloatsIncludingNanAndInfinities) {
  expect_round_trip(T(TypeId::Float), Value::float32(1.5f), "3fc00000");
  expect_round_trip(T(TypeId::Float), Value::float32(std::numeric_limits<float>::quiet_NaN()));
  expect_round_trip(T(TypeId::Float), Value::float32(-std::numeric_limits<float>::infinity()),
                    "ff800000");
  expect_round_trip(T(TypeId::Double), Value::float64(-0.0), "8000000000000000");
  expect_round_trip(T(TypeId::Double), Value::float64(std::numeric_limits<double>::quiet_NaN()));
  expect_round_trip(T(TypeId::Double), Value::float64(std::numeric_limits<double>::denorm_min()),
                    "0000000000000001");
  EXPECT_NE(Value::float64(0.0), Value::float64(-0.0));
}

TEST(Value, RoundTripsDatesAtTheEndsOfTheRange) {
  expect_round_trip(T(TypeId::Date), Value::date(0), "00000000");
  expect_round_trip(T(TypeId::Date), Value::date(0xFFFFFFFFu), "ffffffff");
  expect_round_trip(T(TypeId::Date), Value::date(kDateEpoch), "80000000");
  EXPECT_EQ(to_cql_literal(Value::date(kDateEpoch), T(TypeId::Date)), "'1970-01-01'");
  EXPECT_EQ(to_cql_literal(Value::date(kDateEpoch - 1), T(TypeId::Date)), "'1969-12-31'");
  EXPECT_EQ(to_cql_literal(Value::date(kDateEpoch + 19'000), T(TypeId::Date)), "'2022-01-08'");
  EXPECT_EQ(to_cql_literal(Value::date(0), T(TypeId::Date)), "'0'");
}

TEST(Value, ValidatesTimeOfDay) {
  expect_round_trip(T(TypeId::Time), Value::int64(0), "0000000000000000");
  expect_round_trip(T(TypeId::Time), Value::int64(kMaxTimeOfDay), "00004e94914effff");
  expect_decode_error(T(TypeId::Time), "00004e94914f0000", Errc::Malformed, "outside");
  expect_decode_error(T(TypeId::Time), "ffffffffffffffff", Errc::Malformed, "outside");
  Bytes out;
  EXPECT_FALSE(encode_value(T(TypeId::Time), Value::int64(-1), out, ProtocolVersion::V4));
  EXPECT_EQ(to_cql_literal(Value::int64(kMaxTimeOfDay), T(TypeId::Time)), "'23:59:59.999999999'");
}

TEST(Value, RoundTripsDecimalsWithAnyScale) {
  expect_round_trip(T(TypeId::Decimal), Value::decimal({2, Varint::from_int64(12345)}),
                    "000000023039");
  expect_round_trip(T(TypeId::Decimal), Value::decimal({-3, Varint::from_int64(-129)}),
                    "fffffffdff7f");
  expect_round_trip(T(TypeId::Decimal), Value::decimal({0, Varint::from_int64(0)}), "0000000000");
  EXPECT_EQ(to_cql_literal(Value::decimal({2, Varint::from_int64(12345)}), T(TypeId::Decimal)),
            "123.45");
  EXPECT_EQ(to_cql_literal(Value::decimal({4, Varint::from_int64(-5)}), T(TypeId::Decimal)),
            "-0.0005");
  EXPECT_EQ(to_cql_literal(Value::decimal({-3, Varint::from_int64(7)}), T(TypeId::Decimal)), "7E3");
  EXPECT_EQ(
      to_cql_literal(Value::decimal({1'000'000'000, Varint::from_int64(-5)}), T(TypeId::Decimal)),
      "-5E-1000000000");
  expect_decode_error(T(TypeId::Decimal), "00000002", Errc::Malformed, "scale");
}

TEST(Value, RoundTripsDurationsAndEnforcesOneSign) {
  expect_round_trip(T(TypeId::Duration), Value::duration({1, 2, 3}), "020406");
  expect_round_trip(T(TypeId::Duration), Value::duration({-1, 0, -3}), "010005");
  expect_round_trip(T(TypeId::Duration), Value::duration({std::numeric_limits<int32_t>::min(),
                                                          std::numeric_limits<int32_t>::min(),
                                                          std::numeric_limits<int64_t>::min()}));
  expect_round_trip(T(TypeId::Duration), Value::duration({std::numeric_limits<int32_t>::max(), 0,
                                                          std::numeric_limits<int64_t>::max()}));
  EXPECT_EQ(to_cql_literal(Value::duration({1, 2, 3}), T(TypeId::Duration)), "1mo2d3ns");
  EXPECT_EQ(to_cql_literal(Value::duration({0, -2, 0}), T(TypeId::Duration)), "-2d");
  // months +1, days -1
  expect_decode_error(T(TypeId::Duration), "020100", Errc::Malformed, "mixes signs");
  expect_decode_error(T(TypeId::Duration), "0204", Errc::Malformed, "truncated");
  expect_decode_error(T(TypeId::Duration), "02040600", Errc::Malformed, "after");
  // months = 2^32 does not fit 32 bits
  expect_decode_error(T(TypeId::Duration), "f2000000000000", Errc::Malformed, "32 bits");
  Bytes out;
  EXPECT_FALSE(
      encode_value(T(TypeId::Duration), Value::duration({1, -1, 0}), out, ProtocolVersion::V5));
}

TEST(Value, RoundTripsUuidsInetsAndStrings) {
  Uuid u = uuid_from("00112233445566778899aabbccddeeff");
  expect_round_trip(T(TypeId::Uuid), Value::uuid(u), "00112233445566778899aabbccddeeff");
  Uuid tu = uuid_from("e2f0a1b0123411ee8c900242ac120002");
  expect_round_trip(T(TypeId::Timeuuid), Value::uuid(tu));
  expect_decode_error(T(TypeId::Timeuuid), "00112233445546778899aabbccddeeff", Errc::Malformed,
                      "version 4");
  EXPECT_EQ(to_cql_literal(Value::uuid(u), T(TypeId::Uuid)),
            "00112233-4455-6677-8899-aabbccddeeff");

  auto v4 = InetAddress::from_bytes(hex("7f000001"));
  auto v6 = InetAddress::from_bytes(hex("20010db8000000000000000000000001"));
  ASSERT_TRUE(v4 && v6);
  expect_round_trip(T(TypeId::Inet), Value::inet(*v4), "7f000001");
  expect_round_trip(T(TypeId::Inet), Value::inet(*v6));
  EXPECT_EQ(to_cql_literal(Value::inet(*v6), T(TypeId::Inet)), "'2001:db8::1'");
  expect_decode_error(T(TypeId::Inet), "7f0000", Errc::Malformed, "not 4 or 16");

  expect_round_trip(T(TypeId::Varchar), Value::text("h\xc3\xa9llo"), "68c3a96c6c6f");
  expect_round_trip(T(TypeId::Varchar), Value::text(""), "");
  expect_round_trip(T(TypeId::Ascii), Value::text("it's"));
  expect_round_trip(T(TypeId::Blob), Value::blob({}), "");
  expect_round_trip(T(TypeId::Blob), Value::blob({0xca, 0xfe}), "cafe");
  EXPECT_EQ(to_cql_literal(Value::text("it's"), T(TypeId::Ascii)), "'it''s'");
  EXPECT_EQ(to_cql_literal(Value::blob({0xca, 0xfe}), T(TypeId::Blob)), "0xcafe");
  expect_decode_error(T(TypeId::Ascii), "80", Errc::Malformed, "0x7f");
  expect_decode_error(T(TypeId::Varchar), "c3", Errc::Malformed, "UTF-8");
  expect_decode_error(T(TypeId::Varchar), "eda080", Errc::Malformed, "UTF-8");  // surrogate
  expect_decode_error(T(TypeId::Varchar), "c0af", Errc::Malformed, "UTF-8");    // overlong
}

TEST(Value, RepresentsEmptyBytesAsEmptyForNonStringTypes) {
  for (std::string_view cql :
       {"int", "bigint", "boolean", "uuid", "timestamp", "decimal", "varint", "inet", "duration",
        "date", "time", "list<int>", "map<int, int>", "vector<float, 2>"}) {
    DataType t = parse(cql);
    auto v = decode_value(t, {}, ProtocolVersion::V4);
    ASSERT_TRUE(v) << cql;
    EXPECT_TRUE(v->is_empty()) << cql;
    expect_round_trip(t, Value::empty(), "");
  }
  EXPECT_EQ(to_cql_literal(Value::empty(), T(TypeId::Int)), "blobAsInt(0x)");
  auto tuple = decode_value(parse("tuple<int, text>"), {}, ProtocolVersion::V4);
  ASSERT_TRUE(tuple);
  EXPECT_EQ(*tuple, Value::elements({}));
}

TEST(Value, RejectsWrongFixedSizes) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"int", "000001"},
      {"int", "0000000001"},
      {"bigint", "00"},
      {"boolean", "0001"},
      {"smallint", "01"},
      {"tinyint", "0102"},
      {"uuid", "0011"},
      {"double", "3ff0"},
      {"float", "3f"},
      {"date", "000000"},
      {"timestamp", "000000000000000000"}};
  for (const auto& [cql, h] : cases) expect_decode_error(parse(cql), h, Errc::Malformed, "bytes");
}

TEST(Value, RoundTripsCollections) {
  DataType list = parse("list<int>");
  expect_round_trip(list, Value::elements({Value::int32(1), Value::int32(-1)}),
                    "00000002"
                    "0000000400000001"
                    "00000004ffffffff");
  expect_round_trip(list, Value::elements({}), "00000000");
  DataType set = parse("set<text>");
  expect_round_trip(set, Value::elements({Value::text("a"), Value::text("")}),
                    "00000002"
                    "0000000161"
                    "00000000");
  DataType map = parse("map<text, int>");
  expect_round_trip(map, Value::entries({{Value::text("k"), Value::int32(7)}}),
                    "00000001"
                    "000000016b"
                    "0000000400000007");
  EXPECT_EQ(to_cql_literal(Value::entries({{Value::text("k"), Value::int32(7)}}), map), "{'k': 7}");
  EXPECT_EQ(to_cql_literal(Value::elements({Value::text("a")}), set), "{'a'}");
}

TEST(Value, RoundTripsNestedFrozenCollections) {
  DataType t = parse("map<text, frozen<list<frozen<set<bigint>>>>>");
  Value v = Value::entries({
      {Value::text("x"),
       Value::elements({Value::elements({Value::int64(1), Value::int64(2)}), Value::elements({})})},
      {Value::text("y"), Value::elements({})},
  });
  expect_round_trip(t, v);
  EXPECT_EQ(to_cql_literal(v, t), "{'x': [{1, 2}, {}], 'y': []}");
}

TEST(Value, RejectsMalformedCollections) {
  DataType list = parse("list<int>");
  expect_decode_error(list, "000000020000000400000001", Errc::Truncated);       // 2nd missing
  expect_decode_error(list, "7fffffff00000004", Errc::Truncated, "announces");  // huge count
  expect_decode_error(list, "ffffffff", Errc::Malformed, "negative");
  expect_decode_error(list, "00000001ffffffff", Errc::Malformed, "null element");
  expect_decode_error(list, "000000010000000400000001ff", Errc::Malformed, "after");
  expect_decode_error(list, "00000001000000030000ff", Errc::Malformed, "element 0");
  expect_decode_error(list, "000000010000000800000001", Errc::Truncated);  // length > rest
  DataType map = parse("map<int, int>");
  expect_decode_error(map, "000000010000000400000001", Errc::Truncated);
  expect_decode_error(map, "000000010000000400000001ffffffff", Errc::Malformed, "null value");
  Bytes out;
  auto r = encode_value(list, Value::elements({Value::null()}), out, ProtocolVersion::V4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
}

TEST(Value, RoundTripsTuplesWithNullsAndShortUdts) {
  DataType tuple = parse("tuple<int, text, frozen<list<int>>>");
  expect_round_trip(tuple, Value::elements({Value::int32(5), Value::null(), Value::elements({})}),
                    "0000000400000005"
                    "ffffffff"
                    "0000000400000000");
  EXPECT_EQ(to_cql_literal(Value::elements({Value::int32(5), Value::null()}), tuple),
            "(5, null, null)");

  DataType udt = DataType::simple(TypeId::Udt);
  udt.udt_keyspace = "ks";
  udt.udt_name = "point";
  udt.field_names = {"x", "y", "Label"};
  udt.params = {T(TypeId::Int), T(TypeId::Int), T(TypeId::Varchar)};
  // Only the first field present: the rest are missing (null).
  auto short_udt = decode_value(udt, hex("0000000400000001"), ProtocolVersion::V4);
  ASSERT_TRUE(short_udt) << short_udt.error().to_string();
  EXPECT_EQ(*short_udt, Value::elements({Value::int32(1)}));
  EXPECT_EQ(to_cql_literal(*short_udt, udt), "{x: 1, y: null, \"Label\": null}");
  expect_round_trip(udt, *short_udt, "0000000400000001");
  expect_round_trip(udt, Value::elements({Value::int32(1), Value::null(), Value::text("p")}));
  expect_decode_error(udt, "00000004000000010000000400000002000000000000000100", Errc::Malformed,
                      "after its 3 fields");
  expect_decode_error(udt, "00000004000000", Errc::Truncated);
  Bytes out;
  EXPECT_FALSE(encode_value(
      udt, Value::elements({Value::int32(1), Value::int32(2), Value::text(""), Value::int32(4)}),
      out, ProtocolVersion::V4));
}

TEST(Value, RoundTripsVectorsOfFixedAndVariableSizeElements) {
  DataType floats = parse("vector<float, 3>");
  expect_round_trip(
      floats, Value::elements({Value::float32(1.0f), Value::float32(-2.5f), Value::float32(0.0f)}),
      "3f800000c020000000000000");
  EXPECT_EQ(to_cql_literal(Value::elements(
                               {Value::float32(1.0f), Value::float32(-2.5f), Value::float32(0.0f)}),
                           floats),
            "[1.0, -2.5, 0.0]");
  DataType texts = parse("vector<text, 2>");
  expect_round_trip(texts, Value::elements({Value::text("ab"), Value::text("")}), "02616200");
  DataType smallints = parse("vector<smallint, 2>");  // variable-size in Cassandra's vectors
  expect_round_trip(smallints, Value::elements({Value::smallint(1), Value::smallint(-1)}),
                    "02000102ffff");
  DataType nested = parse("vector<vector<int, 2>, 2>");  // fixed 8-byte elements
  expect_round_trip(nested,
                    Value::elements({Value::elements({Value::int32(1), Value::int32(2)}),
                                     Value::elements({Value::int32(3), Value::int32(4)})}),
                    "00000001000000020000000300000004");
  ASSERT_TRUE(fixed_value_size(nested));
  EXPECT_EQ(*fixed_value_size(nested), 16u);
  EXPECT_FALSE(fixed_value_size(smallints));

  expect_decode_error(floats, "3f800000c0200000", Errc::Malformed, "expected 3 elements");
  expect_decode_error(texts, "0261", Errc::Truncated, "length 2");
  expect_decode_error(texts, "026162", Errc::Truncated);
  expect_decode_error(texts, "0261620000", Errc::Malformed, "after its last element");
  expect_decode_error(parse("vector<text, 1000>"), "00", Errc::Truncated, "1000 elements");
  Bytes out;
  EXPECT_FALSE(
      encode_value(floats, Value::elements({Value::float32(1.0f)}), out, ProtocolVersion::V5));
  EXPECT_FALSE(encode_value(
      floats, Value::elements({Value::float32(1.0f), Value::empty(), Value::float32(2.0f)}), out,
      ProtocolVersion::V5));
}

TEST(Value, RejectsValuesThatDoNotFitTheType) {
  Bytes out;
  auto r = encode_value(T(TypeId::Int), Value::int64(1), out, ProtocolVersion::V4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  EXPECT_NE(r.error().message.find("int64"), std::string::npos);
  EXPECT_FALSE(encode_value(T(TypeId::Int), Value::null(), out, ProtocolVersion::V4));
  EXPECT_FALSE(encode_value(parse("list<int>"), Value::entries({}), out, ProtocolVersion::V4));
  EXPECT_FALSE(encode_value(T(TypeId::Ascii), Value::text("\xc3\xa9"), out, ProtocolVersion::V4));
}

TEST(Value, RejectsTypesNestedDeeperThan64Levels) {
  DataType t = T(TypeId::Int);
  for (int i = 0; i < 70; ++i) t = DataType::list_of(std::move(t));
  // A list of one element per level; the data runs out long before the type, but the depth
  // check fires first at level 65.
  Bytes nested{0, 0, 0, 0};
  for (int i = 0; i < 70; ++i) {
    Bytes outer{0, 0, 0, 1};
    ByteWriter w(outer);
    w.write_i32(static_cast<int32_t>(nested.size()));
    w.write_raw(nested);
    nested = outer;
  }
  auto v = decode_value(t, nested, ProtocolVersion::V4);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("64 levels"), std::string::npos) << v.error().to_string();
}

TEST(Value, FormatsFloatLiteralsLikeCqlsh) {
  EXPECT_EQ(to_cql_literal(Value::float64(std::nan("")), T(TypeId::Double)), "NaN");
  EXPECT_EQ(to_cql_literal(Value::float64(-INFINITY), T(TypeId::Double)), "-Infinity");
  EXPECT_EQ(to_cql_literal(Value::float64(0.1), T(TypeId::Double)), "0.1");
  EXPECT_EQ(to_cql_literal(Value::float64(1e16), T(TypeId::Double)), "1e+16");
  EXPECT_EQ(to_cql_literal(Value::float64(123456.0), T(TypeId::Double)), "123456.0");
  EXPECT_EQ(to_cql_literal(Value::float64(1.5e-7), T(TypeId::Double)), "1.5e-07");
  EXPECT_EQ(to_cql_literal(Value::float32(0.1f), T(TypeId::Float)), "0.1");
  EXPECT_EQ(to_cql_literal(Value::float32(3.4028235e38f), T(TypeId::Float)), "3.4028235e+38");
}

TEST(Value, RandomNestedValuesRoundTrip) {
  std::mt19937_64 rng(20240611);
  DataType t = parse("map<int, frozen<tuple<text, frozen<list<bigint>>, varint>>>");
  for (int iter = 0; iter < 50; ++iter) {
    Value::Entries entries;
    size_t n = rng() % 5;
    for (size_t i = 0; i < n; ++i) {
      Value::Elements longs;
      for (size_t k = rng() % 4; k > 0; --k)
        longs.push_back(Value::int64(static_cast<int64_t>(rng())));
      std::string s(rng() % 6, static_cast<char>('a' + rng() % 26));
      entries.emplace_back(
          Value::int32(static_cast<int32_t>(rng())),
          Value::elements({Value::text(s), Value::elements(std::move(longs)),
                           (rng() % 3 == 0)
                               ? Value::null()
                               : Value::varint(Varint::from_int64(static_cast<int64_t>(rng())))}));
    }
    expect_round_trip(t, Value::entries(std::move(entries)));
  }
}

}  // namespace
}  // namespace zdm::protocol
