#include "protocol/row_reader.hpp"

#include <algorithm>

#include "protocol/value.hpp"

namespace zdm::protocol {

std::optional<size_t> column_index(const RowsMetadata& metadata, std::string_view name) {
  for (size_t i = 0; i < metadata.columns.size(); ++i) {
    if (metadata.columns[i].name == name) return i;
  }
  return std::nullopt;
}

const Bytes* RowReader::cell(std::string_view column) const {
  auto i = column_index(metadata_, column);
  if (!i || *i >= row_.size() || !row_[*i]) return nullptr;
  return &*row_[*i];
}

std::optional<std::string> RowReader::text(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c) return std::nullopt;
  return std::string(c->begin(), c->end());
}

std::optional<int64_t> RowReader::bigint(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c || c->size() != 8) return std::nullopt;
  return static_cast<int64_t>((uint64_t{load_be32(c->data())} << 32) | load_be32(c->data() + 4));
}

std::optional<int32_t> RowReader::int32(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c || c->size() != 4) return std::nullopt;
  return static_cast<int32_t>(load_be32(c->data()));
}

std::optional<bool> RowReader::boolean(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c || c->size() != 1) return std::nullopt;
  return (*c)[0] != 0;
}

std::optional<std::string> RowReader::inet(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c) return std::nullopt;
  auto address = InetAddress::from_bytes(*c);
  if (!address) return std::nullopt;
  return address->to_string();
}

std::optional<Uuid> RowReader::uuid(std::string_view column) const {
  const Bytes* c = cell(column);
  if (!c || c->size() != 16) return std::nullopt;
  Uuid u{};
  std::copy(c->begin(), c->end(), u.begin());
  return u;
}

std::optional<Value> RowReader::decoded(std::string_view column) const {
  auto i = column_index(metadata_, column);
  const Bytes* c = cell(column);
  if (!i || !c) return std::nullopt;
  auto value = decode_value(metadata_.columns[*i].type, *c, version_);
  if (!value) return std::nullopt;
  return std::move(*value);
}

std::vector<std::string> RowReader::text_list(std::string_view column) const {
  std::vector<std::string> out;
  auto value = decoded(column);
  if (!value) return out;
  if (auto* elements = value->get_if<Value::Elements>()) {
    for (const auto& e : *elements) {
      if (auto* s = e.get_if<std::string>()) out.push_back(*s);
    }
  }
  return out;
}

std::map<std::string, std::string> RowReader::text_map(std::string_view column) const {
  std::map<std::string, std::string> out;
  auto value = decoded(column);
  if (!value) return out;
  if (auto* entries = value->get_if<Value::Entries>()) {
    for (const auto& [k, v] : *entries) {
      auto* ks = k.get_if<std::string>();
      auto* vs = v.get_if<std::string>();
      if (ks && vs) out[*ks] = *vs;
    }
  }
  return out;
}

}  // namespace zdm::protocol
