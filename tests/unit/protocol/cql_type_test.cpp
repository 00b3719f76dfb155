#include "protocol/cql_type.hpp"

#include <string>

#include <gtest/gtest.h>

namespace zdm::protocol {
namespace {

DataType address_udt() {
  DataType t = DataType::simple(TypeId::Udt);
  t.udt_keyspace = "ks";
  t.udt_name = "address";
  t.field_names = {"street", "zip"};
  t.params = {DataType::simple(TypeId::Varchar), DataType::simple(TypeId::Int)};
  return t;
}

UdtResolver resolver_with_address() {
  return [](std::string_view keyspace, std::string_view name) -> std::optional<DataType> {
    if (name == "address" && (keyspace.empty() || keyspace == "ks")) return address_udt();
    return std::nullopt;
  };
}

constexpr std::string_view kP = "org.apache.cassandra.db.marshal.";

std::string m(std::string_view short_name) { return std::string(kP) + std::string(short_name); }

TEST(CqlType, ParsesEveryNativeTypeName) {
  const std::pair<std::string_view, TypeId> cases[] = {
      {"ascii", TypeId::Ascii},         {"bigint", TypeId::Bigint},
      {"blob", TypeId::Blob},           {"boolean", TypeId::Boolean},
      {"counter", TypeId::Counter},     {"date", TypeId::Date},
      {"decimal", TypeId::Decimal},     {"double", TypeId::Double},
      {"duration", TypeId::Duration},   {"float", TypeId::Float},
      {"inet", TypeId::Inet},           {"int", TypeId::Int},
      {"smallint", TypeId::Smallint},   {"text", TypeId::Varchar},
      {"varchar", TypeId::Varchar},     {"time", TypeId::Time},
      {"timestamp", TypeId::Timestamp}, {"timeuuid", TypeId::Timeuuid},
      {"tinyint", TypeId::Tinyint},     {"uuid", TypeId::Uuid},
      {"varint", TypeId::Varint},
  };
  for (const auto& [name, id] : cases) {
    auto t = parse_cql_type(name);
    ASSERT_TRUE(t) << name << ": " << t.error().to_string();
    EXPECT_EQ(*t, DataType::simple(id)) << name;
  }
  auto upper = parse_cql_type("  BigInt ");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, DataType::simple(TypeId::Bigint));
}

TEST(CqlType, ParsesNestedFrozenCollectionsAndFormatsThemBack) {
  auto t = parse_cql_type("map<text, frozen<list<int>>>");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(*t, DataType::map_of(DataType::simple(TypeId::Varchar),
                                 DataType::list_of(DataType::simple(TypeId::Int))));
  EXPECT_EQ(format_cql_type(*t), "map<text, frozen<list<int>>>");

  auto top_frozen = parse_cql_type("frozen<set<frozen<map<int,text>>>>");
  ASSERT_TRUE(top_frozen);
  EXPECT_EQ(format_cql_type(*top_frozen), "set<frozen<map<int, text>>>");
}

TEST(CqlType, ParsesTuplesVectorsAndCustomClasses) {
  auto tuple = parse_cql_type("tuple<int, text, frozen<list<uuid>>>");
  ASSERT_TRUE(tuple);
  EXPECT_EQ(format_cql_type(*tuple), "tuple<int, text, frozen<list<uuid>>>");

  auto vec = parse_cql_type("vector<float, 3>");
  ASSERT_TRUE(vec) << vec.error().to_string();
  EXPECT_EQ(vec->id, TypeId::Custom);
  EXPECT_EQ(vec->custom_class, m("VectorType(") + m("FloatType") + " , 3)");
  EXPECT_EQ(format_cql_type(*vec), "vector<float, 3>");
  auto info = vector_info(*vec);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->element, DataType::simple(TypeId::Float));
  EXPECT_EQ((*info)->dimension, 3u);

  auto custom = parse_cql_type("'com.example.Geo''s'");
  ASSERT_TRUE(custom);
  EXPECT_EQ(*custom, DataType::custom("com.example.Geo's"));
  EXPECT_EQ(format_cql_type(*custom), "'com.example.Geo''s'");

  auto quoted_vector = parse_cql_type("'" + m("VectorType(") + m("Int32Type") + ",2)'");
  ASSERT_TRUE(quoted_vector);
  EXPECT_EQ(*quoted_vector, vector_type(DataType::simple(TypeId::Int), 2));
}

TEST(CqlType, ResolvesUdtsThroughTheResolver) {
  auto t = parse_cql_type("list<frozen<ks.address>>", resolver_with_address());
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(*t, DataType::list_of(address_udt()));
  EXPECT_EQ(format_cql_type(*t), "list<frozen<ks.address>>");

  auto bare = parse_cql_type("frozen<\"address\">", resolver_with_address());
  ASSERT_TRUE(bare);
  EXPECT_EQ(*bare, address_udt());

  auto unresolved = parse_cql_type("frozen<address>");
  ASSERT_FALSE(unresolved);
  EXPECT_EQ(unresolved.error().code, Errc::Unsupported);
  auto unknown = parse_cql_type("frozen<nowhere>", resolver_with_address());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("nowhere"), std::string::npos);
}

TEST(CqlType, RejectsMalformedTypeText) {
  for (std::string_view bad : {"", "list<int", "map<int>", "list<int>>", "vector<float, 0>",
                               "vector<float>", "vector<float, x>", "tuple<>", "'unterminated",
                               "list<int,text>", "vector<float, 99999999999>"}) {
    auto t = parse_cql_type(bad, resolver_with_address());
    EXPECT_FALSE(t) << "accepted '" << bad << "'";
  }
}

TEST(CqlType, RejectsNestingDeeperThan64Levels) {
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "list<";
  deep += "int";
  for (int i = 0; i < 70; ++i) deep += ">";
  auto t = parse_cql_type(deep);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::Malformed);

  std::string ok;
  for (int i = 0; i < 60; ++i) ok += "list<";
  ok += "int";
  for (int i = 0; i < 60; ++i) ok += ">";
  EXPECT_TRUE(parse_cql_type(ok));

  std::string deep_marshal;
  for (int i = 0; i < 70; ++i) deep_marshal += m("ListType(");
  deep_marshal += m("Int32Type");
  for (int i = 0; i < 70; ++i) deep_marshal += ")";
  EXPECT_FALSE(parse_marshal_class(deep_marshal));
}

TEST(MarshalClass, ParsesCollectionsUnwrappingFrozenAndReversed) {
  auto t = parse_marshal_class(m("ListType(") + m("Int32Type") + ")");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(*t, DataType::list_of(DataType::simple(TypeId::Int)));

  auto rev = parse_marshal_class(m("ReversedType(") + m("TimestampType") + ")");
  ASSERT_TRUE(rev);
  EXPECT_EQ(*rev, DataType::simple(TypeId::Timestamp));

  auto map = parse_marshal_class(m("MapType(") + m("UTF8Type") + "," + m("FrozenType(") +
                                 m("SetType(") + m("UUIDType") + ")))");
  ASSERT_TRUE(map);
  EXPECT_EQ(*map, DataType::map_of(DataType::simple(TypeId::Varchar),
                                   DataType::set_of(DataType::simple(TypeId::Uuid))));

  auto short_names = parse_marshal_class("MapType(UTF8Type, FrozenType(SetType(UUIDType)))");
  ASSERT_TRUE(short_names);
  EXPECT_EQ(*short_names, *map);
}

TEST(MarshalClass, FormatsAndParsesBackEveryShape) {
  const DataType types[] = {
      DataType::simple(TypeId::Decimal),
      DataType::map_of(DataType::simple(TypeId::Varchar),
                       DataType::list_of(DataType::simple(TypeId::Int))),
      DataType::tuple_of(
          {DataType::simple(TypeId::Int), DataType::set_of(DataType::simple(TypeId::Inet))}),
      address_udt(),
      DataType::list_of(address_udt()),
      vector_type(DataType::simple(TypeId::Float), 3),
      vector_type(DataType::list_of(DataType::simple(TypeId::Varchar)), 2),
      DataType::custom("com.example.Custom"),
  };
  for (const auto& t : types) {
    std::string name = format_marshal_class(t);
    auto back = parse_marshal_class(name);
    ASSERT_TRUE(back) << name << ": " << back.error().to_string();
    EXPECT_EQ(*back, t) << name;
  }
  EXPECT_EQ(
      format_marshal_class(DataType::map_of(DataType::simple(TypeId::Varchar),
                                            DataType::list_of(DataType::simple(TypeId::Int)))),
      m("MapType(") + m("UTF8Type") + "," + m("FrozenType(") + m("ListType(") + m("Int32Type") +
          ")))");
  EXPECT_EQ(format_marshal_class(address_udt()), m("UserType(ks,61646472657373,737472656574:") +
                                                     m("UTF8Type") + ",7a6970:" + m("Int32Type") +
                                                     ")");
}

TEST(MarshalClass, ParsesVectorsInCassandrasSpelling) {
  auto t = parse_marshal_class(m("VectorType(") + m("FloatType") + " , 3)");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(*t, vector_type(DataType::simple(TypeId::Float), 3));
  auto tight = parse_marshal_class("VectorType(FloatType,3)");
  ASSERT_TRUE(tight);
  EXPECT_EQ(*tight, *t);  // normalised to the full spelling
}

TEST(MarshalClass, KeepsUnknownClassesAsCustom) {
  std::string name = m("DynamicCompositeType(a=>") + m("BytesType") + ")";
  auto t = parse_marshal_class(name);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, DataType::custom(name));
  EXPECT_EQ(format_marshal_class(*t), name);
}

TEST(MarshalClass, RejectsMalformedNames) {
  for (std::string bad :
       {std::string(""), m("ListType("), m("ListType(Int32Type"), m("MapType(Int32Type)"),
        m("VectorType(FloatType)"), m("VectorType(FloatType , 0)"), m("VectorType(FloatType , -1)"),
        m("UserType(ks,zz,00:Int32Type)"), m("Int32Type) trailing"), m("Custom(unbalanced")}) {
    EXPECT_FALSE(parse_marshal_class(bad)) << "accepted '" << bad << "'";
  }
}

TEST(VectorInfo, IgnoresOtherTypesAndRejectsBrokenVectorClasses) {
  auto none = vector_info(DataType::simple(TypeId::Int));
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto custom = vector_info(DataType::custom("com.example.VectorTypeLookalike"));
  ASSERT_TRUE(custom);
  EXPECT_FALSE(*custom);
  auto broken = vector_info(DataType::custom(m("VectorType(FloatType , nope)")));
  EXPECT_FALSE(broken);
  auto trailing = vector_info(DataType::custom(m("VectorType(FloatType , 2) x")));
  EXPECT_FALSE(trailing);
}

}  // namespace
}  // namespace zdm::protocol
