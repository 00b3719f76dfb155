#include <cstdlib>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "protocol/value.hpp"

// Varint: arbitrary-precision integers as Cassandra's varint (two's complement, big-endian).

namespace zdm::protocol {

// ---- Varint --------------------------------------------------------------------------------

namespace {

// Drops sign-extension bytes that do not change the value.
void normalize_twos_complement(Bytes& b) {
  size_t skip = 0;
  while (skip + 1 < b.size()) {
    bool redundant_zero = b[skip] == 0x00 && (b[skip + 1] & 0x80) == 0;
    bool redundant_ones = b[skip] == 0xFF && (b[skip + 1] & 0x80) != 0;
    if (!redundant_zero && !redundant_ones) break;
    ++skip;
  }
  b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(skip));
}

// In place two's complement negation of big-endian bytes.
void negate(Bytes& b) {
  unsigned carry = 1;
  for (size_t i = b.size(); i-- > 0;) {
    unsigned v = static_cast<unsigned>(static_cast<uint8_t>(~b[i])) + carry;
    b[i] = static_cast<uint8_t>(v);
    carry = v >> 8;
  }
}

}  // namespace

Varint Varint::from_int64(int64_t v) {
  Bytes b(8);
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    b[static_cast<size_t>(i)] = static_cast<uint8_t>(u);
    u >>= 8;
  }
  return from_twos_complement(b);
}

Varint Varint::from_twos_complement(ByteView bytes) {
  Varint v;
  if (bytes.empty()) return v;
  v.bytes_.assign(bytes.begin(), bytes.end());
  normalize_twos_complement(v.bytes_);
  return v;
}

Result<Varint> Varint::parse(std::string_view decimal) {
  bool negative = !decimal.empty() && decimal[0] == '-';
  std::string_view digits = negative ? decimal.substr(1) : decimal;
  if (digits.empty()) return fail(Errc::InvalidArgument, "varint text has no digits");
  Bytes magnitude{0};  // big-endian, with a leading zero byte kept for the sign
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return fail(Errc::InvalidArgument, fmt::format("varint text '{}' is not decimal", decimal));
    }
    unsigned carry = static_cast<unsigned>(c - '0');
    for (size_t i = magnitude.size(); i-- > 0;) {
      unsigned v = magnitude[i] * 10u + carry;
      magnitude[i] = static_cast<uint8_t>(v);
      carry = v >> 8;
    }
    if (carry != 0) magnitude.insert(magnitude.begin(), static_cast<uint8_t>(carry));
    if ((magnitude[0] & 0x80) != 0) magnitude.insert(magnitude.begin(), 0);
  }
  if (negative) negate(magnitude);
  return from_twos_complement(magnitude);
}

std::optional<int64_t> Varint::to_int64() const {
  if (bytes_.size() > 8) return std::nullopt;
  uint64_t u = is_negative() ? ~uint64_t{0} : 0;
  for (uint8_t b : bytes_) u = (u << 8) | b;
  return static_cast<int64_t>(u);
}

std::string Varint::to_string() const {
  Bytes magnitude;
  magnitude.reserve(bytes_.size() + 1);
  magnitude.push_back(is_negative() ? 0xFF : 0x00);
  magnitude.insert(magnitude.end(), bytes_.begin(), bytes_.end());
  if (is_negative()) negate(magnitude);
  std::string digits;
  size_t first = 0;  // index of the first non-zero byte
  while (true) {
    while (first < magnitude.size() && magnitude[first] == 0) ++first;
    if (first == magnitude.size()) break;
    unsigned rem = 0;
    for (size_t i = first; i < magnitude.size(); ++i) {
      unsigned cur = (rem << 8) | magnitude[i];
      magnitude[i] = static_cast<uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  if (digits.empty()) digits = "0";
  if (is_negative()) digits.push_back('-');
  return {digits.rbegin(), digits.rend()};
}

}  // namespace zdm::protocol
