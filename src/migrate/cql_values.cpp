#include "migrate/cql_values.hpp"

#include "protocol/value.hpp"

namespace zdm::migrate {

std::optional<size_t> column_index(const protocol::RowsMetadata& metadata, std::string_view name) {
  for (size_t i = 0; i < metadata.columns.size(); ++i) {
    if (metadata.columns[i].name == name) return i;
  }
  return std::nullopt;
}

const std::optional<Bytes>* RowReader::cell(std::string_view column) const {
  auto i = column_index(metadata_, column);
  if (!i || *i >= row_.size() || !row_[*i]) return nullptr;
  return &row_[*i];
}

std::optional<std::string> RowReader::text(std::string_view column) const {
  auto* c = cell(column);
  if (!c) return std::nullopt;
  return std::string((*c)->begin(), (*c)->end());
}

std::optional<int64_t> RowReader::bigint(std::string_view column) const {
  auto* c = cell(column);
  if (!c || (*c)->size() != 8) return std::nullopt;
  return decode_bigint(**c);
}

std::optional<int32_t> RowReader::int32(std::string_view column) const {
  auto* c = cell(column);
  if (!c || (*c)->size() != 4) return std::nullopt;
  return decode_int(**c);
}

std::optional<bool> RowReader::boolean(std::string_view column) const {
  auto* c = cell(column);
  if (!c || (*c)->size() != 1) return std::nullopt;
  return (**c)[0] != 0;
}

std::vector<std::string> RowReader::text_list(std::string_view column) const {
  std::vector<std::string> out;
  auto i = column_index(metadata_, column);
  auto* c = cell(column);
  if (!c || !i) return out;
  auto value = protocol::decode_value(metadata_.columns[*i].type, **c, protocol::ProtocolVersion::V4);
  if (!value) return out;
  if (auto* elements = value->get_if<protocol::Value::Elements>()) {
    for (const auto& e : *elements) {
      if (auto* s = e.get_if<std::string>()) out.push_back(*s);
    }
  }
  return out;
}

std::map<std::string, std::string> RowReader::text_map(std::string_view column) const {
  std::map<std::string, std::string> out;
  auto i = column_index(metadata_, column);
  auto* c = cell(column);
  if (!c || !i) return out;
  auto value = protocol::decode_value(metadata_.columns[*i].type, **c, protocol::ProtocolVersion::V4);
  if (!value) return out;
  if (auto* entries = value->get_if<protocol::Value::Entries>()) {
    for (const auto& [k, v] : *entries) {
      auto* ks = k.get_if<std::string>();
      auto* vs = v.get_if<std::string>();
      if (ks && vs) out[*ks] = *vs;
    }
  }
  return out;
}

protocol::BoundValue bind_text(std::string_view text) {
  return protocol::BoundValue::set(Bytes(text.begin(), text.end()));
}

Bytes encode_bigint(int64_t v) {
  Bytes out(8);
  auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(u & 0xff);
    u >>= 8;
  }
  return out;
}

protocol::BoundValue bind_bigint(int64_t v) { return protocol::BoundValue::set(encode_bigint(v)); }

protocol::BoundValue bind_int(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  Bytes out{static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16),
            static_cast<uint8_t>(u >> 8), static_cast<uint8_t>(u)};
  return protocol::BoundValue::set(std::move(out));
}

int64_t decode_bigint(ByteView bytes) {
  if (bytes.size() < 8) return 0;
  uint64_t u = 0;
  for (size_t i = 0; i < 8; ++i) u = (u << 8) | bytes[i];
  return static_cast<int64_t>(u);
}

int32_t decode_int(ByteView bytes) {
  if (bytes.size() < 4) return 0;
  uint32_t u = 0;
  for (size_t i = 0; i < 4; ++i) u = (u << 8) | bytes[i];
  return static_cast<int32_t>(u);
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
