// Values serialized by the DataStax Python driver (gen_values.py): both type spellings parse to
// the same DataType, the driver's bytes decode to the expected CQL literal, and re-encoding gives
// the driver's bytes back.
#include <map>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "golden_data.hpp"
#include "protocol/cql_type.hpp"
#include "protocol/value.hpp"

namespace zdm::protocol {
namespace {

void collect_udts(const DataType& t, std::map<std::pair<std::string, std::string>, DataType>& out) {
  if (t.id == TypeId::Udt) out[{t.udt_keyspace, t.udt_name}] = t;
  for (const auto& p : t.params) collect_udts(p, out);
  auto vec = vector_info(t);
  if (vec && *vec) collect_udts((*vec)->element, out);
}

ProtocolVersion version_of(int v) {
  return v == 3 ? ProtocolVersion::V3 : v == 4 ? ProtocolVersion::V4 : ProtocolVersion::V5;
}

TEST(ValuesGolden, DriverBytesDecodeToTheCanonicalValueAndReencodeIdentically) {
  nlohmann::json data = golden::load("values.json");
  ASSERT_TRUE(data.is_object() && data.contains("cases"));
  const auto& cases = data["cases"];
  ASSERT_GE(cases.size(), 200u);

  std::set<TypeId> ids_seen;
  std::set<int> versions_seen;
  size_t vectors_seen = 0;
  for (const auto& c : cases) {
    const std::string cls = c["class"];
    const std::string cql = c["cql"];
    const std::string hex = c["hex"];
    const std::string canonical = c["canonical"];
    const int version_number = c["version"];
    SCOPED_TRACE("v" + std::to_string(version_number) + " " + cql + " hex=" + hex + " expected " +
                 canonical + " (" + std::string(c["source"]) + ")");
    ProtocolVersion version = version_of(version_number);
    versions_seen.insert(version_number);

    auto from_class = parse_marshal_class(cls);
    ASSERT_TRUE(from_class) << from_class.error().to_string();
    std::map<std::pair<std::string, std::string>, DataType> udts;
    collect_udts(*from_class, udts);
    UdtResolver resolver = [&udts](std::string_view ks,
                                   std::string_view name) -> std::optional<DataType> {
      auto it = udts.find({std::string(ks), std::string(name)});
      if (it == udts.end()) return std::nullopt;
      return it->second;
    };
    auto from_cql = parse_cql_type(cql, resolver);
    ASSERT_TRUE(from_cql) << from_cql.error().to_string();
    EXPECT_EQ(*from_class, *from_cql) << "class " << cls;
    EXPECT_EQ(format_marshal_class(*from_class), cls);

    ids_seen.insert(from_class->id);
    for (const auto& p : from_class->params) ids_seen.insert(p.id);
    auto vec = vector_info(*from_class);
    ASSERT_TRUE(vec);
    if (*vec) ++vectors_seen;

    auto bytes = from_hex(hex);
    ASSERT_TRUE(bytes);
    auto value = decode_value(*from_class, *bytes, version);
    ASSERT_TRUE(value) << value.error().to_string();
    EXPECT_EQ(to_cql_literal(*value, *from_class), canonical);

    Bytes again;
    auto enc = encode_value(*from_class, *value, again, version);
    ASSERT_TRUE(enc) << enc.error().to_string();
    EXPECT_EQ(to_hex(again), hex);
  }
  EXPECT_EQ(versions_seen, (std::set<int>{3, 4, 5}));
  for (TypeId id :
       {TypeId::Ascii,     TypeId::Bigint,   TypeId::Blob,     TypeId::Boolean,  TypeId::Counter,
        TypeId::Date,      TypeId::Decimal,  TypeId::Double,   TypeId::Duration, TypeId::Float,
        TypeId::Inet,      TypeId::Int,      TypeId::Smallint, TypeId::Varchar,  TypeId::Time,
        TypeId::Timestamp, TypeId::Timeuuid, TypeId::Tinyint,  TypeId::Uuid,     TypeId::Varint,
        TypeId::List,      TypeId::Set,      TypeId::Map,      TypeId::Tuple,    TypeId::Udt,
        TypeId::Custom}) {
    EXPECT_TRUE(ids_seen.count(id)) << "no golden case for type id " << static_cast<int>(id);
  }
  EXPECT_GT(vectors_seen, 0u);
}

}  // namespace
}  // namespace zdm::protocol
