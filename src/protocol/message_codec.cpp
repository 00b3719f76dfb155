// Primitives shared by the request and response codecs: owned reads, bounds checks.
#include "protocol/message_codec.hpp"

namespace zdm::protocol::codec {

Result<Consistency> read_consistency(ByteReader& r, std::string_view what) {
  ZDM_TRY(uint16_t raw, r.read_u16());
  auto c = consistency_from_code(raw);
  if (!c)
    return fail(Errc::Malformed, fmt::format("{} has unknown consistency 0x{:04x}", what, raw));
  return *c;
}

Result<std::string> read_owned_string(ByteReader& r) {
  ZDM_TRY(std::string_view s, r.read_string());
  return std::string(s);
}

Result<std::string> read_owned_long_string(ByteReader& r) {
  ZDM_TRY(std::string_view s, r.read_long_string());
  return std::string(s);
}

Result<std::vector<std::string>> read_owned_string_list(ByteReader& r) {
  ZDM_TRY(auto list, r.read_string_list());
  return std::vector<std::string>(list.begin(), list.end());
}

Result<std::optional<Bytes>> read_owned_bytes(ByteReader& r) {
  ZDM_TRY(auto b, r.read_bytes());
  if (!b) return std::optional<Bytes>{};
  return std::optional<Bytes>{Bytes(b->begin(), b->end())};
}

Result<Bytes> read_owned_short_bytes(ByteReader& r) {
  ZDM_TRY(ByteView b, r.read_short_bytes());
  return Bytes(b.begin(), b.end());
}

Result<BoundValue> read_bound_value(ByteReader& r, ProtocolVersion v) {
  ZDM_TRY(ValueView value, r.read_value());
  switch (value.kind) {
    case ValueView::Kind::Set:
      return BoundValue::set(Bytes(value.bytes.begin(), value.bytes.end()));
    case ValueView::Kind::Null:
      return BoundValue::null();
    case ValueView::Kind::Unset:
      if (!supports_unset_values(v)) {
        return fail(Errc::Malformed, fmt::format("[value] 'not set' (-2) does not exist in {}",
                                                 protocol_version_name(v)));
      }
      return BoundValue::unset();
  }
  return fail(Errc::Malformed, "[value] of unknown kind");
}

void write_bound_value(ByteWriter& w, const BoundValue& value) {
  switch (value.kind) {
    case ValueView::Kind::Set:
      w.write_i32(static_cast<int32_t>(value.bytes.size()));
      w.write_raw(value.bytes);
      return;
    case ValueView::Kind::Null:
      w.write_i32(-1);
      return;
    case ValueView::Kind::Unset:
      w.write_i32(-2);
      return;
  }
}

Result<Inet> read_owned_inet(ByteReader& r) {
  ZDM_TRY(InetView inet, r.read_inet());
  return Inet{Bytes(inet.address.begin(), inet.address.end()), inet.port};
}

void write_string_list(ByteWriter& w, const std::vector<std::string>& list) {
  w.write_string_list(std::span<const std::string>(list));
}

Result<void> check_count_fits(const ByteReader& r, uint64_t count, uint64_t min_item_size,
                              std::string_view what) {
  // count < 2^31 and min_item_size is small, so the product cannot overflow 64 bits.
  if (count * min_item_size > r.remaining()) {
    return fail(Errc::Truncated, fmt::format("{} count {} needs at least {} bytes, only {} left",
                                             what, count, count * min_item_size, r.remaining()));
  }
  return {};
}

Result<void> check_flags(uint32_t flags, uint32_t allowed, std::string_view what,
                         ProtocolVersion v) {
  if ((flags & ~allowed) != 0) {
    return fail(Errc::Malformed,
                fmt::format("{} flags 0x{:08x} have bits 0x{:08x} that {} does not define", what,
                            flags, flags & ~allowed, protocol_version_name(v)));
  }
  return {};
}

}  // namespace zdm::protocol::codec
