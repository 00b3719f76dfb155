#pragma once
// Byte buffers and the CQL native protocol's primitive notations ([int], [string], [bytes],
// [value], [vint], ...), read through a bounds-checked cursor and written by an appending writer.
// Big-endian throughout, as the protocol specifies.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace zdm {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using Uuid = std::array<uint8_t, 16>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string to_hex(ByteView bytes);
// Accepts upper or lower case, optional "0x" prefix, no separators.
Result<Bytes> from_hex(std::string_view hex);

// A CQL [value]: bytes, null (length -1) or, from v4 on, "not set" (length -2).
struct ValueView {
  enum class Kind : uint8_t { Set, Null, Unset };
  Kind kind = Kind::Null;
  ByteView bytes;  // valid only when kind == Set; views into the reader's buffer

  static ValueView set(ByteView b) { return {Kind::Set, b}; }
  static ValueView null() { return {Kind::Null, {}}; }
  static ValueView unset() { return {Kind::Unset, {}}; }
};

// An [inet]: address bytes (4 or 16) and port.
struct InetView {
  ByteView address;
  int32_t port = 0;
};

// Bounds-checked cursor over bytes it does not own. Every read either succeeds and advances, or
// fails with Errc::Truncated/Malformed and leaves the position unspecified. Views returned by
// reads point into the underlying buffer and live no longer than it.
class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(ByteView data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return pos_ == data_.size(); }
  ByteView rest() const { return data_.subspan(pos_); }

  Result<uint8_t> read_u8();
  Result<int8_t> read_i8();
  Result<uint16_t> read_u16();  // [short]
  Result<int16_t> read_i16();
  Result<int32_t> read_i32();  // [int]
  Result<uint32_t> read_u32();
  Result<int64_t> read_i64();  // [long]
  Result<uint64_t> read_u64();
  Result<float> read_float();
  Result<double> read_double();

  Result<ByteView> read_raw(size_t n);
  Result<void> skip(size_t n);

  Result<std::string_view> read_string();                    // [string]: [short] n, n bytes
  Result<std::string_view> read_long_string();               // [long string]: [int] n, n bytes
  Result<Uuid> read_uuid();                                  // [uuid]
  Result<std::vector<std::string_view>> read_string_list();  // [string list]
  Result<std::optional<ByteView>> read_bytes();              // [bytes]: n < 0 is null
  Result<ByteView> read_short_bytes();                       // [short bytes]
  Result<ValueView> read_value();                            // [value]: -1 null, -2 unset
  Result<InetView> read_inet();                              // [inet]
  Result<ByteView> read_inetaddr();                          // [inetaddr]
  Result<std::vector<std::pair<std::string_view, std::string_view>>> read_string_map();
  Result<std::vector<std::pair<std::string_view, std::vector<std::string_view>>>>
  read_string_multimap();
  Result<std::vector<std::pair<std::string_view, std::optional<ByteView>>>> read_bytes_map();
  Result<uint64_t> read_unsigned_vint();  // Cassandra's VIntCoding
  Result<int64_t> read_vint();            // zig-zag over unsigned vint

 private:
  [[gnu::cold]] tl::unexpected<Error> truncated(std::string_view what, size_t need) const;

  ByteView data_;
  size_t pos_ = 0;
};

// Appends protocol notations to a buffer it does not own.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(&out) {}

  Bytes& buffer() { return *out_; }
  size_t size() const { return out_->size(); }

  void write_u8(uint8_t v) { out_->push_back(v); }
  void write_i8(int8_t v) { out_->push_back(static_cast<uint8_t>(v)); }
  void write_u16(uint16_t v);
  void write_i16(int16_t v) { write_u16(static_cast<uint16_t>(v)); }
  void write_u32(uint32_t v);
  void write_i32(int32_t v) { write_u32(static_cast<uint32_t>(v)); }
  void write_u64(uint64_t v);
  void write_i64(int64_t v) { write_u64(static_cast<uint64_t>(v)); }
  void write_float(float v);
  void write_double(double v);

  void write_raw(ByteView b) { out_->insert(out_->end(), b.begin(), b.end()); }
  void write_string(std::string_view s);       // [string]
  void write_long_string(std::string_view s);  // [long string]
  void write_uuid(const Uuid& u) { write_raw(u); }
  void write_string_list(std::span<const std::string> list);
  void write_bytes(std::optional<ByteView> b);  // [bytes]; nullopt writes -1
  void write_short_bytes(ByteView b);
  void write_value(const ValueView& v);
  void write_inet(ByteView address, int32_t port);
  void write_inetaddr(ByteView address);
  void write_string_map(std::span<const std::pair<std::string, std::string>> map);
  void write_string_multimap(std::span<const std::pair<std::string, std::vector<std::string>>> map);
  void write_bytes_map(std::span<const std::pair<std::string, std::optional<Bytes>>> map);
  void write_unsigned_vint(uint64_t v);
  void write_vint(int64_t v);

  // Overwrites 4 bytes at `at` (e.g. a length written before its body was known).
  void patch_u32(size_t at, uint32_t v);

 private:
  Bytes* out_;
};

// Big-endian loads/stores on raw memory; callers guarantee bounds.
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace zdm
