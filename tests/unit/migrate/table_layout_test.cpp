#include "migrate/table_layout.hpp"

#include <gtest/gtest.h>

#include "protocol/cql_type.hpp"

namespace zdm::migrate::test {
namespace {

Column column(std::string name, std::string type, ColumnKind kind, int position = 0,
              bool descending = false) {
  Column c;
  c.name = std::move(name);
  c.type = *protocol::parse_cql_type(type);
  c.kind = kind;
  c.position = position;
  c.descending = descending;
  c.multi_cell = type.rfind("frozen<", 0) != 0 && c.type.is_collection();
  return c;
}

Bytes be(int64_t v, size_t n) {
  Bytes out(n);
  auto u = static_cast<uint64_t>(v);
  for (size_t i = n; i-- > 0;) {
    out[i] = static_cast<uint8_t>(u & 0xff);
    u >>= 8;
  }
  return out;
}

class TableLayoutTest : public ::testing::Test {
 protected:
  TableLayoutTest() {
    table_ = Table{"ks", "t", {}, 1, 1};
    table_.columns = {column("k", "int", ColumnKind::PartitionKey),
                      column("c", "int", ColumnKind::Clustering, 0, true),
                      column("l", "list<int>", ColumnKind::Regular),
                      column("v", "text", ColumnKind::Regular)};
    schema_.release_version = "4.0.0";
  }
  // token, k, c, l, v, writetime(v), ttl(v)
  protocol::Row row(int64_t token, int32_t k, std::optional<int32_t> c) {
    protocol::Row r{be(token, 8), be(k, 4), std::nullopt, std::nullopt,
                    Bytes{'x'},   be(5, 8), be(0, 4)};
    if (c) r[2] = be(*c, 4);
    return r;
  }
  Table table_;
  Schema schema_;
};

TEST_F(TableLayoutTest, SelectsWritetimeAndTtlOnlyWhereTheOriginCanTellThem) {
  TableLayout layout(table_, schema_, Partitioner::Murmur3);
  EXPECT_EQ(layout.range_query(true),
            "SELECT token(k), k, c, l, v, writetime(v), ttl(v) FROM ks.t WHERE token(k) > ? AND "
            "token(k) <= ?");
  EXPECT_EQ(layout.range_query(false),
            "SELECT token(k), k, c, l, v, writetime(v), ttl(v) FROM ks.t WHERE token(k) > ?");
  EXPECT_EQ(layout.row_query(true),
            "SELECT token(k), k, c, l, v, writetime(v), ttl(v) FROM ks.t WHERE k = ? AND c = ?");
  EXPECT_TRUE(layout.has_unreadable_writetimes());
  ASSERT_EQ(layout.cells().size(), 2u);
  EXPECT_FALSE(layout.cells()[0].writetime);
  EXPECT_EQ(layout.cells()[1].writetime, 5u);
}

TEST_F(TableLayoutTest, OrdersByTokenThenDescendingClusteringWithTheStaticRowFirst) {
  TableLayout layout(table_, schema_, Partitioner::Murmur3);
  EXPECT_LT(layout.compare(row(-5, 1, 1), row(3, 0, 1)), 0);
  EXPECT_LT(layout.compare(row(3, 1, 9), row(3, 1, 2)), 0);  // DESC
  EXPECT_LT(layout.compare(row(3, 1, std::nullopt), row(3, 1, 9)), 0);
  EXPECT_EQ(layout.compare(row(3, 1, 2), row(3, 1, 2)), 0);
  EXPECT_TRUE(layout.same_partition(row(3, 1, 2), row(3, 1, 7)));
  EXPECT_FALSE(layout.same_partition(row(3, 1, 2), row(3, 2, 2)));
  EXPECT_TRUE(layout.is_static_only(row(3, 1, std::nullopt)));
  EXPECT_EQ(layout.writetime(row(3, 1, 2), layout.cells()[1]), 5);
  EXPECT_EQ(layout.writetime(row(3, 1, 2), layout.cells()[0]), kNoWritetime);
  EXPECT_EQ(layout.key_text(row(3, 1, 2)), "k=1, c=2");
}

}  // namespace
}  // namespace zdm::migrate::test
