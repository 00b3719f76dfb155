#include "protocol/row_reader.hpp"

#include <gtest/gtest.h>

namespace zdm::protocol::test {
namespace {

RowsMetadata metadata() {
  RowsMetadata m;
  auto column = [](std::string name, DataType type) {
    return ColumnSpec{"ks", "t", std::move(name), std::move(type)};
  };
  m.columns = {column("name", DataType::simple(TypeId::Varchar)),
               column("n", DataType::simple(TypeId::Bigint)),
               column("i", DataType::simple(TypeId::Int)),
               column("addr", DataType::simple(TypeId::Inet)),
               column("id", DataType::simple(TypeId::Uuid)),
               column("tokens", DataType::set_of(DataType::simple(TypeId::Varchar)))};
  m.column_count = static_cast<int32_t>(m.columns.size());
  return m;
}

TEST(RowReader, ReadsCellsByColumnNameAndEmptyForNullOrMissing) {
  Bytes tokens;
  ASSERT_TRUE(encode_value(DataType::set_of(DataType::simple(TypeId::Varchar)),
                           Value::elements({Value::text("-3"), Value::text("7")}), tokens,
                           ProtocolVersion::V4));
  Uuid id{};
  id[15] = 9;
  Row row{Bytes{'d', 'c', '1'},          Bytes{0, 0, 0, 0, 0, 0, 1, 0},
          Bytes{0xff, 0xff, 0xff, 0xfe}, Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
          Bytes(id.begin(), id.end()),   tokens};
  const auto meta = metadata();
  RowReader r(meta, row);
  EXPECT_EQ(r.text("name"), "dc1");
  EXPECT_EQ(r.bigint("n"), 256);
  EXPECT_EQ(r.int32("i"), -2);
  EXPECT_EQ(r.inet("addr"), "::1");
  EXPECT_EQ(r.uuid("id"), id);
  EXPECT_EQ(r.text_list("tokens"), (std::vector<std::string>{"-3", "7"}));
  EXPECT_FALSE(r.text("missing"));
  EXPECT_FALSE(r.int32("n"));  // a bigint is not read as an int

  Row nulls(6);
  RowReader empty(meta, nulls);
  EXPECT_FALSE(empty.text("name"));
  EXPECT_FALSE(empty.inet("addr"));
  EXPECT_TRUE(empty.text_list("tokens").empty());
}

}  // namespace
}  // namespace zdm::protocol::test
