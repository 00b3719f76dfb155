#pragma once
// Typed CQL values and their wire encodings (native protocol v5 spec section 6, user types in
// section 7; v3 and v4 encode values the same way). A Value does not carry its type: the
// DataType it was decoded with (or is to be encoded with) says how to read it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/data_type.hpp"
#include "protocol/version.hpp"

namespace zdm::protocol {

// Arbitrary-precision integer held as its wire form: minimal big-endian two's complement.
class Varint {
 public:
  Varint() : bytes_{0} {}
  static Varint from_int64(int64_t v);
  // Any two's complement bytes; redundant leading sign bytes are dropped. Empty means 0.
  static Varint from_twos_complement(ByteView bytes);
  // Optional '-' then decimal digits.
  static Result<Varint> parse(std::string_view decimal);

  const Bytes& bytes() const { return bytes_; }
  bool is_negative() const { return (bytes_[0] & 0x80) != 0; }
  bool is_zero() const { return bytes_.size() == 1 && bytes_[0] == 0; }
  std::optional<int64_t> to_int64() const;  // nullopt when it does not fit
  std::string to_string() const;            // decimal

  friend bool operator==(const Varint&, const Varint&) = default;

 private:
  Bytes bytes_;  // never empty
};

// unscaled * 10^-scale
struct Decimal {
  int32_t scale = 0;
  Varint unscaled;
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

// All three components share one sign (or are zero); see the spec, section 6.8.
struct Duration {
  int32_t months = 0;
  int32_t days = 0;
  int64_t nanoseconds = 0;
  friend bool operator==(const Duration&, const Duration&) = default;
};

struct InetAddress {
  std::array<uint8_t, 16> bytes{};
  uint8_t size = 4;  // 4 (IPv4) or 16 (IPv6)

  static std::optional<InetAddress> from_bytes(ByteView b);
  std::string to_string() const;  // "10.0.0.1", "::1"; "?" for a malformed address
  ByteView view() const { return {bytes.data(), size}; }
  friend bool operator==(const InetAddress&, const InetAddress&) = default;
};

// Nanoseconds of a day: 0 .. kMaxTimeOfDay.
inline constexpr int64_t kMaxTimeOfDay = 86'399'999'999'999;
// The `date` type counts days with the unix epoch at 2^31.
inline constexpr uint32_t kDateEpoch = 0x8000'0000u;

class Value {
 public:
  struct Null {
    friend bool operator==(Null, Null) { return true; }
  };
  // Zero value bytes for a type that normally has some (an "empty" int, list, ...), which
  // Cassandra accepts for legacy reasons and which differs from null.
  struct Empty {
    friend bool operator==(Empty, Empty) { return true; }
  };
  // Elements of a list, set, tuple, UDT (fields in type order; trailing missing fields are
  // absent) or vector.
  using Elements = std::vector<Value>;
  using Entries = std::vector<std::pair<Value, Value>>;  // map entries in wire order

  // Which alternative the value holds; several CQL types share one (bigint, counter, time and
  // timestamp are Int64; ascii and text are Text; uuid and timeuuid are Uuid; blob and custom
  // are Blob; list, set, tuple, UDT and vector are Elements).
  enum class Kind : uint8_t {
    Null,
    Empty,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Date,
    Float,
    Double,
    Varint,
    Decimal,
    Duration,
    Inet,
    Uuid,
    Text,
    Blob,
    Elements,
    Entries,
  };

  Value() = default;  // null

  static Value null() { return Value(); }
  static Value empty() { return Value(Empty{}); }
  static Value boolean(bool v) { return Value(v); }
  static Value tinyint(int8_t v) { return Value(v); }
  static Value smallint(int16_t v) { return Value(v); }
  static Value int32(int32_t v) { return Value(v); }
  static Value int64(int64_t v) { return Value(v); }  // bigint, counter, time, timestamp
  static Value date(uint32_t days_with_epoch_at_2_31) { return Value(days_with_epoch_at_2_31); }
  static Value float32(float v) { return Value(v); }
  static Value float64(double v) { return Value(v); }
  static Value varint(Varint v) { return Value(std::move(v)); }
  static Value decimal(Decimal v) { return Value(std::move(v)); }
  static Value duration(Duration v) { return Value(v); }
  static Value inet(InetAddress v) { return Value(v); }
  static Value uuid(const Uuid& v) { return Value(v); }             // uuid, timeuuid
  static Value text(std::string v) { return Value(std::move(v)); }  // ascii, text
  static Value blob(Bytes v) { return Value(std::move(v)); }        // blob, custom
  static Value elements(Elements v) { return Value(std::move(v)); }
  static Value entries(Entries v) { return Value(std::move(v)); }

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_null() const { return kind() == Kind::Null; }
  bool is_empty() const { return kind() == Kind::Empty; }

  // The held alternative, or nullptr when the value holds another one.
  template <class T>
  const T* get_if() const {
    return std::get_if<T>(&data_);
  }

  // Bitwise for float and double (NaN equals the same NaN; 0.0 differs from -0.0), so that a
  // decoded value compares equal to itself after a round trip.
  friend bool operator==(const Value& a, const Value& b);

 private:
  using Data = std::variant<Null, Empty, bool, int8_t, int16_t, int32_t, int64_t, uint32_t, float,
                            double, Varint, Decimal, Duration, InetAddress, Uuid, std::string,
                            Bytes, Elements, Entries>;
  template <class T>
  explicit Value(T v) : data_(std::in_place_type<T>, std::move(v)) {}

  Data data_;
};

// Decodes the value bytes of one [bytes]/[value] (the length already removed). Zero bytes
// decode to Value::empty() except for ascii, text, blob and custom (an empty string/blob), and
// tuples and UDTs (no fields present). Types nested deeper than 64 levels are rejected.
Result<Value> decode_value(const DataType& type, ByteView bytes, ProtocolVersion version);

// Appends the value bytes (without the outer [bytes] length) to `out`. A null value has no
// value bytes (the caller writes length -1) and is rejected here, as is a value whose kind does
// not fit the type. On failure `out` may hold a partial encoding.
Result<void> encode_value(const DataType& type, const Value& value, Bytes& out,
                          ProtocolVersion version);

// The fixed serialized size of a type as Cassandra's vector encoding sees it (its
// valueLengthIfFixed): boolean 1, int/float 4, bigint/double/timestamp 8, uuid/timeuuid 16, and
// a vector of such elements. Every other type is variable-size.
std::optional<size_t> fixed_value_size(const DataType& type);

// "int32", "text", "list", ...: a value kind's name, for messages.
std::string_view value_kind_name(Value::Kind k);

// How cqlsh would write the value in a CQL statement: 'text' with '' escaping, 0x blobs, bare
// uuids, timestamps as integer milliseconds, '2020-01-31' dates, '13:45:00.000000001' times,
// 1mo2d3ns durations, NaN/Infinity, [list], {set}, {k: v}, (tuple), {field: v}. An empty value
// of a native type is written blobAs<type>(0x).
std::string to_cql_literal(const Value& value, const DataType& type);

}  // namespace zdm::protocol
