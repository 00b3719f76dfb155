#include "protocol/value.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "protocol/cql_type.hpp"

namespace zdm::protocol {

std::string InetAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(size == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf) == nullptr) {
    return "?";
  }
  return buf;
}

std::optional<InetAddress> InetAddress::from_bytes(ByteView b) {
  if (b.size() != 4 && b.size() != 16) return std::nullopt;
  InetAddress a;
  a.size = static_cast<uint8_t>(b.size());
  std::memcpy(a.bytes.data(), b.data(), b.size());
  return a;
}

bool operator==(const Value& a, const Value& b) {
  if (a.data_.index() != b.data_.index()) return false;
  if (const float* x = std::get_if<float>(&a.data_)) {
    return std::bit_cast<uint32_t>(*x) == std::bit_cast<uint32_t>(std::get<float>(b.data_));
  }
  if (const double* x = std::get_if<double>(&a.data_)) {
    return std::bit_cast<uint64_t>(*x) == std::bit_cast<uint64_t>(std::get<double>(b.data_));
  }
  return a.data_ == b.data_;
}

// ---- shared helpers ------------------------------------------------------------------------

namespace {

constexpr int kMaxValueDepth = 64;

std::string type_name(const DataType& t) { return format_cql_type(t); }

}  // namespace

std::string_view value_kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null:
      return "null";
    case Value::Kind::Empty:
      return "empty";
    case Value::Kind::Boolean:
      return "boolean";
    case Value::Kind::Int8:
      return "int8";
    case Value::Kind::Int16:
      return "int16";
    case Value::Kind::Int32:
      return "int32";
    case Value::Kind::Int64:
      return "int64";
    case Value::Kind::Date:
      return "date";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::Double:
      return "double";
    case Value::Kind::Varint:
      return "varint";
    case Value::Kind::Decimal:
      return "decimal";
    case Value::Kind::Duration:
      return "duration";
    case Value::Kind::Inet:
      return "inet";
    case Value::Kind::Uuid:
      return "uuid";
    case Value::Kind::Text:
      return "text";
    case Value::Kind::Blob:
      return "blob";
    case Value::Kind::Elements:
      return "elements";
    case Value::Kind::Entries:
      return "entries";
  }
  return "?";
}

namespace {

bool valid_utf8(ByteView b) {
  size_t i = 0;
  while (i < b.size()) {
    uint8_t c = b[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (b.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3Fu);
    }
    static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

bool valid_ascii(ByteView b) {
  for (uint8_t c : b) {
    if (c > 0x7F) return false;
  }
  return true;
}

bool duration_signs_agree(const Duration& d) {
  bool any_negative = d.months < 0 || d.days < 0 || d.nanoseconds < 0;
  bool any_positive = d.months > 0 || d.days > 0 || d.nanoseconds > 0;
  return !(any_negative && any_positive);
}

bool is_time_uuid(const Uuid& u) { return (u[6] >> 4) == 1; }

// Types whose zero-length value is simply an empty instance, not Value::empty().
bool empty_is_ordinary(TypeId id) {
  return id == TypeId::Ascii || id == TypeId::Varchar || id == TypeId::Blob;
}

// ---- decoding ------------------------------------------------------------------------------

class Decoder {
 public:
  explicit Decoder(ProtocolVersion version) : version_(version) {}

  Result<Value> decode(const DataType& type, ByteView bytes, int depth) {
    if (depth > kMaxValueDepth) {
      return fail(Errc::Malformed, fmt::format("value nesting exceeds {} levels", kMaxValueDepth));
    }
    if (bytes.empty() && !empty_is_ordinary(type.id) && type.id != TypeId::Tuple &&
        type.id != TypeId::Udt) {
      if (type.id != TypeId::Custom) return Value::empty();
      auto vec = vector_info(type);
      if (!vec) return tl::unexpected(std::move(vec.error()));
      return *vec ? Value::empty() : Value::blob({});
    }
    switch (type.id) {
      case TypeId::Ascii:
        if (!valid_ascii(bytes)) return bad(type, "has a byte above 0x7f");
        return Value::text(std::string(as_chars(bytes)));
      case TypeId::Varchar:
        if (!valid_utf8(bytes)) return bad(type, "is not valid UTF-8");
        return Value::text(std::string(as_chars(bytes)));
      case TypeId::Blob:
        return Value::blob(Bytes(bytes.begin(), bytes.end()));
      case TypeId::Boolean:
        if (auto r = fixed(type, bytes, 1); !r) return tl::unexpected(std::move(r.error()));
        return Value::boolean(bytes[0] != 0);
      case TypeId::Tinyint:
        if (auto r = fixed(type, bytes, 1); !r) return tl::unexpected(std::move(r.error()));
        return Value::tinyint(static_cast<int8_t>(bytes[0]));
      case TypeId::Smallint:
        if (auto r = fixed(type, bytes, 2); !r) return tl::unexpected(std::move(r.error()));
        return Value::smallint(static_cast<int16_t>(load_be16(bytes.data())));
      case TypeId::Int:
        if (auto r = fixed(type, bytes, 4); !r) return tl::unexpected(std::move(r.error()));
        return Value::int32(static_cast<int32_t>(load_be32(bytes.data())));
      case TypeId::Date:
        if (auto r = fixed(type, bytes, 4); !r) return tl::unexpected(std::move(r.error()));
        return Value::date(load_be32(bytes.data()));
      case TypeId::Float:
        if (auto r = fixed(type, bytes, 4); !r) return tl::unexpected(std::move(r.error()));
        return Value::float32(std::bit_cast<float>(load_be32(bytes.data())));
      case TypeId::Bigint:
      case TypeId::Counter:
      case TypeId::Timestamp:
        if (auto r = fixed(type, bytes, 8); !r) return tl::unexpected(std::move(r.error()));
        return Value::int64(static_cast<int64_t>(load_be64(bytes)));
      case TypeId::Time: {
        if (auto r = fixed(type, bytes, 8); !r) return tl::unexpected(std::move(r.error()));
        auto nanos = static_cast<int64_t>(load_be64(bytes));
        if (nanos < 0 || nanos > kMaxTimeOfDay) {
          return bad(type, fmt::format("{} ns is outside 0..{}", nanos, kMaxTimeOfDay));
        }
        return Value::int64(nanos);
      }
      case TypeId::Double:
        if (auto r = fixed(type, bytes, 8); !r) return tl::unexpected(std::move(r.error()));
        return Value::float64(std::bit_cast<double>(load_be64(bytes)));
      case TypeId::Uuid:
      case TypeId::Timeuuid: {
        if (auto r = fixed(type, bytes, 16); !r) return tl::unexpected(std::move(r.error()));
        Uuid u;
        std::memcpy(u.data(), bytes.data(), 16);
        if (type.id == TypeId::Timeuuid && !is_time_uuid(u)) {
          return bad(type, fmt::format("has version {}, not 1", u[6] >> 4));
        }
        return Value::uuid(u);
      }
      case TypeId::Inet: {
        auto a = InetAddress::from_bytes(bytes);
        if (!a) return bad(type, fmt::format("has {} bytes, not 4 or 16", bytes.size()));
        return Value::inet(*a);
      }
      case TypeId::Varint:
        return Value::varint(Varint::from_twos_complement(bytes));
      case TypeId::Decimal: {
        if (bytes.size() < 5) {
          return bad(type, fmt::format("has {} bytes; needs a 4-byte scale and an unscaled value",
                                       bytes.size()));
        }
        Decimal d;
        d.scale = static_cast<int32_t>(load_be32(bytes.data()));
        d.unscaled = Varint::from_twos_complement(bytes.subspan(4));
        return Value::decimal(std::move(d));
      }
      case TypeId::Duration:
        return decode_duration(type, bytes);
      case TypeId::List:
      case TypeId::Set:
        return decode_list(type, bytes, depth);
      case TypeId::Map:
        return decode_map(type, bytes, depth);
      case TypeId::Tuple:
      case TypeId::Udt:
        return decode_fields(type, bytes, depth);
      case TypeId::Custom: {
        auto vec = vector_info(type);
        if (!vec) return tl::unexpected(std::move(vec.error()));
        if (*vec) return decode_vector(**vec, bytes, depth);
        return Value::blob(Bytes(bytes.begin(), bytes.end()));
      }
    }
    return fail(Errc::Unsupported, fmt::format("cannot decode a value of unknown type id 0x{:04x}",
                                               static_cast<uint16_t>(type.id)));
  }

 private:
  static uint64_t load_be64(ByteView b) {
    return (uint64_t{load_be32(b.data())} << 32) | load_be32(b.data() + 4);
  }

  [[gnu::cold]] static tl::unexpected<Error> bad(const DataType& type, std::string_view what) {
    return fail(Errc::Malformed, fmt::format("{} value {}", type_name(type), what));
  }

  static Result<void> fixed(const DataType& type, ByteView bytes, size_t size) {
    if (bytes.size() != size) {
      return bad(type, fmt::format("has {} bytes, expected {}", bytes.size(), size));
    }
    return {};
  }

  Result<Value> decode_duration(const DataType& type, ByteView bytes) {
    ByteReader r(bytes);
    int64_t parts[3];
    for (auto& p : parts) {
      auto v = r.read_vint();
      if (!v) return bad(type, fmt::format("is truncated: {}", v.error().message));
      p = *v;
    }
    if (!r.empty()) return bad(type, fmt::format("has {} bytes after its 3 vints", r.remaining()));
    for (int i = 0; i < 2; ++i) {
      if (parts[i] < INT32_MIN || parts[i] > INT32_MAX) {
        return bad(type,
                   fmt::format("{} {} do not fit 32 bits", parts[i], i == 0 ? "months" : "days"));
      }
    }
    Duration d{static_cast<int32_t>(parts[0]), static_cast<int32_t>(parts[1]), parts[2]};
    if (!duration_signs_agree(d)) {
      return bad(type, fmt::format("mixes signs ({} months, {} days, {} ns)", d.months, d.days,
                                   d.nanoseconds));
    }
    return Value::duration(d);
  }

  // [int] count, checked against the bytes left (each item needs at least min_item_size).
  static Result<size_t> read_count(const DataType& type, ByteReader& r, size_t min_item_size) {
    auto n = r.read_i32();
    if (!n) return bad(type, "is truncated before its element count");
    if (*n < 0) return bad(type, fmt::format("has a negative element count {}", *n));
    auto count = static_cast<size_t>(*n);
    if (count > r.remaining() / min_item_size) {
      return fail(Errc::Truncated,
                  fmt::format("{} value announces {} elements but only {} bytes follow",
                              type_name(type), count, r.remaining()));
    }
    return count;
  }

  // One collection element: [bytes], never null.
  Result<Value> read_element(const DataType& owner, const DataType& elem, ByteReader& r,
                             size_t index, std::string_view role, int depth) {
    auto b = r.read_bytes();
    if (!b) {
      return fail(b.error().code, fmt::format("{} value, {} {}: {}", type_name(owner), role, index,
                                              b.error().message));
    }
    if (!*b) return bad(owner, fmt::format("has a null {} at index {}", role, index));
    auto v = decode(elem, **b, depth + 1);
    if (!v) {
      v.error().message = fmt::format("{} {}: {}", role, index, v.error().message);
    }
    return v;
  }

  Result<Value> decode_list(const DataType& type, ByteView bytes, int depth) {
    if (type.params.size() != 1) return bad(type, "has a collection type without one element type");
    ByteReader r(bytes);
    auto count = read_count(type, r, 4);
    if (!count) return tl::unexpected(std::move(count.error()));
    Value::Elements items;
    items.reserve(*count);
    for (size_t i = 0; i < *count; ++i) {
      auto v = read_element(type, type.params[0], r, i, "element", depth);
      if (!v) return v;
      items.push_back(std::move(*v));
    }
    if (!r.empty())
      return bad(type, fmt::format("has {} bytes after its last element", r.remaining()));
    return Value::elements(std::move(items));
  }

  Result<Value> decode_map(const DataType& type, ByteView bytes, int depth) {
    if (type.params.size() != 2) return bad(type, "has a map type without key and value types");
    ByteReader r(bytes);
    auto count = read_count(type, r, 8);
    if (!count) return tl::unexpected(std::move(count.error()));
    Value::Entries entries;
    entries.reserve(*count);
    for (size_t i = 0; i < *count; ++i) {
      auto k = read_element(type, type.params[0], r, i, "key", depth);
      if (!k) return k;
      auto v = read_element(type, type.params[1], r, i, "value", depth);
      if (!v) return v;
      entries.emplace_back(std::move(*k), std::move(*v));
    }
    if (!r.empty())
      return bad(type, fmt::format("has {} bytes after its last entry", r.remaining()));
    return Value::entries(std::move(entries));
  }

  // Tuple and UDT: [bytes] per field in type order, null allowed; trailing fields may be absent.
  Result<Value> decode_fields(const DataType& type, ByteView bytes, int depth) {
    ByteReader r(bytes);
    Value::Elements fields;
    for (size_t i = 0; !r.empty(); ++i) {
      if (i == type.params.size()) {
        return bad(type, fmt::format("has {} bytes after its {} fields", r.remaining(), i));
      }
      auto b = r.read_bytes();
      if (!b) {
        return fail(b.error().code,
                    fmt::format("{} value, field {}: {}", type_name(type), i, b.error().message));
      }
      if (!*b) {
        fields.push_back(Value::null());
        continue;
      }
      auto v = decode(type.params[i], **b, depth + 1);
      if (!v) {
        v.error().message = fmt::format("field {}: {}", i, v.error().message);
        return v;
      }
      fields.push_back(std::move(*v));
    }
    return Value::elements(std::move(fields));
  }

  Result<Value> decode_vector(const VectorInfo& vec, ByteView bytes, int depth) {
    DataType type = vector_type(vec.element, vec.dimension);
    Value::Elements items;
    if (auto size = fixed_value_size(vec.element)) {
      if (bytes.size() / *size != vec.dimension || bytes.size() % *size != 0) {
        return bad(type, fmt::format("has {} bytes, expected {} elements of {} bytes", bytes.size(),
                                     vec.dimension, *size));
      }
      items.reserve(vec.dimension);
      for (size_t i = 0; i < vec.dimension; ++i) {
        auto v = decode(vec.element, bytes.subspan(i * *size, *size), depth + 1);
        if (!v) return v;
        items.push_back(std::move(*v));
      }
      return Value::elements(std::move(items));
    }
    ByteReader r(bytes);
    if (vec.dimension > r.remaining()) {
      return fail(Errc::Truncated, fmt::format("{} value needs {} elements but has only {} bytes",
                                               type_name(type), vec.dimension, r.remaining()));
    }
    items.reserve(vec.dimension);
    for (size_t i = 0; i < vec.dimension; ++i) {
      auto len = r.read_unsigned_vint();
      if (!len)
        return fail(Errc::Truncated, fmt::format("{} value, element {}: {}", type_name(type), i,
                                                 len.error().message));
      if (*len > r.remaining()) {
        return fail(Errc::Truncated,
                    fmt::format("{} value, element {}: length {} exceeds the {} bytes left",
                                type_name(type), i, *len, r.remaining()));
      }
      auto raw = r.read_raw(static_cast<size_t>(*len));
      if (!raw) return tl::unexpected(std::move(raw.error()));
      auto v = decode(vec.element, *raw, depth + 1);
      if (!v) return v;
      items.push_back(std::move(*v));
    }
    if (!r.empty())
      return bad(type, fmt::format("has {} bytes after its last element", r.remaining()));
    return Value::elements(std::move(items));
  }

  [[maybe_unused]] ProtocolVersion version_;
};

// ---- encoding ------------------------------------------------------------------------------

class Encoder {
 public:
  explicit Encoder(ProtocolVersion version) : version_(version) {}

  Result<void> encode(const DataType& type, const Value& value, ByteWriter& w, int depth) {
    if (depth > kMaxValueDepth) {
      return fail(Errc::InvalidArgument,
                  fmt::format("value nesting exceeds {} levels", kMaxValueDepth));
    }
    if (value.is_null()) {
      return fail(Errc::InvalidArgument,
                  fmt::format("a null {} has no value bytes; write a [bytes] length of -1",
                              type_name(type)));
    }
    if (value.is_empty()) return {};
    switch (type.id) {
      case TypeId::Ascii:
      case TypeId::Varchar: {
        const std::string* s = value.get_if<std::string>();
        if (s == nullptr) return mismatch(type, value);
        if (type.id == TypeId::Ascii ? !valid_ascii(as_bytes(*s)) : !valid_utf8(as_bytes(*s))) {
          return fail(
              Errc::InvalidArgument,
              fmt::format("string is not valid {}", type.id == TypeId::Ascii ? "ascii" : "UTF-8"));
        }
        w.write_raw(as_bytes(*s));
        return {};
      }
      case TypeId::Blob:
        if (const Bytes* b = value.get_if<Bytes>()) {
          w.write_raw(*b);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Boolean:
        if (const bool* b = value.get_if<bool>()) {
          w.write_u8(*b ? 1 : 0);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Tinyint:
        if (const int8_t* v = value.get_if<int8_t>()) {
          w.write_i8(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Smallint:
        if (const int16_t* v = value.get_if<int16_t>()) {
          w.write_i16(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Int:
        if (const int32_t* v = value.get_if<int32_t>()) {
          w.write_i32(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Date:
        if (const uint32_t* v = value.get_if<uint32_t>()) {
          w.write_u32(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Bigint:
      case TypeId::Counter:
      case TypeId::Timestamp:
      case TypeId::Time:
        if (const int64_t* v = value.get_if<int64_t>()) {
          if (type.id == TypeId::Time && (*v < 0 || *v > kMaxTimeOfDay)) {
            return fail(Errc::InvalidArgument,
                        fmt::format("time {} ns is outside 0..{}", *v, kMaxTimeOfDay));
          }
          w.write_i64(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Float:
        if (const float* v = value.get_if<float>()) {
          w.write_float(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Double:
        if (const double* v = value.get_if<double>()) {
          w.write_double(*v);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Uuid:
      case TypeId::Timeuuid:
        if (const Uuid* u = value.get_if<Uuid>()) {
          if (type.id == TypeId::Timeuuid && !is_time_uuid(*u)) {
            return fail(Errc::InvalidArgument,
                        fmt::format("timeuuid has version {}, not 1", (*u)[6] >> 4));
          }
          w.write_uuid(*u);
          return {};
        }
        return mismatch(type, value);
      case TypeId::Inet:
        if (const InetAddress* a = value.get_if<InetAddress>()) {
          if (a->size != 4 && a->size != 16) {
            return fail(Errc::InvalidArgument, fmt::format("inet of {} bytes", a->size));
          }
          w.write_raw(a->view());
          return {};
        }
        return mismatch(type, value);
      case TypeId::Varint:
        if (const Varint* v = value.get_if<Varint>()) {
          w.write_raw(v->bytes());
          return {};
        }
        return mismatch(type, value);
      case TypeId::Decimal:
        if (const Decimal* d = value.get_if<Decimal>()) {
          w.write_i32(d->scale);
          w.write_raw(d->unscaled.bytes());
          return {};
        }
        return mismatch(type, value);
      case TypeId::Duration:
        if (const Duration* d = value.get_if<Duration>()) {
          if (!duration_signs_agree(*d)) {
            return fail(Errc::InvalidArgument,
                        fmt::format("duration mixes signs ({} months, {} days, {} ns)", d->months,
                                    d->days, d->nanoseconds));
          }
          w.write_vint(d->months);
          w.write_vint(d->days);
          w.write_vint(d->nanoseconds);
          return {};
        }
        return mismatch(type, value);
      case TypeId::List:
      case TypeId::Set:
        return encode_list(type, value, w, depth);
      case TypeId::Map:
        return encode_map(type, value, w, depth);
      case TypeId::Tuple:
      case TypeId::Udt:
        return encode_fields(type, value, w, depth);
      case TypeId::Custom: {
        auto vec = vector_info(type);
        if (!vec) return tl::unexpected(std::move(vec.error()));
        if (*vec) return encode_vector(**vec, value, w, depth);
        if (const Bytes* b = value.get_if<Bytes>()) {
          w.write_raw(*b);
          return {};
        }
        return mismatch(type, value);
      }
    }
    return fail(Errc::Unsupported, fmt::format("cannot encode a value of unknown type id 0x{:04x}",
                                               static_cast<uint16_t>(type.id)));
  }

 private:
  [[gnu::cold]] static tl::unexpected<Error> mismatch(const DataType& type, const Value& value) {
    return fail(Errc::InvalidArgument, fmt::format("a {} value cannot be encoded as {}",
                                                   value_kind_name(value.kind()), type_name(type)));
  }

  static Result<void> write_count(const DataType& type, size_t n, ByteWriter& w) {
    if (n > static_cast<size_t>(INT32_MAX)) {
      return fail(
          Errc::InvalidArgument,
          fmt::format("{} value has {} elements, more than an [int] holds", type_name(type), n));
    }
    w.write_i32(static_cast<int32_t>(n));
    return {};
  }

  // [bytes] around one element; nulls only where allowed.
  Result<void> write_item(const DataType& type, const Value& v, ByteWriter& w, int depth,
                          bool null_allowed, std::string_view role, size_t index) {
    if (v.is_null()) {
      if (!null_allowed) {
        return fail(Errc::InvalidArgument,
                    fmt::format("null {} {} is not allowed in a collection", role, index));
      }
      w.write_i32(-1);
      return {};
    }
    size_t at = w.size();
    w.write_i32(0);
    auto r = encode(type, v, w, depth + 1);
    if (!r) {
      r.error().message = fmt::format("{} {}: {}", role, index, r.error().message);
      return r;
    }
    size_t len = w.size() - at - 4;
    if (len > static_cast<size_t>(INT32_MAX)) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{} {} is larger than 2^31-1 bytes", role, index));
    }
    w.patch_u32(at, static_cast<uint32_t>(len));
    return {};
  }

  Result<void> encode_list(const DataType& type, const Value& value, ByteWriter& w, int depth) {
    const auto* items = value.get_if<Value::Elements>();
    if (items == nullptr) return mismatch(type, value);
    if (type.params.size() != 1) {
      return fail(Errc::InvalidArgument, "collection type without one element type");
    }
    if (auto r = write_count(type, items->size(), w); !r) return r;
    for (size_t i = 0; i < items->size(); ++i) {
      if (auto r = write_item(type.params[0], (*items)[i], w, depth, false, "element", i); !r)
        return r;
    }
    return {};
  }

  Result<void> encode_map(const DataType& type, const Value& value, ByteWriter& w, int depth) {
    const auto* entries = value.get_if<Value::Entries>();
    if (entries == nullptr) return mismatch(type, value);
    if (type.params.size() != 2) {
      return fail(Errc::InvalidArgument, "map type without key and value types");
    }
    if (auto r = write_count(type, entries->size(), w); !r) return r;
    for (size_t i = 0; i < entries->size(); ++i) {
      const auto& [k, v] = (*entries)[i];
      if (auto r = write_item(type.params[0], k, w, depth, false, "key", i); !r) return r;
      if (auto r = write_item(type.params[1], v, w, depth, false, "value", i); !r) return r;
    }
    return {};
  }

  Result<void> encode_fields(const DataType& type, const Value& value, ByteWriter& w, int depth) {
    const auto* fields = value.get_if<Value::Elements>();
    if (fields == nullptr) return mismatch(type, value);
    if (fields->size() > type.params.size()) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{} value has {} fields, the type has {}", type_name(type),
                              fields->size(), type.params.size()));
    }
    for (size_t i = 0; i < fields->size(); ++i) {
      if (auto r = write_item(type.params[i], (*fields)[i], w, depth, true, "field", i); !r)
        return r;
    }
    return {};
  }

  Result<void> encode_vector(const VectorInfo& vec, const Value& value, ByteWriter& w, int depth) {
    const auto* items = value.get_if<Value::Elements>();
    DataType type = vector_type(vec.element, vec.dimension);
    if (items == nullptr) return mismatch(type, value);
    if (items->size() != vec.dimension) {
      return fail(Errc::InvalidArgument,
                  fmt::format("{} value has {} elements", type_name(type), items->size()));
    }
    auto size = fixed_value_size(vec.element);
    Bytes scratch;
    for (size_t i = 0; i < items->size(); ++i) {
      const Value& item = (*items)[i];
      if (item.is_null()) {
        return fail(Errc::InvalidArgument, fmt::format("null element {} in a vector", i));
      }
      if (size) {
        size_t before = w.size();
        if (auto r = encode(vec.element, item, w, depth + 1); !r) return r;
        if (w.size() - before != *size) {
          return fail(Errc::InvalidArgument,
                      fmt::format("vector element {} has {} bytes, expected {}", i,
                                  w.size() - before, *size));
        }
        continue;
      }
      scratch.clear();
      ByteWriter sw(scratch);
      if (auto r = encode(vec.element, item, sw, depth + 1); !r) return r;
      w.write_unsigned_vint(scratch.size());
      w.write_raw(scratch);
    }
    return {};
  }

  [[maybe_unused]] ProtocolVersion version_;
};

}  // namespace

Result<Value> decode_value(const DataType& type, ByteView bytes, ProtocolVersion version) {
  return Decoder(version).decode(type, bytes, 0);
}

Result<void> encode_value(const DataType& type, const Value& value, Bytes& out,
                          ProtocolVersion version) {
  ByteWriter w(out);
  return Encoder(version).encode(type, value, w, 0);
}

std::optional<size_t> fixed_value_size(const DataType& type) {
  switch (type.id) {
    case TypeId::Boolean:
      return 1;
    case TypeId::Int:
    case TypeId::Float:
      return 4;
    case TypeId::Bigint:
    case TypeId::Double:
    case TypeId::Timestamp:
      return 8;
    case TypeId::Uuid:
    case TypeId::Timeuuid:
      return 16;
    case TypeId::Custom: {
      auto vec = vector_info(type);
      if (!vec || !*vec) return std::nullopt;
      auto element = fixed_value_size((*vec)->element);
      if (!element || *element > std::numeric_limits<size_t>::max() / (*vec)->dimension) {
        return std::nullopt;
      }
      return *element * (*vec)->dimension;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace zdm::protocol
