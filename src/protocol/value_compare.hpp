#pragma once
// Cassandra's comparators over serialized CQL values, as used for clustering order and for the
// cell paths of collections.
//
// Values are the [bytes] bodies of the native protocol. An empty value sorts before every other
// value of the same type. Malformed values never fail a comparison: a value too short for its
// type is ordered by its bytes, so the order stays total and deterministic.

#include "common/bytes.hpp"
#include "protocol/data_type.hpp"

namespace zdm::protocol {

// <0, 0, >0 as a is before, equal to, after b in ascending order of `type`.
int compare_values(const DataType& type, ByteView a, ByteView b);

// Unsigned lexicographic comparison (blob, text, ascii, inet).
int compare_unsigned_bytes(ByteView a, ByteView b);

}  // namespace zdm::protocol
