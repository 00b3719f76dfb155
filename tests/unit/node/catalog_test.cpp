// Schema catalog: keyspaces, types, tables, ALTER, and the schema version.

#include "node/storage/catalog.hpp"

#include <gtest/gtest.h>

#include "node/storage/storage_engine.hpp"
#include "node_test_util.hpp"

namespace zdm::node::test {
namespace {

using protocol::DataType;

std::vector<ColumnDefinition> simple_table() {
  return {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
          {"ck", DataType::simple(TypeId::Int), ColumnKind::Clustering, ClusteringOrder::Desc},
          {"v", DataType::simple(TypeId::Varchar)}};
}

TEST(CatalogTest, SchemaVersionChangesOnEverySchemaChange) {
  Catalog catalog;
  Uuid version = catalog.schema_version();
  auto changed = [&] {
    Uuid now = catalog.schema_version();
    bool differs = now != version;
    version = now;
    return differs;
  };
  ASSERT_TRUE(catalog.create_keyspace(
      {"ks", {{"class", "SimpleStrategy"}, {"replication_factor", "1"}}, true}));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.create_type({"ks", "addr", {"street"}, {DataType::simple(TypeId::Varchar)}}));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.create_table("ks", "t", simple_table()));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.add_column("ks", "t", {"x", DataType::simple(TypeId::Int)}));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.drop_column("ks", "t", "x"));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.drop_table("ks", "t"));
  EXPECT_TRUE(changed());
  ASSERT_TRUE(catalog.drop_keyspace("ks"));
  EXPECT_TRUE(changed());
  EXPECT_FALSE(catalog.drop_keyspace("ks"));
  EXPECT_FALSE(changed());  // failed changes leave the version alone
}

TEST(CatalogTest, ReportsExistingAndMissingObjects) {
  Catalog catalog;
  EXPECT_FALSE(catalog.create_table("nope", "t", simple_table()));
  ASSERT_TRUE(catalog.create_keyspace({"ks", {}, false}));
  EXPECT_FALSE(catalog.create_keyspace({"ks", {}, true}));
  EXPECT_FALSE(catalog.find_keyspace("ks")->durable_writes);
  ASSERT_TRUE(catalog.create_table("ks", "t", simple_table()));
  auto again = catalog.create_table("ks", "t", simple_table());
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  EXPECT_FALSE(catalog.drop_table("ks", "missing"));
  EXPECT_FALSE(catalog.add_column("ks", "t", {"v", DataType::simple(TypeId::Int)}));
  EXPECT_FALSE(catalog.drop_column("ks", "t", "pk"));
  EXPECT_FALSE(catalog.drop_column("ks", "t", "missing"));
  EXPECT_FALSE(
      catalog.add_column("ks", "t", {"k2", DataType::simple(TypeId::Int), ColumnKind::Clustering}));
  EXPECT_EQ(catalog.find_table("ks", "missing"), nullptr);
}

TEST(CatalogTest, ValidatesTableDefinitions) {
  Catalog catalog;
  ASSERT_TRUE(catalog.create_keyspace({"ks", {}, true}));
  // No partition key.
  EXPECT_FALSE(catalog.create_table("ks", "a", {{"v", DataType::simple(TypeId::Int)}}));
  // Duplicate names.
  EXPECT_FALSE(
      catalog.create_table("ks", "b",
                           {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                            {"pk", DataType::simple(TypeId::Int)}}));
  // Static without clustering.
  EXPECT_FALSE(
      catalog.create_table("ks", "c",
                           {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                            {"s", DataType::simple(TypeId::Int), ColumnKind::Static}}));
  // Multi-cell non-collection.
  EXPECT_FALSE(
      catalog.create_table("ks", "d",
                           {{"pk", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                            {"x", DataType::simple(TypeId::Int), ColumnKind::Regular,
                             ClusteringOrder::Asc, CellLayout::MultiCell}}));
  auto ok =
      catalog.create_table("ks", "e",
                           {{"a", DataType::simple(TypeId::Int), ColumnKind::PartitionKey},
                            {"b", DataType::simple(TypeId::Varchar), ColumnKind::PartitionKey},
                            {"c", DataType::simple(TypeId::Int), ColumnKind::Clustering},
                            {"tags", DataType::set_of(DataType::simple(TypeId::Varchar)),
                             ColumnKind::Regular, ClusteringOrder::Asc, CellLayout::MultiCell}});
  ASSERT_TRUE(ok);
  const auto& schema = **ok;
  ASSERT_EQ(schema.partition_key().size(), 2u);
  EXPECT_EQ(schema.partition_key()[1]->name, "b");
  EXPECT_TRUE(schema.find_column("tags")->is_multi_cell());
  EXPECT_FALSE(schema.is_counter_table());
}

TEST(CatalogTest, ReAddedColumnGetsANewId) {
  Catalog catalog;
  ASSERT_TRUE(catalog.create_keyspace({"ks", {}, true}));
  auto t = catalog.create_table("ks", "t", simple_table());
  ASSERT_TRUE(t);
  const ColumnId old_id = (*t)->find_column("v")->id;
  ASSERT_TRUE(catalog.drop_column("ks", "t", "v"));
  auto readded = catalog.add_column("ks", "t", {"v", DataType::simple(TypeId::Varchar)});
  ASSERT_TRUE(readded);
  EXPECT_NE((*readded)->find_column("v")->id, old_id);
  // The earlier snapshot is unchanged.
  EXPECT_EQ((*t)->find_column("v")->id, old_id);
}

TEST(StorageEngineTest, TruncateAndDropRemoveData) {
  StorageEngine engine;
  ASSERT_TRUE(engine.create_keyspace({"ks", {}, true}));
  auto t = engine.create_table("ks", "t", simple_table());
  ASSERT_TRUE(t);
  const ColumnId v = (*t)->schema()->find_column("v")->id;
  Mutation mu;
  mu.partition_key = i32(1);
  mu.rows.push_back(
      RowWrite{{i32(1)}, std::nullopt, std::nullopt, {ColumnOp::set(v, txt("x"), 1)}});
  ASSERT_TRUE((*t)->apply(mu));
  EXPECT_EQ((*t)->partition_count(), 1u);
  ASSERT_TRUE(engine.truncate("ks", "t"));
  EXPECT_TRUE((*t)->read(ReadCommand::full_scan())->rows.empty());
  ASSERT_TRUE(engine.drop_keyspace("ks"));
  EXPECT_EQ(engine.table("ks", "t"), nullptr);
  EXPECT_FALSE(engine.truncate("ks", "t"));
}

TEST(PartitionKeyTest, CompoundKeysUseCompositeEncoding) {
  const Bytes a = i32(1);
  const Bytes b = txt("x");
  const ByteView parts[] = {a, b};
  auto key = partition_key_bytes(parts);
  ASSERT_TRUE(key);
  EXPECT_EQ(to_hex(*key),
            "00040000000100000178"
            "00");
  const ByteView single[] = {a};
  EXPECT_EQ(*partition_key_bytes(single), a);
}

}  // namespace
}  // namespace zdm::node::test
