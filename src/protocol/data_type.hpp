#pragma once
// CQL data types as they appear in result metadata ([option]) and in CQL text.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace zdm::protocol {

enum class TypeId : uint16_t {
  Custom = 0x0000,
  Ascii = 0x0001,
  Bigint = 0x0002,
  Blob = 0x0003,
  Boolean = 0x0004,
  Counter = 0x0005,
  Decimal = 0x0006,
  Double = 0x0007,
  Float = 0x0008,
  Int = 0x0009,
  Timestamp = 0x000B,
  Uuid = 0x000C,
  Varchar = 0x000D,  // "text"
  Varint = 0x000E,
  Timeuuid = 0x000F,
  Inet = 0x0010,
  Date = 0x0011,
  Time = 0x0012,
  Smallint = 0x0013,
  Tinyint = 0x0014,
  Duration = 0x0015,
  List = 0x0020,
  Map = 0x0021,
  Set = 0x0022,
  Udt = 0x0030,
  Tuple = 0x0031,
};

// A (possibly nested) CQL type. Vectors travel on the wire as Custom with the class name
// "org.apache.cassandra.db.marshal.VectorType(<element class>, <dimension>)".
struct DataType {
  TypeId id = TypeId::Blob;
  std::string custom_class;              // Custom only
  std::vector<DataType> params;          // List/Set: element; Map: key, value; Tuple: elements;
                                         // Udt: field types (parallel to field_names)
  std::string udt_keyspace;              // Udt only
  std::string udt_name;                  // Udt only
  std::vector<std::string> field_names;  // Udt only

  static DataType simple(TypeId id) { return DataType{id, {}, {}, {}, {}, {}}; }
  static DataType list_of(DataType element);
  static DataType set_of(DataType element);
  static DataType map_of(DataType key, DataType value);
  static DataType tuple_of(std::vector<DataType> elements);
  static DataType custom(std::string class_name);

  bool is_collection() const {
    return id == TypeId::List || id == TypeId::Set || id == TypeId::Map;
  }

  friend bool operator==(const DataType&, const DataType&) = default;
};

// [option] as used in result metadata. Nesting deeper than 64 levels is rejected as malformed.
Result<DataType> read_data_type(ByteReader& reader);
void write_data_type(ByteWriter& writer, const DataType& type);

}  // namespace zdm::protocol
