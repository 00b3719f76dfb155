#include "protocol/data_type.hpp"

#include <fmt/format.h>

namespace zdm::protocol {

DataType DataType::list_of(DataType element) {
  DataType t = simple(TypeId::List);
  t.params.push_back(std::move(element));
  return t;
}

DataType DataType::set_of(DataType element) {
  DataType t = simple(TypeId::Set);
  t.params.push_back(std::move(element));
  return t;
}

DataType DataType::map_of(DataType key, DataType value) {
  DataType t = simple(TypeId::Map);
  t.params.push_back(std::move(key));
  t.params.push_back(std::move(value));
  return t;
}

DataType DataType::tuple_of(std::vector<DataType> elements) {
  DataType t = simple(TypeId::Tuple);
  t.params = std::move(elements);
  return t;
}

DataType DataType::custom(std::string class_name) {
  DataType t = simple(TypeId::Custom);
  t.custom_class = std::move(class_name);
  return t;
}

namespace {

constexpr int kMaxTypeDepth = 64;

Result<DataType> read_type_at_depth(ByteReader& reader, int depth) {
  if (depth > kMaxTypeDepth) {
    return fail(Errc::Malformed, fmt::format("type nesting exceeds {} levels", kMaxTypeDepth));
  }
  auto raw_id = reader.read_u16();
  if (!raw_id) return tl::unexpected(std::move(raw_id.error()));
  DataType t;
  t.id = static_cast<TypeId>(*raw_id);
  switch (t.id) {
    case TypeId::Custom: {
      auto name = reader.read_string();
      if (!name) return tl::unexpected(std::move(name.error()));
      t.custom_class = std::string(*name);
      return t;
    }
    case TypeId::Ascii:
    case TypeId::Bigint:
    case TypeId::Blob:
    case TypeId::Boolean:
    case TypeId::Counter:
    case TypeId::Decimal:
    case TypeId::Double:
    case TypeId::Float:
    case TypeId::Int:
    case TypeId::Timestamp:
    case TypeId::Uuid:
    case TypeId::Varchar:
    case TypeId::Varint:
    case TypeId::Timeuuid:
    case TypeId::Inet:
    case TypeId::Date:
    case TypeId::Time:
    case TypeId::Smallint:
    case TypeId::Tinyint:
    case TypeId::Duration:
      return t;
    case TypeId::List:
    case TypeId::Set: {
      auto element = read_type_at_depth(reader, depth + 1);
      if (!element) return element;
      t.params.push_back(std::move(*element));
      return t;
    }
    case TypeId::Map: {
      for (int i = 0; i < 2; ++i) {
        auto p = read_type_at_depth(reader, depth + 1);
        if (!p) return p;
        t.params.push_back(std::move(*p));
      }
      return t;
    }
    case TypeId::Udt: {
      auto ks = reader.read_string();
      if (!ks) return tl::unexpected(std::move(ks.error()));
      auto name = reader.read_string();
      if (!name) return tl::unexpected(std::move(name.error()));
      auto n = reader.read_u16();
      if (!n) return tl::unexpected(std::move(n.error()));
      t.udt_keyspace = std::string(*ks);
      t.udt_name = std::string(*name);
      for (uint16_t i = 0; i < *n; ++i) {
        auto field = reader.read_string();
        if (!field) return tl::unexpected(std::move(field.error()));
        auto ft = read_type_at_depth(reader, depth + 1);
        if (!ft) return ft;
        t.field_names.emplace_back(*field);
        t.params.push_back(std::move(*ft));
      }
      return t;
    }
    case TypeId::Tuple: {
      auto n = reader.read_u16();
      if (!n) return tl::unexpected(std::move(n.error()));
      for (uint16_t i = 0; i < *n; ++i) {
        auto et = read_type_at_depth(reader, depth + 1);
        if (!et) return et;
        t.params.push_back(std::move(*et));
      }
      return t;
    }
  }
  return fail(Errc::Unsupported, fmt::format("unknown type id 0x{:04x}", *raw_id));
}

}  // namespace

Result<DataType> read_data_type(ByteReader& reader) { return read_type_at_depth(reader, 0); }

void write_data_type(ByteWriter& writer, const DataType& type) {
  writer.write_u16(static_cast<uint16_t>(type.id));
  switch (type.id) {
    case TypeId::Custom:
      writer.write_string(type.custom_class);
      return;
    case TypeId::List:
    case TypeId::Set:
    case TypeId::Map:
      for (const auto& p : type.params) write_data_type(writer, p);
      return;
    case TypeId::Udt:
      writer.write_string(type.udt_keyspace);
      writer.write_string(type.udt_name);
      writer.write_u16(static_cast<uint16_t>(type.params.size()));
      for (size_t i = 0; i < type.params.size(); ++i) {
        writer.write_string(i < type.field_names.size() ? type.field_names[i] : std::string());
        write_data_type(writer, type.params[i]);
      }
      return;
    case TypeId::Tuple:
      writer.write_u16(static_cast<uint16_t>(type.params.size()));
      for (const auto& p : type.params) write_data_type(writer, p);
      return;
    default:
      return;
  }
}

}  // namespace zdm::protocol
