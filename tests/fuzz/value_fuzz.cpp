// Fuzz target for CQL value decoding. Input layout:
//   byte 0: type selector (< 0x80: an entry of kTypes; otherwise a type is built from the
//           following bytes, see build_type), byte 1: protocol version (v3/v4/v5), rest: value.
// A successful decode must re-encode, decode again to an equal value, and re-encode to the
// same bytes; the literal formatter must not crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

namespace {

using zdm::Bytes;
using zdm::ByteView;
using namespace zdm::protocol;

DataType udt(std::vector<std::pair<std::string, DataType>> fields) {
  DataType t = DataType::simple(TypeId::Udt);
  t.udt_keyspace = "ks";
  t.udt_name = "u";
  for (auto& [name, type] : fields) {
    t.field_names.push_back(name);
    t.params.push_back(type);
  }
  return t;
}

std::vector<DataType> make_types() {
  std::vector<DataType> out;
  for (int id : {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B,
                 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15}) {
    out.push_back(DataType::simple(static_cast<TypeId>(static_cast<uint16_t>(id))));
  }
  for (const char* cql :
       {"list<int>", "set<text>", "map<text, bigint>",
        "map<int, frozen<list<frozen<set<varint>>>>>", "tuple<int, text, blob>",
        "tuple<decimal, frozen<tuple<duration, inet>>>", "vector<float, 3>", "vector<text, 2>",
        "vector<smallint, 4>", "vector<vector<int, 2>, 2>", "vector<frozen<list<uuid>>, 2>",
        "list<frozen<tuple<date, time>>>", "'com.example.Opaque'"}) {
    auto t = parse_cql_type(cql);
    if (!t) std::abort();
    out.push_back(*t);
  }
  DataType u = udt({{"a", DataType::simple(TypeId::Int)},
                    {"b", DataType::simple(TypeId::Varchar)},
                    {"c", DataType::list_of(DataType::simple(TypeId::Timeuuid))}});
  out.push_back(u);
  out.push_back(DataType::map_of(DataType::simple(TypeId::Ascii), u));
  return out;
}

// Builds a type from the input, consuming bytes; nesting stops at depth 6.
DataType build_type(const uint8_t*& p, const uint8_t* end, int depth) {
  static const std::vector<DataType> kNatives = [] {
    std::vector<DataType> v;
    for (int id : {0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
                   0x10, 0x11, 0x12, 0x13, 0x14, 0x15}) {
      v.push_back(DataType::simple(static_cast<TypeId>(static_cast<uint16_t>(id))));
    }
    return v;
  }();
  if (p == end) return DataType::simple(TypeId::Int);
  uint8_t b = *p++;
  if (depth >= 6 || b % 8 < 3) return kNatives[b % kNatives.size()];
  switch (b % 8) {
    case 3:
      return DataType::list_of(build_type(p, end, depth + 1));
    case 4:
      return DataType::set_of(build_type(p, end, depth + 1));
    case 5: {
      DataType k = build_type(p, end, depth + 1);
      return DataType::map_of(std::move(k), build_type(p, end, depth + 1));
    }
    case 6: {
      std::vector<DataType> elements;
      for (int i = 0; i < 1 + (b >> 6); ++i) elements.push_back(build_type(p, end, depth + 1));
      return (b & 0x20) ? udt({{"x", elements[0]}}) : DataType::tuple_of(std::move(elements));
    }
    default:
      return vector_type(build_type(p, end, depth + 1), 1u + ((b >> 3) & 3u));
  }
}

[[noreturn]] void crash(const char* what, const DataType& type) {
  std::fprintf(stderr, "value_fuzz: %s for %s\n", what, format_cql_type(type).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<DataType> kTypes = make_types();
  if (size < 2) return 0;
  const uint8_t* p = data + 2;
  const uint8_t* end = data + size;
  DataType type;
  if (data[0] < 0x80) {
    type = kTypes[data[0] % kTypes.size()];
  } else {
    type = build_type(p, end, 0);
  }
  constexpr ProtocolVersion kVersions[] = {ProtocolVersion::V3, ProtocolVersion::V4,
                                           ProtocolVersion::V5};
  ProtocolVersion version = kVersions[data[1] % 3];
  ByteView bytes(p, static_cast<size_t>(end - p));

  auto value = decode_value(type, bytes, version);
  if (!value) {
    if (value.error().message.empty()) crash("error without a message", type);
    return 0;
  }
  (void)to_cql_literal(*value, type);
  Bytes encoded;
  if (!encode_value(type, *value, encoded, version))
    crash("decoded value does not re-encode", type);
  auto again = decode_value(type, encoded, version);
  if (!again) crash("re-encoded bytes do not decode", type);
  if (!(*again == *value)) crash("value changed in a round trip", type);
  Bytes encoded_again;
  if (!encode_value(type, *again, encoded_again, version) || encoded_again != encoded) {
    crash("encoding is not stable", type);
  }
  return 0;
}
