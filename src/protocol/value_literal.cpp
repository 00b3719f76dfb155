#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

// CQL literal text of values (to_cql_literal): the node's and the migrator's statements, the
// proxy's replaced functions.

namespace zdm::protocol {

// ---- CQL literals --------------------------------------------------------------------------

namespace {

std::string quote_text(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  out.push_back('\'');
  return out;
}

std::string uuid_text(const Uuid& u) {
  std::string hex = to_hex(u);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

// Shortest digits that read back to the same value, laid out as Python's repr() does:
// positional for decimal exponents -4..15 (with ".0" when integral), else d.ddde+XX.
template <class F>
std::string float_text(F v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  constexpr int kMaxDigits = std::numeric_limits<F>::max_digits10;
  std::string sci;
  for (int p = 0; p < kMaxDigits; ++p) {
    sci = fmt::format("{:.{}e}", v, p);
    F back;
    if constexpr (sizeof(F) == 4) {
      back = std::strtof(sci.c_str(), nullptr);
    } else {
      back = std::strtod(sci.c_str(), nullptr);
    }
    if (back == v) break;
  }
  // sci is "[-]d[.ddd]e[+-]XX"
  bool negative = sci[0] == '-';
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0));
  int exponent = std::atoi(sci.c_str() + e_pos + 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else {
      auto int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

constexpr int32_t kMaxPositionalScale = 100;

std::string decimal_text(const Decimal& d) {
  std::string unscaled = d.unscaled.to_string();
  if (d.scale == 0) return unscaled;
  // Exponent form for negative scales and for scales so large that the zeros would dominate.
  if (d.scale < 0 || d.scale > kMaxPositionalScale) {
    return fmt::format("{}E{}", unscaled, -static_cast<int64_t>(d.scale));
  }
  bool negative = unscaled[0] == '-';
  std::string digits = negative ? unscaled.substr(1) : unscaled;
  auto scale = static_cast<size_t>(d.scale);
  if (digits.size() <= scale) digits.insert(0, scale + 1 - digits.size(), '0');
  return (negative ? "-" : "") + digits.substr(0, digits.size() - scale) + "." +
         digits.substr(digits.size() - scale);
}

std::string duration_text(const Duration& d) {
  bool negative = d.months < 0 || d.days < 0 || d.nanoseconds < 0;
  auto mag = [](int64_t v) {
    return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  };
  std::string out = negative ? "-" : "";
  if (d.months != 0) out += fmt::format("{}mo", mag(d.months));
  if (d.days != 0) out += fmt::format("{}d", mag(d.days));
  if (d.nanoseconds != 0 || (d.months == 0 && d.days == 0)) {
    out += fmt::format("{}ns", mag(d.nanoseconds));
  }
  return out;
}

// Gregorian date from days since 1970-01-01 (H. Hinnant's civil_from_days).
std::string date_text(uint32_t raw) {
  int64_t z = static_cast<int64_t>(raw) - static_cast<int64_t>(kDateEpoch) + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) ++y;
  if (y < 1 || y > 9999)
    return fmt::format("'{}'", raw);  // Cassandra reads digits as the raw value
  return fmt::format("'{:04d}-{:02d}-{:02d}'", y, month, day);
}

std::string time_text(int64_t nanos) {
  int64_t seconds = nanos / 1'000'000'000;
  return fmt::format("'{:02d}:{:02d}:{:02d}.{:09d}'", seconds / 3600, seconds / 60 % 60,
                     seconds % 60, nanos % 1'000'000'000);
}

std::string inet_text(const InetAddress& a) { return fmt::format("'{}'", a.to_string()); }

std::string field_name_text(std::string_view s) {
  bool plain = !s.empty() && std::islower(static_cast<unsigned char>(s[0])) != 0;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c)) == 0 &&
        std::isdigit(static_cast<unsigned char>(c)) == 0 && c != '_') {
      plain = false;
    }
  }
  if (plain) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  return out + "\"";
}

std::string literal(const Value& v, const DataType& t);

std::string join_elements(const Value::Elements& items, const DataType& elem, std::string_view open,
                          std::string_view close) {
  std::string out(open);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += literal(items[i], elem);
  }
  return out + std::string(close);
}

std::string literal(const Value& v, const DataType& t) {
  if (v.is_null()) return "null";
  if (v.is_empty()) {
    std::string name = format_cql_type(t);
    bool native = !t.is_collection() && t.id != TypeId::Tuple && t.id != TypeId::Udt &&
                  t.id != TypeId::Custom;
    if (!native) return "null";  // Cassandra treats an empty collection as null
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    return fmt::format("blobAs{}(0x)", name);
  }
  switch (t.id) {
    case TypeId::Ascii:
    case TypeId::Varchar:
      if (const auto* s = v.get_if<std::string>()) return quote_text(*s);
      break;
    case TypeId::Blob:
      if (const auto* b = v.get_if<Bytes>()) return "0x" + to_hex(*b);
      break;
    case TypeId::Boolean:
      if (const bool* b = v.get_if<bool>()) return *b ? "true" : "false";
      break;
    case TypeId::Tinyint:
      if (const auto* x = v.get_if<int8_t>()) return fmt::format("{}", *x);
      break;
    case TypeId::Smallint:
      if (const auto* x = v.get_if<int16_t>()) return fmt::format("{}", *x);
      break;
    case TypeId::Int:
      if (const auto* x = v.get_if<int32_t>()) return fmt::format("{}", *x);
      break;
    case TypeId::Bigint:
    case TypeId::Counter:
    case TypeId::Timestamp:
      if (const auto* x = v.get_if<int64_t>()) return fmt::format("{}", *x);
      break;
    case TypeId::Time:
      if (const auto* x = v.get_if<int64_t>()) return time_text(*x);
      break;
    case TypeId::Date:
      if (const auto* x = v.get_if<uint32_t>()) return date_text(*x);
      break;
    case TypeId::Float:
      if (const auto* x = v.get_if<float>()) return float_text(*x);
      break;
    case TypeId::Double:
      if (const auto* x = v.get_if<double>()) return float_text(*x);
      break;
    case TypeId::Uuid:
    case TypeId::Timeuuid:
      if (const auto* u = v.get_if<Uuid>()) return uuid_text(*u);
      break;
    case TypeId::Inet:
      if (const auto* a = v.get_if<InetAddress>()) return inet_text(*a);
      break;
    case TypeId::Varint:
      if (const auto* x = v.get_if<Varint>()) return x->to_string();
      break;
    case TypeId::Decimal:
      if (const auto* d = v.get_if<Decimal>()) return decimal_text(*d);
      break;
    case TypeId::Duration:
      if (const auto* d = v.get_if<Duration>()) return duration_text(*d);
      break;
    case TypeId::List:
      if (const auto* e = v.get_if<Value::Elements>(); e && t.params.size() == 1) {
        return join_elements(*e, t.params[0], "[", "]");
      }
      break;
    case TypeId::Set:
      if (const auto* e = v.get_if<Value::Elements>(); e && t.params.size() == 1) {
        return join_elements(*e, t.params[0], "{", "}");
      }
      break;
    case TypeId::Map:
      if (const auto* m = v.get_if<Value::Entries>(); m && t.params.size() == 2) {
        std::string out = "{";
        for (size_t i = 0; i < m->size(); ++i) {
          if (i > 0) out += ", ";
          out += literal((*m)[i].first, t.params[0]) + ": " + literal((*m)[i].second, t.params[1]);
        }
        return out + "}";
      }
      break;
    case TypeId::Tuple:
    case TypeId::Udt:
      if (const auto* f = v.get_if<Value::Elements>(); f && f->size() <= t.params.size()) {
        bool udt = t.id == TypeId::Udt;
        std::string out = udt ? "{" : "(";
        for (size_t i = 0; i < t.params.size(); ++i) {
          if (i > 0) out += ", ";
          if (udt) {
            out += field_name_text(i < t.field_names.size() ? t.field_names[i] : "") + ": ";
          }
          out += i < f->size() ? literal((*f)[i], t.params[i]) : "null";
        }
        return out + (udt ? "}" : ")");
      }
      break;
    case TypeId::Custom: {
      auto vec = vector_info(t);
      if (vec && *vec) {
        if (const auto* e = v.get_if<Value::Elements>()) {
          return join_elements(*e, (*vec)->element, "[", "]");
        }
        break;
      }
      if (const auto* b = v.get_if<Bytes>()) return "0x" + to_hex(*b);
      break;
    }
  }
  return fmt::format("/* {} value for {} */ null", value_kind_name(v.kind()), format_cql_type(t));
}

}  // namespace

std::string to_cql_literal(const Value& value, const DataType& type) {
  return literal(value, type);
}

}  // namespace zdm::protocol
