#include "protocol/value_compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/timeuuid.hpp"

namespace zdm::protocol {

namespace {

int sign_of(int64_t v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

template <class T>
int three_way(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// Big-endian signed integer of exactly n bytes; callers check the size.
int64_t load_signed(ByteView v) {
  uint64_t u = (v[0] & 0x80) ? ~uint64_t{0} : 0;
  for (uint8_t byte : v) u = (u << 8) | byte;
  return static_cast<int64_t>(u);
}

uint64_t load_unsigned(ByteView v) {
  uint64_t u = 0;
  for (uint8_t byte : v) u = (u << 8) | byte;
  return u;
}

// Fixed-width signed integers; a value of the wrong width falls back to byte order after the
// well-formed ones.
int compare_fixed_signed(ByteView a, ByteView b, size_t width) {
  const bool a_ok = a.size() == width;
  const bool b_ok = b.size() == width;
  if (a_ok && b_ok) return three_way(load_signed(a), load_signed(b));
  if (a_ok != b_ok) return a_ok ? -1 : 1;
  return compare_unsigned_bytes(a, b);
}

// Java's Double.compare: -0.0 < 0.0 and NaN after everything, equal to itself.
int compare_java_double(double x, double y) {
  if (x < y) return -1;
  if (x > y) return 1;
  const bool xn = std::isnan(x);
  const bool yn = std::isnan(y);
  if (xn || yn) return xn == yn ? 0 : (xn ? 1 : -1);
  const bool xs = std::signbit(x);
  const bool ys = std::signbit(y);
  return xs == ys ? 0 : (xs ? -1 : 1);
}

int compare_float(ByteView a, ByteView b) {
  if (a.size() != 4 || b.size() != 4) return compare_fixed_signed(a, b, 4);
  uint32_t ua = load_be32(a.data());
  uint32_t ub = load_be32(b.data());
  float fa;
  float fb;
  std::memcpy(&fa, &ua, 4);
  std::memcpy(&fb, &ub, 4);
  return compare_java_double(static_cast<double>(fa), static_cast<double>(fb));
}

int compare_double(ByteView a, ByteView b) {
  if (a.size() != 8 || b.size() != 8) return compare_fixed_signed(a, b, 8);
  uint64_t ua = load_unsigned(a);
  uint64_t ub = load_unsigned(b);
  double da;
  double db;
  std::memcpy(&da, &ua, 8);
  std::memcpy(&db, &ub, 8);
  return compare_java_double(da, db);
}

// Drops redundant sign-extension bytes of a two's complement big-endian integer.
ByteView strip_sign_extension(ByteView v) {
  size_t i = 0;
  while (i + 1 < v.size()) {
    const bool redundant =
        (v[i] == 0x00 && (v[i + 1] & 0x80) == 0) || (v[i] == 0xFF && (v[i + 1] & 0x80) != 0);
    if (!redundant) break;
    ++i;
  }
  return v.subspan(i);
}

// Numeric order of two non-empty varints (two's complement, big-endian, any length).
int compare_varint(ByteView a, ByteView b) {
  const bool a_neg = (a[0] & 0x80) != 0;
  const bool b_neg = (b[0] & 0x80) != 0;
  if (a_neg != b_neg) return a_neg ? -1 : 1;
  a = strip_sign_extension(a);
  b = strip_sign_extension(b);
  if (a.size() != b.size()) {
    // Same sign: more significant bytes means a larger magnitude.
    const int longer = a.size() > b.size() ? 1 : -1;
    return a_neg ? -longer : longer;
  }
  // Same sign and width: two's complement orders like unsigned.
  return compare_unsigned_bytes(a, b);
}

// Unsigned magnitude as little-endian 32-bit limbs.
using Magnitude = std::vector<uint32_t>;

Magnitude magnitude_of(ByteView v, bool negative) {
  std::vector<uint8_t> bytes(v.begin(), v.end());
  if (negative) {
    // Two's complement negation: invert and add one.
    for (auto& byte : bytes) byte = static_cast<uint8_t>(~byte);
    for (size_t i = bytes.size(); i-- > 0;) {
      if (++bytes[i] != 0) break;
    }
  }
  Magnitude m((bytes.size() + 3) / 4, 0);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const size_t from_low = bytes.size() - 1 - i;
    m[from_low / 4] |= uint32_t{bytes[i]} << (8 * (from_low % 4));
  }
  while (!m.empty() && m.back() == 0) m.pop_back();
  return m;
}

void multiply_small(Magnitude& m, uint32_t factor) {
  uint64_t carry = 0;
  for (auto& limb : m) {
    const uint64_t product = uint64_t{limb} * factor + carry;
    limb = static_cast<uint32_t>(product);
    carry = product >> 32;
  }
  if (carry != 0) m.push_back(static_cast<uint32_t>(carry));
}

int compare_magnitude(const Magnitude& a, const Magnitude& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

int64_t bit_length(const Magnitude& m) {
  if (m.empty()) return 0;
  int64_t bits = static_cast<int64_t>(m.size() - 1) * 32;
  uint32_t top = m.back();
  while (top != 0) {
    ++bits;
    top >>= 1;
  }
  return bits;
}

// decimal: [int scale][varint unscaled], value = unscaled * 10^-scale.
int compare_decimal(ByteView a, ByteView b) {
  if (a.size() < 5 || b.size() < 5) {
    if ((a.size() < 5) != (b.size() < 5)) return a.size() < 5 ? 1 : -1;
    return compare_unsigned_bytes(a, b);
  }
  const int64_t scale_a = static_cast<int32_t>(load_be32(a.data()));
  const int64_t scale_b = static_cast<int32_t>(load_be32(b.data()));
  ByteView ua = a.subspan(4);
  ByteView ub = b.subspan(4);
  const bool a_neg = (ua[0] & 0x80) != 0;
  const bool b_neg = (ub[0] & 0x80) != 0;
  Magnitude ma = magnitude_of(ua, a_neg);
  Magnitude mb = magnitude_of(ub, b_neg);
  const int sa = ma.empty() ? 0 : (a_neg ? -1 : 1);
  const int sb = mb.empty() ? 0 : (b_neg ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  // Same sign: compare magnitudes |ua| * 10^-scale_a and |ub| * 10^-scale_b. First by decimal
  // exponent estimated from bit lengths (digits within +-1), so huge scale gaps need no big
  // multiplication; otherwise bring both to the same scale (a bounded number of digits).
  constexpr double kLog10Of2 = 0.30102999566398120;
  const double exp_a =
      static_cast<double>(bit_length(ma)) * kLog10Of2 - static_cast<double>(scale_a);
  const double exp_b =
      static_cast<double>(bit_length(mb)) * kLog10Of2 - static_cast<double>(scale_b);
  int magnitude_order;
  if (exp_a > exp_b + 2.0) {
    magnitude_order = 1;
  } else if (exp_b > exp_a + 2.0) {
    magnitude_order = -1;
  } else {
    Magnitude& smaller_scale = scale_a < scale_b ? ma : mb;
    int64_t shift = scale_a < scale_b ? scale_b - scale_a : scale_a - scale_b;
    while (shift >= 9) {
      multiply_small(smaller_scale, 1000000000u);
      shift -= 9;
    }
    while (shift-- > 0) multiply_small(smaller_scale, 10u);
    magnitude_order = compare_magnitude(ma, mb);
  }
  return sa > 0 ? magnitude_order : -magnitude_order;
}

// Cassandra's UUIDType: version first; version 1 by timestamp; then all bytes unsigned.
int compare_uuid(ByteView a, ByteView b) {
  if (a.size() != 16 || b.size() != 16) {
    if ((a.size() == 16) != (b.size() == 16)) return a.size() == 16 ? -1 : 1;
    return compare_unsigned_bytes(a, b);
  }
  const int va = a[6] >> 4;
  const int vb = b[6] >> 4;
  if (va != vb) return va < vb ? -1 : 1;
  if (va == 1) {
    // Timestamp bytes from most to least significant: time_hi (low nibble of 6, 7), time_mid
    // (4, 5), time_low (0..3).
    static constexpr int kOrder[] = {6, 7, 4, 5, 0, 1, 2, 3};
    for (int i : kOrder) {
      const size_t at = static_cast<size_t>(i);
      const int x = at == 6 ? (a[at] & 0x0F) : a[at];
      const int y = at == 6 ? (b[at] & 0x0F) : b[at];
      if (x != y) return x < y ? -1 : 1;
    }
  }
  return compare_unsigned_bytes(a, b);
}

int compare_timeuuid_values(ByteView a, ByteView b) {
  if (a.size() != 16 || b.size() != 16) {
    if ((a.size() == 16) != (b.size() == 16)) return a.size() == 16 ? -1 : 1;
    return compare_unsigned_bytes(a, b);
  }
  Uuid ua;
  Uuid ub;
  std::copy(a.begin(), a.end(), ua.begin());
  std::copy(b.begin(), b.end(), ub.begin());
  return sign_of(compare_timeuuid(ua, ub));
}

// Reads one [int]-length-prefixed component; nullopt component when the length is negative.
struct Component {
  bool present = false;  // false: the input ended
  bool null = false;
  ByteView bytes;
};

Component next_component(ByteReader& r) {
  Component c;
  if (r.remaining() < 4) return c;
  auto n = r.read_i32();
  c.present = true;
  if (*n < 0) {
    c.null = true;
    return c;
  }
  auto body = r.read_raw(std::min(static_cast<size_t>(*n), r.remaining()));
  c.bytes = *body;
  return c;
}

// Tuples and UDTs: fields in order, each [int n][n bytes], n < 0 null (sorts first); a value
// with fewer fields sorts first.
int compare_fields(const std::vector<DataType>& types, ByteView a, ByteView b) {
  ByteReader ra(a);
  ByteReader rb(b);
  for (size_t i = 0;; ++i) {
    Component ca = next_component(ra);
    Component cb = next_component(rb);
    if (!ca.present || !cb.present) {
      if (ca.present != cb.present) return ca.present ? 1 : -1;
      return 0;
    }
    if (ca.null || cb.null) {
      if (ca.null != cb.null) return ca.null ? -1 : 1;
      continue;
    }
    const DataType& t = i < types.size() ? types[i] : types.empty() ? DataType{} : types.back();
    const int c = compare_values(t, ca.bytes, cb.bytes);
    if (c != 0) return c;
  }
}

// Frozen collections: [int count] then elements ([int n][n bytes]); maps alternate key and
// value. Element-wise, then the shorter collection first.
int compare_collection(const DataType& type, ByteView a, ByteView b) {
  ByteReader ra(a);
  ByteReader rb(b);
  if (ra.remaining() < 4 || rb.remaining() < 4) return compare_unsigned_bytes(a, b);
  const int32_t na = *ra.read_i32();
  const int32_t nb = *rb.read_i32();
  const bool is_map = type.id == TypeId::Map;
  const int32_t per_entry = is_map ? 2 : 1;
  for (int64_t i = 0; i < static_cast<int64_t>(std::min(na, nb)) * per_entry; ++i) {
    Component ca = next_component(ra);
    Component cb = next_component(rb);
    if (!ca.present || !cb.present) {
      if (ca.present != cb.present) return ca.present ? 1 : -1;
      return 0;
    }
    const size_t param = is_map ? static_cast<size_t>(i % 2) : 0;
    const DataType element = param < type.params.size() ? type.params[param] : DataType{};
    const int c = compare_values(element, ca.bytes, cb.bytes);
    if (c != 0) return c;
  }
  return three_way(na, nb);
}

}  // namespace

int compare_unsigned_bytes(ByteView a, ByteView b) {
  const size_t n = std::min(a.size(), b.size());
  if (n != 0) {
    const int c = std::memcmp(a.data(), b.data(), n);
    if (c != 0) return c < 0 ? -1 : 1;
  }
  return three_way(a.size(), b.size());
}

int compare_values(const DataType& type, ByteView a, ByteView b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? -1 : 1);
  switch (type.id) {
    case TypeId::Tinyint:
      return compare_fixed_signed(a, b, 1);
    case TypeId::Smallint:
      return compare_fixed_signed(a, b, 2);
    case TypeId::Int:
      return compare_fixed_signed(a, b, 4);
    case TypeId::Bigint:
    case TypeId::Counter:
    case TypeId::Timestamp:
    case TypeId::Time:
      return compare_fixed_signed(a, b, 8);
    case TypeId::Date:
      if (a.size() == 4 && b.size() == 4)
        return three_way(load_be32(a.data()), load_be32(b.data()));
      return compare_unsigned_bytes(a, b);
    case TypeId::Varint:
      return compare_varint(a, b);
    case TypeId::Decimal:
      return compare_decimal(a, b);
    case TypeId::Float:
      return compare_float(a, b);
    case TypeId::Double:
      return compare_double(a, b);
    case TypeId::Uuid:
      return compare_uuid(a, b);
    case TypeId::Timeuuid:
      return compare_timeuuid_values(a, b);
    case TypeId::Tuple:
    case TypeId::Udt:
      return compare_fields(type.params, a, b);
    case TypeId::List:
    case TypeId::Set:
    case TypeId::Map:
      return compare_collection(type, a, b);
    case TypeId::Boolean:
    case TypeId::Ascii:
    case TypeId::Varchar:
    case TypeId::Blob:
    case TypeId::Inet:
    case TypeId::Duration:
    case TypeId::Custom:
      return compare_unsigned_bytes(a, b);
  }
  return compare_unsigned_bytes(a, b);
}

}  // namespace zdm::protocol
