#include "journal/write_record.hpp"

#include <random>

#include <gtest/gtest.h>

#include "journal_test_util.hpp"

namespace zdm::journal {
namespace {

using testing::insert_record;
using testing::int_bytes;

WriteRecord simple_with_null_and_unset() {
  WriteRecord r;
  r.kind = RecordKind::Query;
  r.cluster = "ORIGIN";
  r.keyspace = "";
  r.consistency = protocol::Consistency::Quorum;
  r.serial_consistency = protocol::Consistency::LocalSerial;
  r.timestamp = -5;  // before the epoch: still a valid write time
  r.created_ms = 42;
  r.reason = "connection lost";
  RecordStatement s;
  s.query = "UPDATE ks.t SET a = ?, b = ? WHERE k = ?";
  s.values = {protocol::BoundValue::null(), protocol::BoundValue::unset(),
              protocol::BoundValue::set(Bytes{})};
  r.statements.push_back(s);
  return r;
}

WriteRecord batch() {
  WriteRecord r;
  r.kind = RecordKind::Batch;
  r.cluster = "TARGET";
  r.keyspace = "shop";
  r.batch_type = protocol::BatchType::Unlogged;
  r.consistency = protocol::Consistency::LocalOne;
  r.timestamp = 1'700'000'000'123'456;
  r.statements.push_back(insert_record(1).statements[0]);
  RecordStatement simple;
  simple.query = "DELETE FROM shop.orders WHERE id = ?";
  simple.values = {protocol::BoundValue::set(int_bytes(7))};
  r.statements.push_back(simple);
  r.statements.push_back(RecordStatement{"INSERT INTO shop.log (k) VALUES (1)", false, {}, {}});
  return r;
}

TEST(WriteRecordTest, RoundTripsEveryKind) {
  for (const WriteRecord& r : {insert_record(3), simple_with_null_and_unset(), batch()}) {
    Bytes encoded = encode_record(r);
    ASSERT_EQ(encoded[0], kRecordFormatVersion);
    auto decoded = decode_record(encoded);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(*decoded, r);
  }
}

TEST(WriteRecordTest, KeepsNullUnsetAndEmptyValuesApart) {
  auto decoded = decode_record(encode_record(simple_with_null_and_unset()));
  ASSERT_TRUE(decoded);
  const auto& v = decoded->statements[0].values;
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].kind, ValueView::Kind::Null);
  EXPECT_EQ(v[1].kind, ValueView::Kind::Unset);
  EXPECT_EQ(v[2].kind, ValueView::Kind::Set);
  EXPECT_TRUE(v[2].bytes.empty());
  EXPECT_EQ(decoded->serial_consistency, protocol::Consistency::LocalSerial);
}

TEST(WriteRecordTest, EncodeIntoAppendsAfterExistingBytes) {
  Bytes buf{1, 2, 3};
  encode_record_into(batch(), buf);
  EXPECT_EQ(Bytes(buf.begin() + 3, buf.end()), encode_record(batch()));
}

TEST(WriteRecordTest, RejectsEveryTruncation) {
  Bytes encoded = encode_record(batch());
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(decode_record(ByteView(encoded).first(n))) << "prefix of " << n << " bytes";
  }
}

TEST(WriteRecordTest, RejectsUnknownVersionKindAndTrailingBytes) {
  Bytes encoded = encode_record(insert_record(1));
  Bytes v = encoded;
  v[0] = 2;
  auto r = decode_record(v);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("version 2"), std::string::npos) << r.error().message;
  Bytes k = encoded;
  k[1] = 9;
  EXPECT_FALSE(decode_record(k));
  Bytes t = encoded;
  t.push_back(0);
  r = decode_record(t);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("after the record"), std::string::npos);
}

TEST(WriteRecordTest, RejectsAQueryRecordWithTwoStatements) {
  WriteRecord r = batch();
  r.kind = RecordKind::Query;
  auto decoded = decode_record(encode_record(r));
  ASSERT_FALSE(decoded);
  EXPECT_NE(decoded.error().message.find("expected 1"), std::string::npos);
}

TEST(WriteRecordTest, GarbageNeverDecodesNorCrashes) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    Bytes garbage(rng() % 300);
    for (auto& b : garbage) b = static_cast<uint8_t>(rng());
    if (!garbage.empty()) garbage[0] = kRecordFormatVersion;
    (void)decode_record(garbage);  // must not crash; most fail
  }
  // Flipping bytes of a valid record: decoding fails or yields something, never crashes.
  Bytes encoded = encode_record(batch());
  for (size_t i = 0; i < encoded.size(); ++i) {
    Bytes copy = encoded;
    copy[i] ^= 0xFF;
    (void)decode_record(copy);
  }
  EXPECT_FALSE(decode_record(Bytes{}));
}

TEST(WriteRecordTest, DescribeNamesKindClusterKeyspaceTimestampAndTruncatesTheQuery) {
  WriteRecord r = insert_record(5);
  r.statements[0].query = "INSERT INTO t (a) VALUES (?) " + std::string(300, 'x');
  std::string line = describe_record(r);
  EXPECT_NE(line.find("EXECUTE prepared -> TARGET ks=shop"), std::string::npos) << line;
  EXPECT_NE(line.find("ts=1700000000000005"), std::string::npos) << line;
  EXPECT_NE(line.find("values=4"), std::string::npos) << line;
  EXPECT_NE(line.find("...\""), std::string::npos) << line;
  EXPECT_LT(line.size(), 300u);
  EXPECT_NE(describe_record(batch()).find("BATCH UNLOGGED x3"), std::string::npos);
}

}  // namespace
}  // namespace zdm::journal
