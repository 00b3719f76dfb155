// Literals by their receiver's type (the text of an integer, float, date, time, timestamp,
// duration, inet, uuid, blob, ... constant to the value's bytes, with Cassandra's messages), and
// validation of bound values by type.

#include <arpa/inet.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "node/cql/executor.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

namespace zdm::node::exec {

using protocol::TypeId;

namespace {

std::string type_name(const DataType& t) { return protocol::format_cql_type(t); }

Bytes be_bytes(uint64_t v, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[n - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
  return out;
}

std::optional<int64_t> parse_int64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string str(s);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(str.c_str(), &end, 10);
  if (errno != 0 || end != str.c_str() + str.size()) return std::nullopt;
  return static_cast<int64_t>(v);
}

// days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Cursor {
  std::string_view s;
  size_t pos = 0;
  bool done() const { return pos >= s.size(); }
  char peek() const { return done() ? '\0' : s[pos]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos;
    return true;
  }
  // Exactly n digits (n = 0: one or more).
  std::optional<int64_t> digits(size_t min, size_t max, size_t* count = nullptr) {
    int64_t v = 0;
    size_t n = 0;
    while (n < max && !done() && s[pos] >= '0' && s[pos] <= '9') {
      v = v * 10 + (s[pos] - '0');
      ++pos;
      ++n;
    }
    if (n < min) return std::nullopt;
    if (count != nullptr) *count = n;
    return v;
  }
};

// 'yyyy-mm-dd' -> days since epoch.
std::optional<int64_t> parse_date_part(Cursor& c) {
  bool negative = c.eat('-');
  auto y = c.digits(1, 9);
  if (!y || !c.eat('-')) return std::nullopt;
  auto m = c.digits(1, 2);
  if (!m || !c.eat('-')) return std::nullopt;
  auto d = c.digits(1, 2);
  if (!d || *m < 1 || *m > 12 || *d < 1 || *d > 31) return std::nullopt;
  return days_from_civil(negative ? -*y : *y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
}

// 'hh:mm[:ss[.fffffffff]]' -> nanoseconds of the day.
std::optional<int64_t> parse_time_part(Cursor& c, bool need_seconds) {
  auto h = c.digits(1, 2);
  if (!h || !c.eat(':')) return std::nullopt;
  auto mi = c.digits(1, 2);
  if (!mi) return std::nullopt;
  int64_t sec = 0;
  int64_t nanos = 0;
  if (c.eat(':')) {
    auto s = c.digits(1, 2);
    if (!s) return std::nullopt;
    sec = *s;
    if (c.eat('.')) {
      size_t n = 0;
      auto f = c.digits(1, 9, &n);
      if (!f) return std::nullopt;
      nanos = *f;
      for (size_t i = n; i < 9; ++i) nanos *= 10;
    }
  } else if (need_seconds) {
    return std::nullopt;
  }
  if (*h > 23 || *mi > 59 || sec > 59) return std::nullopt;
  return ((*h * 60 + *mi) * 60 + sec) * 1'000'000'000 + nanos;
}

std::optional<int64_t> parse_timestamp_text(std::string_view text) {
  Cursor c{text};
  auto days = parse_date_part(c);
  if (!days) return std::nullopt;
  int64_t nanos = 0;
  if (c.eat('T') || c.eat(' ')) {
    auto t = parse_time_part(c, false);
    if (!t) return std::nullopt;
    nanos = *t;
  }
  int64_t offset_minutes = 0;
  while (c.eat(' ')) {
  }
  if (c.eat('Z') || c.eat('z')) {
  } else if (c.peek() == '+' || c.peek() == '-') {
    const bool neg = c.peek() == '-';
    ++c.pos;
    auto hh = c.digits(2, 2);
    if (!hh) return std::nullopt;
    c.eat(':');
    auto mm = c.digits(0, 2);
    offset_minutes = *hh * 60 + (mm ? *mm : 0);
    if (neg) offset_minutes = -offset_minutes;
  } else if (text.size() >= c.pos + 3 && text.substr(c.pos) == "UTC") {
    c.pos += 3;
  }
  if (!c.done()) return std::nullopt;
  return *days * 86'400'000 + nanos / 1'000'000 - offset_minutes * 60'000;
}

std::optional<protocol::Duration> parse_duration(std::string_view text) {
  protocol::Duration d;
  Cursor c{text};
  const bool negative = c.eat('-');
  if (c.done()) return std::nullopt;
  while (!c.done()) {
    auto n = c.digits(1, 18);
    if (!n) return std::nullopt;
    std::string unit;
    while (!c.done() && !(c.peek() >= '0' && c.peek() <= '9'))
      unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c.s[c.pos++])));
    const int64_t v = *n;
    if (unit == "y")
      d.months += static_cast<int32_t>(v * 12);
    else if (unit == "mo")
      d.months += static_cast<int32_t>(v);
    else if (unit == "w")
      d.days += static_cast<int32_t>(v * 7);
    else if (unit == "d")
      d.days += static_cast<int32_t>(v);
    else if (unit == "h")
      d.nanoseconds += v * 3'600'000'000'000;
    else if (unit == "m")
      d.nanoseconds += v * 60'000'000'000;
    else if (unit == "s")
      d.nanoseconds += v * 1'000'000'000;
    else if (unit == "ms")
      d.nanoseconds += v * 1'000'000;
    else if (unit == "us" || unit == "\xc2\xb5s")
      d.nanoseconds += v * 1'000;
    else if (unit == "ns")
      d.nanoseconds += v;
    else
      return std::nullopt;
  }
  if (negative) {
    d.months = -d.months;
    d.days = -d.days;
    d.nanoseconds = -d.nanoseconds;
  }
  return d;
}

std::optional<protocol::Decimal> parse_decimal(std::string_view text) {
  std::string digits;
  int32_t scale = 0;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    if (text[i] == '-') digits += '-';
    ++i;
  }
  bool dot = false;
  bool any = false;
  for (; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      digits += ch;
      any = true;
      if (dot) ++scale;
    } else if (ch == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!any) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    auto exp = parse_int64(text.substr(i + 1));
    if (!exp) return std::nullopt;
    scale -= static_cast<int32_t>(*exp);
  } else if (i != text.size()) {
    return std::nullopt;
  }
  auto v = protocol::Varint::parse(digits);
  if (!v) return std::nullopt;
  return protocol::Decimal{scale, *v};
}

CqlResult<Bytes> encode_with(const DataType& type, const protocol::Value& v) {
  Bytes out;
  auto ok = protocol::encode_value(type, v, out, protocol::ProtocolVersion::V4);
  if (!ok) return invalid(ok.error().message);
  return out;
}

tl::unexpected<CqlError> bad_literal(const cql::Literal& l, const DataType& type) {
  if (l.kind == cql::LiteralKind::String) {
    return invalid(fmt::format("Unable to make {} from '{}'", type_name(type), l.text));
  }
  return invalid(fmt::format("Invalid {} constant ({}) for \"value\" of type {}",
                             l.kind == cql::LiteralKind::Integer   ? "INTEGER"
                             : l.kind == cql::LiteralKind::Float   ? "FLOAT"
                             : l.kind == cql::LiteralKind::Boolean ? "BOOLEAN"
                             : l.kind == cql::LiteralKind::Uuid    ? "UUID"
                             : l.kind == cql::LiteralKind::Blob    ? "HEX"
                                                                   : "DURATION",
                             l.text, type_name(type)));
}

}  // namespace

CqlResult<Bytes> literal_bytes(const cql::Literal& l, const DataType& type) {
  using K = cql::LiteralKind;
  const std::string& t = l.text;
  switch (type.id) {
    case TypeId::Ascii:
      if (l.kind != K::String) return bad_literal(l, type);
      for (char sc : t) {
        const auto ch = static_cast<unsigned char>(sc);
        if (ch > 127) return invalid(fmt::format("Invalid ASCII character in string literal"));
      }
      return Bytes(t.begin(), t.end());
    case TypeId::Varchar:
      if (l.kind != K::String) return bad_literal(l, type);
      return Bytes(t.begin(), t.end());
    case TypeId::Boolean:
      if (l.kind != K::Boolean && l.kind != K::String) return bad_literal(l, type);
      if (t == "true" || t == "TRUE" || t == "True") return Bytes{1};
      if (t == "false" || t == "FALSE" || t == "False") return Bytes{0};
      return bad_literal(l, type);
    case TypeId::Int:
    case TypeId::Bigint:
    case TypeId::Smallint:
    case TypeId::Tinyint:
    case TypeId::Counter: {
      if (l.kind != K::Integer && l.kind != K::String) return bad_literal(l, type);
      auto v = parse_int64(t);
      const size_t size = type.id == TypeId::Int        ? 4
                          : type.id == TypeId::Smallint ? 2
                          : type.id == TypeId::Tinyint  ? 1
                                                        : 8;
      if (!v) return bad_literal(l, type);
      if (size < 8) {
        const int64_t lim = int64_t{1} << (size * 8 - 1);
        if (*v < -lim || *v >= lim) {
          return invalid(fmt::format("Unable to make {} from '{}'", type_name(type), t));
        }
      }
      return be_bytes(static_cast<uint64_t>(*v), size);
    }
    case TypeId::Varint: {
      if (l.kind != K::Integer && l.kind != K::String) return bad_literal(l, type);
      auto v = protocol::Varint::parse(t);
      if (!v) return bad_literal(l, type);
      return v->bytes();
    }
    case TypeId::Float:
    case TypeId::Double: {
      if (l.kind != K::Integer && l.kind != K::Float && l.kind != K::String) {
        return bad_literal(l, type);
      }
      double d = 0;
      if (t == "NaN") {
        d = std::nan("");
      } else if (t == "Infinity" || t == "+Infinity") {
        d = INFINITY;
      } else if (t == "-Infinity") {
        d = -INFINITY;
      } else {
        char* end = nullptr;
        d = std::strtod(t.c_str(), &end);
        if (end != t.c_str() + t.size() || t.empty()) return bad_literal(l, type);
      }
      Bytes out;
      ByteWriter w(out);
      if (type.id == TypeId::Float) {
        w.write_float(static_cast<float>(d));
      } else {
        w.write_double(d);
      }
      return out;
    }
    case TypeId::Decimal: {
      if (l.kind != K::Integer && l.kind != K::Float && l.kind != K::String) {
        return bad_literal(l, type);
      }
      auto d = parse_decimal(t);
      if (!d) return bad_literal(l, type);
      return encode_with(type, protocol::Value::decimal(*d));
    }
    case TypeId::Timestamp: {
      if (l.kind == K::Integer) {
        auto v = parse_int64(t);
        if (!v) return bad_literal(l, type);
        return be_bytes(static_cast<uint64_t>(*v), 8);
      }
      if (l.kind != K::String) return bad_literal(l, type);
      if (auto v = parse_int64(t)) return be_bytes(static_cast<uint64_t>(*v), 8);
      auto ms = parse_timestamp_text(t);
      if (!ms) {
        return invalid(fmt::format("Unable to coerce '{}' to a formatted date (long)", t));
      }
      return be_bytes(static_cast<uint64_t>(*ms), 8);
    }
    case TypeId::Date: {
      if (l.kind == K::Integer) {
        auto v = parse_int64(t);
        if (!v || *v < 0 || *v > UINT32_MAX) return bad_literal(l, type);
        return be_bytes(static_cast<uint64_t>(*v), 4);
      }
      if (l.kind != K::String) return bad_literal(l, type);
      Cursor c{t};
      auto days = parse_date_part(c);
      if (!days || !c.done()) {
        return invalid(fmt::format("Unable to coerce '{}' to a formatted date (long)", t));
      }
      return be_bytes(static_cast<uint64_t>(*days + protocol::kDateEpoch) & 0xFFFFFFFFu, 4);
    }
    case TypeId::Time: {
      if (l.kind == K::Integer) {
        auto v = parse_int64(t);
        if (!v || *v < 0 || *v > protocol::kMaxTimeOfDay) return bad_literal(l, type);
        return be_bytes(static_cast<uint64_t>(*v), 8);
      }
      if (l.kind != K::String) return bad_literal(l, type);
      Cursor c{t};
      auto nanos = parse_time_part(c, true);
      if (!nanos || !c.done()) {
        return invalid(fmt::format("Unable to coerce '{}' to a formatted time (long)", t));
      }
      return be_bytes(static_cast<uint64_t>(*nanos), 8);
    }
    case TypeId::Uuid:
    case TypeId::Timeuuid: {
      if (l.kind != K::Uuid && l.kind != K::String) return bad_literal(l, type);
      auto u = uuid_from_string(t);
      if (!u) return bad_literal(l, type);
      if (type.id == TypeId::Timeuuid && uuid_version(*u) != 1) {
        return invalid(fmt::format("Unsupported UUID version for timeuuid: {}", t));
      }
      return Bytes(u->begin(), u->end());
    }
    case TypeId::Inet: {
      if (l.kind != K::String) return bad_literal(l, type);
      uint8_t buf[16];
      if (inet_pton(AF_INET, t.c_str(), buf) == 1) return Bytes(buf, buf + 4);
      if (inet_pton(AF_INET6, t.c_str(), buf) == 1) return Bytes(buf, buf + 16);
      return invalid(fmt::format("Unable to make inet address from '{}'", t));
    }
    case TypeId::Blob:
    case TypeId::Custom: {
      if (l.kind != K::Blob) return bad_literal(l, type);
      auto b = from_hex(t);
      if (!b) return bad_literal(l, type);
      return std::move(*b);
    }
    case TypeId::Duration: {
      if (l.kind != K::Duration && l.kind != K::String && l.kind != K::Integer) {
        return bad_literal(l, type);
      }
      auto d = parse_duration(t);
      if (!d) return invalid(fmt::format("Unable to convert '{}' to a duration", t));
      return encode_with(type, protocol::Value::duration(*d));
    }
    default:
      return bad_literal(l, type);
  }
}

CqlResult<void> validate_value(const DataType& type, ByteView bytes, const std::string& name) {
  size_t expected = 0;
  switch (type.id) {
    case TypeId::Int:
    case TypeId::Float:
    case TypeId::Date:
      expected = 4;
      break;
    case TypeId::Bigint:
    case TypeId::Counter:
    case TypeId::Double:
    case TypeId::Timestamp:
    case TypeId::Time:
      expected = 8;
      break;
    case TypeId::Smallint:
      expected = 2;
      break;
    case TypeId::Tinyint:
    case TypeId::Boolean:
      expected = 1;
      break;
    case TypeId::Uuid:
    case TypeId::Timeuuid:
      expected = 16;
      break;
    case TypeId::Varchar:
    case TypeId::Ascii:
    case TypeId::Blob:
    case TypeId::Varint:
      return {};
    default: {
      auto ok = protocol::decode_value(type, bytes, protocol::ProtocolVersion::V4);
      if (!ok) {
        return invalid(fmt::format("Invalid value for column {} of type {}: {}", name,
                                   type_name(type), ok.error().message));
      }
      return {};
    }
  }
  if (bytes.empty()) return {};  // Cassandra's legacy "empty" values
  if (bytes.size() != expected) {
    return invalid(fmt::format("Expected {} or 0 byte {} for {} ({})", expected,
                               expected == 4   ? "int"
                               : expected == 8 ? "long"
                                               : "value",
                               name, bytes.size()));
  }
  return {};
}

}  // namespace zdm::node::exec
