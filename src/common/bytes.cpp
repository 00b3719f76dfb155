#include "common/bytes.hpp"

#include <bit>
#include <cstring>

#include <fmt/format.h>

namespace zdm {

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<Bytes> from_hex(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
  if (hex.size() % 2 != 0) return fail(Errc::Malformed, "hex string has an odd number of digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit(hex[2 * i]);
    int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return fail(Errc::Malformed, fmt::format("invalid hex digit near offset {}", 2 * i));
    }
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

tl::unexpected<Error> ByteReader::truncated(std::string_view what, size_t need) const {
  return fail(Errc::Truncated, fmt::format("{} needs {} bytes at offset {} but {} remain", what,
                                           need, pos_, remaining()));
}

Result<ByteView> ByteReader::read_raw(size_t n) {
  if (remaining() < n) return truncated("raw bytes", n);
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Result<void> ByteReader::skip(size_t n) {
  if (remaining() < n) return truncated("skip", n);
  pos_ += n;
  return {};
}

Result<uint8_t> ByteReader::read_u8() {
  if (remaining() < 1) return truncated("[byte]", 1);
  return data_[pos_++];
}

Result<int8_t> ByteReader::read_i8() {
  auto v = read_u8();
  if (!v) return tl::unexpected(std::move(v.error()));
  return static_cast<int8_t>(*v);
}

Result<uint16_t> ByteReader::read_u16() {
  if (remaining() < 2) return truncated("[short]", 2);
  uint16_t v = load_be16(data_.data() + pos_);
  pos_ += 2;
  return v;
}

Result<int16_t> ByteReader::read_i16() {
  auto v = read_u16();
  if (!v) return tl::unexpected(std::move(v.error()));
  return static_cast<int16_t>(*v);
}

Result<uint32_t> ByteReader::read_u32() {
  if (remaining() < 4) return truncated("[int]", 4);
  uint32_t v = load_be32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

Result<int32_t> ByteReader::read_i32() {
  auto v = read_u32();
  if (!v) return tl::unexpected(std::move(v.error()));
  return static_cast<int32_t>(*v);
}

Result<uint64_t> ByteReader::read_u64() {
  if (remaining() < 8) return truncated("[long]", 8);
  uint64_t v = (uint64_t{load_be32(data_.data() + pos_)} << 32) |
               uint64_t{load_be32(data_.data() + pos_ + 4)};
  pos_ += 8;
  return v;
}

Result<int64_t> ByteReader::read_i64() {
  auto v = read_u64();
  if (!v) return tl::unexpected(std::move(v.error()));
  return static_cast<int64_t>(*v);
}

Result<float> ByteReader::read_float() {
  auto v = read_u32();
  if (!v) return tl::unexpected(std::move(v.error()));
  return std::bit_cast<float>(*v);
}

Result<double> ByteReader::read_double() {
  auto v = read_u64();
  if (!v) return tl::unexpected(std::move(v.error()));
  return std::bit_cast<double>(*v);
}

Result<std::string_view> ByteReader::read_string() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (remaining() < *n) return truncated("[string] body", *n);
  std::string_view out(reinterpret_cast<const char*>(data_.data() + pos_), *n);
  pos_ += *n;
  return out;
}

Result<std::string_view> ByteReader::read_long_string() {
  auto n = read_i32();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (*n < 0) return fail(Errc::Malformed, fmt::format("[long string] has negative length {}", *n));
  auto len = static_cast<size_t>(*n);
  if (remaining() < len) return truncated("[long string] body", len);
  std::string_view out(reinterpret_cast<const char*>(data_.data() + pos_), len);
  pos_ += len;
  return out;
}

Result<Uuid> ByteReader::read_uuid() {
  if (remaining() < 16) return truncated("[uuid]", 16);
  Uuid out;
  std::memcpy(out.data(), data_.data() + pos_, 16);
  pos_ += 16;
  return out;
}

Result<std::vector<std::string_view>> ByteReader::read_string_list() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  // Each element takes at least 2 bytes: reject absurd counts before allocating.
  if (remaining() < size_t{*n} * 2) return truncated("[string list]", size_t{*n} * 2);
  std::vector<std::string_view> out;
  out.reserve(*n);
  for (uint16_t i = 0; i < *n; ++i) {
    auto s = read_string();
    if (!s) return tl::unexpected(std::move(s.error()));
    out.push_back(*s);
  }
  return out;
}

Result<std::optional<ByteView>> ByteReader::read_bytes() {
  auto n = read_i32();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (*n < 0) return std::optional<ByteView>{};
  auto len = static_cast<size_t>(*n);
  if (remaining() < len) return truncated("[bytes] body", len);
  ByteView out = data_.subspan(pos_, len);
  pos_ += len;
  return std::optional<ByteView>{out};
}

Result<ByteView> ByteReader::read_short_bytes() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (remaining() < *n) return truncated("[short bytes] body", *n);
  ByteView out = data_.subspan(pos_, *n);
  pos_ += *n;
  return out;
}

Result<ValueView> ByteReader::read_value() {
  auto n = read_i32();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (*n == -1) return ValueView::null();
  if (*n == -2) return ValueView::unset();
  if (*n < 0) return fail(Errc::Malformed, fmt::format("[value] has invalid length {}", *n));
  auto len = static_cast<size_t>(*n);
  if (remaining() < len) return truncated("[value] body", len);
  ByteView out = data_.subspan(pos_, len);
  pos_ += len;
  return ValueView::set(out);
}

Result<ByteView> ByteReader::read_inetaddr() {
  auto n = read_u8();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (*n != 4 && *n != 16) {
    return fail(Errc::Malformed, fmt::format("[inetaddr] has length {}, expected 4 or 16", *n));
  }
  return read_raw(*n);
}

Result<InetView> ByteReader::read_inet() {
  auto addr = read_inetaddr();
  if (!addr) return tl::unexpected(std::move(addr.error()));
  auto port = read_i32();
  if (!port) return tl::unexpected(std::move(port.error()));
  return InetView{*addr, *port};
}

Result<std::vector<std::pair<std::string_view, std::string_view>>> ByteReader::read_string_map() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (remaining() < size_t{*n} * 4) return truncated("[string map]", size_t{*n} * 4);
  std::vector<std::pair<std::string_view, std::string_view>> out;
  out.reserve(*n);
  for (uint16_t i = 0; i < *n; ++i) {
    auto k = read_string();
    if (!k) return tl::unexpected(std::move(k.error()));
    auto v = read_string();
    if (!v) return tl::unexpected(std::move(v.error()));
    out.emplace_back(*k, *v);
  }
  return out;
}

Result<std::vector<std::pair<std::string_view, std::vector<std::string_view>>>>
ByteReader::read_string_multimap() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (remaining() < size_t{*n} * 4) return truncated("[string multimap]", size_t{*n} * 4);
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> out;
  out.reserve(*n);
  for (uint16_t i = 0; i < *n; ++i) {
    auto k = read_string();
    if (!k) return tl::unexpected(std::move(k.error()));
    auto v = read_string_list();
    if (!v) return tl::unexpected(std::move(v.error()));
    out.emplace_back(*k, std::move(*v));
  }
  return out;
}

Result<std::vector<std::pair<std::string_view, std::optional<ByteView>>>>
ByteReader::read_bytes_map() {
  auto n = read_u16();
  if (!n) return tl::unexpected(std::move(n.error()));
  if (remaining() < size_t{*n} * 6) return truncated("[bytes map]", size_t{*n} * 6);
  std::vector<std::pair<std::string_view, std::optional<ByteView>>> out;
  out.reserve(*n);
  for (uint16_t i = 0; i < *n; ++i) {
    auto k = read_string();
    if (!k) return tl::unexpected(std::move(k.error()));
    auto v = read_bytes();
    if (!v) return tl::unexpected(std::move(v.error()));
    out.emplace_back(*k, *v);
  }
  return out;
}

Result<uint64_t> ByteReader::read_unsigned_vint() {
  auto first = read_u8();
  if (!first) return tl::unexpected(std::move(first.error()));
  // The number of leading one bits in the first byte is the number of extra bytes.
  int extra = std::countl_one(*first);
  if (extra == 0) return uint64_t{*first};
  if (remaining() < static_cast<size_t>(extra)) {
    return truncated("[unsigned vint]", static_cast<size_t>(extra));
  }
  uint64_t value = extra >= 8 ? 0 : (*first & (0xFFu >> extra));
  for (int i = 0; i < extra; ++i) value = (value << 8) | data_[pos_++];
  return value;
}

Result<int64_t> ByteReader::read_vint() {
  auto u = read_unsigned_vint();
  if (!u) return tl::unexpected(std::move(u.error()));
  return static_cast<int64_t>((*u >> 1) ^ (~(*u & 1) + 1));
}

void ByteWriter::write_u16(uint16_t v) {
  uint8_t b[2];
  store_be16(b, v);
  out_->insert(out_->end(), b, b + 2);
}

void ByteWriter::write_u32(uint32_t v) {
  uint8_t b[4];
  store_be32(b, v);
  out_->insert(out_->end(), b, b + 4);
}

void ByteWriter::write_u64(uint64_t v) {
  write_u32(static_cast<uint32_t>(v >> 32));
  write_u32(static_cast<uint32_t>(v));
}

void ByteWriter::write_float(float v) { write_u32(std::bit_cast<uint32_t>(v)); }
void ByteWriter::write_double(double v) { write_u64(std::bit_cast<uint64_t>(v)); }

void ByteWriter::write_string(std::string_view s) {
  write_u16(static_cast<uint16_t>(s.size()));
  write_raw(as_bytes(s));
}

void ByteWriter::write_long_string(std::string_view s) {
  write_i32(static_cast<int32_t>(s.size()));
  write_raw(as_bytes(s));
}

void ByteWriter::write_string_list(std::span<const std::string> list) {
  write_u16(static_cast<uint16_t>(list.size()));
  for (const auto& s : list) write_string(s);
}

void ByteWriter::write_bytes(std::optional<ByteView> b) {
  if (!b) {
    write_i32(-1);
    return;
  }
  write_i32(static_cast<int32_t>(b->size()));
  write_raw(*b);
}

void ByteWriter::write_short_bytes(ByteView b) {
  write_u16(static_cast<uint16_t>(b.size()));
  write_raw(b);
}

void ByteWriter::write_value(const ValueView& v) {
  switch (v.kind) {
    case ValueView::Kind::Null:
      write_i32(-1);
      return;
    case ValueView::Kind::Unset:
      write_i32(-2);
      return;
    case ValueView::Kind::Set:
      write_bytes(v.bytes);
      return;
  }
}

void ByteWriter::write_inetaddr(ByteView address) {
  write_u8(static_cast<uint8_t>(address.size()));
  write_raw(address);
}

void ByteWriter::write_inet(ByteView address, int32_t port) {
  write_inetaddr(address);
  write_i32(port);
}

void ByteWriter::write_string_map(std::span<const std::pair<std::string, std::string>> map) {
  write_u16(static_cast<uint16_t>(map.size()));
  for (const auto& [k, v] : map) {
    write_string(k);
    write_string(v);
  }
}

void ByteWriter::write_string_multimap(
    std::span<const std::pair<std::string, std::vector<std::string>>> map) {
  write_u16(static_cast<uint16_t>(map.size()));
  for (const auto& [k, v] : map) {
    write_string(k);
    write_string_list(v);
  }
}

void ByteWriter::write_bytes_map(
    std::span<const std::pair<std::string, std::optional<Bytes>>> map) {
  write_u16(static_cast<uint16_t>(map.size()));
  for (const auto& [k, v] : map) {
    write_string(k);
    if (v) {
      write_bytes(ByteView(*v));
    } else {
      write_bytes(std::nullopt);
    }
  }
}

void ByteWriter::write_unsigned_vint(uint64_t v) {
  // Size in bytes: 1 + number of extra bytes; 7 payload bits per byte up to 9 bytes.
  int magnitude = std::countl_zero(v | 1);
  int size = (639 - magnitude * 9) >> 6;
  if (size == 1) {
    write_u8(static_cast<uint8_t>(v));
    return;
  }
  uint8_t buf[9];
  int extra = size - 1;
  for (int i = extra; i >= 0; --i) {
    buf[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
  buf[0] = static_cast<uint8_t>(buf[0] | static_cast<uint8_t>(~(0xFFu >> extra)));
  out_->insert(out_->end(), buf, buf + size);
}

void ByteWriter::write_vint(int64_t v) {
  auto u = static_cast<uint64_t>(v);
  write_unsigned_vint((u << 1) ^ static_cast<uint64_t>(v >> 63));
}

void ByteWriter::patch_u32(size_t at, uint32_t v) { store_be32(out_->data() + at, v); }

}  // namespace zdm
