#pragma once
// CQL type names ("map<text, frozen<list<int>>>") and Cassandra marshal class names
// ("org.apache.cassandra.db.marshal.MapType(...)") to and from DataType.
//
// DataType has no frozen flag: frozen<...> and FrozenType(...) are accepted and unwrapped, and
// formatting writes frozen<...>/FrozenType(...) around collections and UDTs nested in another
// type, where CQL requires it. Vectors are the Custom type whose class name is
// "org.apache.cassandra.db.marshal.VectorType(<element class> , <dimension>)", Cassandra's own
// spelling (TypeParser.stringifyVectorParameters).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "protocol/data_type.hpp"

namespace zdm::protocol {

inline constexpr std::string_view kMarshalPrefix = "org.apache.cassandra.db.marshal.";

// Looks up a user-defined type by keyspace (empty when the text did not name one) and name
// (unquoted identifiers already lower-cased). Returns the full Udt DataType, or nullopt.
using UdtResolver =
    std::function<std::optional<DataType>(std::string_view keyspace, std::string_view name)>;

// Parses CQL type text. Keywords are case-insensitive; 'quoted strings' are custom class names
// (a quoted VectorType class becomes a vector); other identifiers are UDTs, looked up through
// `resolver` (without one, a UDT name is an error). Nesting deeper than 64 levels is rejected.
Result<DataType> parse_cql_type(std::string_view text, const UdtResolver& resolver = {});

// CQL text for a type: "int", "map<text, frozen<list<int>>>", "tuple<int, text>",
// "vector<float, 3>", "ks.udt" (nested: "frozen<ks.udt>"), custom as 'class name'.
std::string format_cql_type(const DataType& type);

// Parses a marshal class name, with or without the org.apache.cassandra.db.marshal. prefix.
// FrozenType and ReversedType are unwrapped; UserType field and type names are hex-encoded as
// Cassandra writes them; unknown classes become Custom with the class text as written.
Result<DataType> parse_marshal_class(std::string_view class_name);

// The fully qualified marshal class name for a type.
std::string format_marshal_class(const DataType& type);

struct VectorInfo {
  DataType element;
  uint32_t dimension = 0;
  friend bool operator==(const VectorInfo&, const VectorInfo&) = default;
};

// Builds the Custom DataType that carries vector<element, dimension> on the wire.
DataType vector_type(const DataType& element, uint32_t dimension);

// For a Custom type whose class is a VectorType, its element type and dimension; nullopt for
// any other type; an error when the class claims to be a VectorType but is malformed (bad
// dimension, unparsable element).
Result<std::optional<VectorInfo>> vector_info(const DataType& type);

}  // namespace zdm::protocol
