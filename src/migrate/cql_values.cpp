#include "migrate/cql_values.hpp"

namespace zdm::migrate {

protocol::BoundValue bind_text(std::string_view text) {
  return protocol::BoundValue::set(Bytes(text.begin(), text.end()));
}

Bytes encode_bigint(int64_t v) {
  Bytes out(8);
  const auto u = static_cast<uint64_t>(v);
  store_be32(out.data(), static_cast<uint32_t>(u >> 32));
  store_be32(out.data() + 4, static_cast<uint32_t>(u));
  return out;
}

protocol::BoundValue bind_bigint(int64_t v) { return protocol::BoundValue::set(encode_bigint(v)); }

protocol::BoundValue bind_int(int32_t v) {
  Bytes out(4);
  store_be32(out.data(), static_cast<uint32_t>(v));
  return protocol::BoundValue::set(std::move(out));
}

int64_t decode_bigint(ByteView bytes) {
  if (bytes.size() < 8) return 0;
  return static_cast<int64_t>((uint64_t{load_be32(bytes.data())} << 32) |
                              load_be32(bytes.data() + 4));
}

int32_t decode_int(ByteView bytes) {
  if (bytes.size() < 4) return 0;
  return static_cast<int32_t>(load_be32(bytes.data()));
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace zdm::migrate
