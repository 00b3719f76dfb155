#include "migrate/schema.hpp"

#include <gtest/gtest.h>

#include "protocol/cql_type.hpp"

namespace zdm::migrate::test {
namespace {

using protocol::DataType;
using protocol::TypeId;

Column column(std::string name, std::string type, ColumnKind kind, int position = 0,
              bool descending = false) {
  Column c;
  c.name = std::move(name);
  bool frozen = type.rfind("frozen<", 0) == 0;
  c.type = *protocol::parse_cql_type(type);
  c.kind = kind;
  c.position = position;
  c.descending = descending;
  c.multi_cell = !frozen && c.type.is_collection();
  return c;
}

Table orders() {
  Table t{"shop", "orders", {}, 2, 1};
  t.columns = {column("cust", "text", ColumnKind::PartitionKey, 0),
               column("day", "date", ColumnKind::PartitionKey, 1),
               column("id", "timeuuid", ColumnKind::Clustering, 0, true),
               column("note", "text", ColumnKind::Static),
               column("fl", "frozen<list<int>>", ColumnKind::Regular),
               column("items", "list<text>", ColumnKind::Regular)};
  return t;
}

Schema schema_with(std::vector<Table> tables, std::string version = "4.0.11") {
  Schema s;
  s.release_version = std::move(version);
  s.keyspaces.push_back(
      Keyspace{"shop", {{"class", "SimpleStrategy"}, {"replication_factor", "1"}}, true});
  s.tables = std::move(tables);
  return s;
}

TEST(Schema, IdenticalTablesHaveNoProblems) {
  Table o = orders();
  EXPECT_TRUE(compare_schemas({&o}, schema_with({orders()})).empty());
}

TEST(Schema, ReportsMissingTableColumnTypeAndKeyPerTable) {
  Table o = orders();
  EXPECT_EQ(compare_schemas({&o}, schema_with({})).size(), 1u);

  Table no_items = orders();
  no_items.columns.pop_back();
  auto p = compare_schemas({&o}, schema_with({no_items}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].message.find("'items'"), std::string::npos);

  Table other_type = orders();
  other_type.columns[4] = column("fl", "list<int>", ColumnKind::Regular);  // not frozen
  p = compare_schemas({&o}, schema_with({other_type}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].message.find("frozen<list<int>> on origin but list<int> on target"),
            std::string::npos)
      << p[0].message;

  Table other_order = orders();
  other_order.columns[2].descending = false;
  p = compare_schemas({&o}, schema_with({other_order}));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].message.find("primary key"), std::string::npos);
}

TEST(Schema, CreatesKeyspaceAndTableWithClusteringOrder) {
  Table o = orders();
  Schema origin = schema_with({o});
  Schema target;
  auto statements = schema_creation_statements(origin, {&origin.tables[0]}, target);
  ASSERT_EQ(statements.size(), 2u);
  EXPECT_EQ(statements[0],
            "CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy', "
            "'replication_factor': '1'} AND durable_writes = true");
  EXPECT_EQ(statements[1],
            "CREATE TABLE IF NOT EXISTS shop.orders (cust text, day date, id timeuuid, note text "
            "static, fl frozen<list<int>>, items list<text>, PRIMARY KEY ((cust, day), id)) WITH "
            "CLUSTERING ORDER BY (id DESC)");
}

TEST(Schema, WritetimeReadabilityFollowsTheOriginVersion) {
  Table o = orders();
  Schema v4 = schema_with({o}, "4.0.11");
  Schema v22 = schema_with({o}, "2.2.18");
  Schema v5 = schema_with({o}, "5.0.2");
  const Column& note = o.columns[3];
  const Column& frozen_list = o.columns[4];
  const Column& list = o.columns[5];
  EXPECT_TRUE(v22.writetime_readable(note));
  EXPECT_FALSE(v22.writetime_readable(frozen_list));
  EXPECT_TRUE(v4.writetime_readable(frozen_list));
  EXPECT_FALSE(v4.writetime_readable(list));
  EXPECT_TRUE(v5.writetime_readable(list));
  EXPECT_FALSE(v4.writetime_readable(o.columns[0]));  // a key column has no writetime
}

TEST(Schema, QuotesIdentifiersThatNeedIt) {
  EXPECT_EQ(quote_identifier("orders"), "orders");
  EXPECT_EQ(quote_identifier("Orders"), "\"Orders\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

TEST(Schema, SystemKeyspacesAreNeverInScope) {
  EXPECT_TRUE(is_system_keyspace("system_schema"));
  EXPECT_TRUE(is_system_keyspace("zdm_migration"));
  EXPECT_FALSE(is_system_keyspace("shop"));
}

}  // namespace
}  // namespace zdm::migrate::test
