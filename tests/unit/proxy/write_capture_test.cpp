#include "proxy/secondary/write_capture.hpp"

#include <gtest/gtest.h>

#include "protocol/message_codec.hpp"
#include "protocol/messages.hpp"

namespace zdm::proxy {
namespace {

using protocol::BoundValue;

struct Request {
  protocol::FrameHeader header;
  Bytes body;
};

Request request_of(protocol::RequestBody body) {
  Request r;
  r.header.version = protocol::ProtocolVersion::V4;
  r.header.opcode = protocol::codec::request_opcode(body);
  ByteWriter w(r.body);
  protocol::codec::encode_request(body, r.header.version, w);
  r.header.body_length = static_cast<uint32_t>(r.body.size());
  return r;
}

CaptureResult capture(const Request& r, const PreparedCache* cache = nullptr,
                      std::string_view keyspace = "ks") {
  CaptureInput in;
  in.header = &r.header;
  in.body = r.body;
  in.keyspace = keyspace;
  in.prepared = cache;
  in.secondary = ClusterType::Target;
  in.now_us = 1'700'000'000'000'000;
  in.now_ms = 1'700'000'000'000;
  return capture_write(in);
}

protocol::QueryMessage query(std::string text, std::optional<int64_t> timestamp = std::nullopt) {
  protocol::QueryMessage q;
  q.query = std::move(text);
  q.parameters.consistency = protocol::Consistency::LocalQuorum;
  q.parameters.values = std::vector<BoundValue>{BoundValue::set({0, 0, 0, 7})};
  q.parameters.default_timestamp = timestamp;
  return q;
}

TEST(AsyncStatementCheck, PlainWritesAreEligible) {
  for (const char* cql :
       {"INSERT INTO t (k, v) VALUES (?, ?)",
        "insert into ks.t (k, v) values (1, 'x') using ttl 10", "UPDATE t SET v = ? WHERE k = ?",
        "UPDATE t USING TTL 5 SET v = -1 WHERE k = 1", "UPDATE t SET v = 'a-b+c' WHERE k = 1",
        "DELETE FROM t WHERE k = 1", "DELETE v FROM t WHERE k = 1",
        "BEGIN BATCH INSERT INTO t (k) VALUES (1); UPDATE t SET v = 2 WHERE k = 3; "
        "APPLY BATCH",
        "BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (1) APPLY BATCH"}) {
    EXPECT_EQ(check_async_statement(cql), AsyncWriteCheck::Eligible) << cql;
  }
}

TEST(AsyncStatementCheck, WhatMustStaySynchronous) {
  EXPECT_EQ(check_async_statement("SELECT * FROM t"), AsyncWriteCheck::NotAWrite);
  EXPECT_EQ(check_async_statement("CREATE TABLE t (k int PRIMARY KEY)"),
            AsyncWriteCheck::NotAWrite);
  EXPECT_EQ(check_async_statement("TRUNCATE t"), AsyncWriteCheck::NotAWrite);
  EXPECT_EQ(check_async_statement("INSERT INTO t (k) VALUES (1) IF NOT EXISTS"),
            AsyncWriteCheck::Conditional);
  EXPECT_EQ(check_async_statement("UPDATE t SET v = 1 WHERE k = 1 IF v = 0"),
            AsyncWriteCheck::Conditional);
  EXPECT_EQ(check_async_statement("DELETE FROM t WHERE k = 1 IF EXISTS"),
            AsyncWriteCheck::Conditional);
  EXPECT_EQ(check_async_statement("UPDATE t SET c = c + 1 WHERE k = 1"),
            AsyncWriteCheck::ReadsCurrentValue);
  EXPECT_EQ(check_async_statement("UPDATE t SET l = l + [1] WHERE k = 1"),
            AsyncWriteCheck::ReadsCurrentValue);
  EXPECT_EQ(check_async_statement("UPDATE t SET l = [0] + l WHERE k = 1"),
            AsyncWriteCheck::ReadsCurrentValue);
  EXPECT_EQ(check_async_statement("UPDATE t SET c = c - ? WHERE k = 1"),
            AsyncWriteCheck::ReadsCurrentValue);
  EXPECT_EQ(check_async_statement("BEGIN COUNTER BATCH UPDATE t SET c = c + 1 WHERE k = 1 APPLY "
                                  "BATCH"),
            AsyncWriteCheck::CounterBatch);
  EXPECT_EQ(check_async_statement("BEGIN BATCH INSERT INTO t (k) VALUES (1); UPDATE t SET c = c "
                                  "+ 1 WHERE k = 1; APPLY BATCH"),
            AsyncWriteCheck::ReadsCurrentValue);
}

TEST(CaptureWrite, ClientTimestampIsKeptAndTheBodyUnchanged) {
  auto r = request_of(query("INSERT INTO t (k) VALUES (?)", 42));
  auto c = capture(r);
  ASSERT_TRUE(c.write) << async_write_check_name(c.check);
  EXPECT_FALSE(c.write->body_with_timestamp);
  const auto& rec = c.write->record;
  EXPECT_EQ(rec.kind, journal::RecordKind::Query);
  EXPECT_EQ(rec.cluster, "TARGET");
  EXPECT_EQ(rec.keyspace, "ks");
  EXPECT_EQ(rec.timestamp, 42);
  EXPECT_EQ(rec.consistency, protocol::Consistency::LocalQuorum);
  ASSERT_EQ(rec.statements.size(), 1u);
  EXPECT_EQ(rec.statements[0].query, "INSERT INTO t (k) VALUES (?)");
  EXPECT_FALSE(rec.statements[0].prepared);
  ASSERT_EQ(rec.statements[0].values.size(), 1u);
  EXPECT_EQ(rec.statements[0].values[0], BoundValue::set({0, 0, 0, 7}));
}

TEST(CaptureWrite, AWriteWithoutTimestampGetsTheProxysOnBothClusters) {
  auto r = request_of(query("UPDATE t SET v = ? WHERE k = 1"));
  auto c = capture(r);
  ASSERT_TRUE(c.write);
  ASSERT_TRUE(c.write->body_with_timestamp);
  EXPECT_EQ(c.write->record.timestamp, 1'700'000'000'000'000);
  // The primary's body: the client's request plus that timestamp, nothing else changed.
  auto decoded = protocol::decode_message(r.header, *c.write->body_with_timestamp);
  ASSERT_TRUE(decoded);
  auto expected = query("UPDATE t SET v = ? WHERE k = 1", 1'700'000'000'000'000);
  EXPECT_EQ(std::get<protocol::QueryMessage>(std::get<protocol::RequestBody>(decoded->body)),
            expected);
}

TEST(CaptureWrite, ConditionalAndReadsStaySynchronous) {
  EXPECT_EQ(capture(request_of(query("INSERT INTO t (k) VALUES (?) IF NOT EXISTS", 1))).check,
            AsyncWriteCheck::Conditional);
  EXPECT_EQ(capture(request_of(query("SELECT * FROM t WHERE k = ?", 1))).check,
            AsyncWriteCheck::NotAWrite);
  auto named = query("INSERT INTO t (k) VALUES (:k)", 1);
  named.parameters.named_values = true;
  named.parameters.value_names = {"k"};
  EXPECT_EQ(capture(request_of(named)).check, AsyncWriteCheck::NamedValues);
}

TEST(CaptureWrite, ExecuteTakesTheStatementTextFromThePreparedCache) {
  PreparedCache cache(16);
  PreparedEntry entry;
  entry.origin_id = {1, 2, 3};
  entry.target_id = {9, 9};
  entry.query = "INSERT INTO t (k, v) VALUES (?, ?)";
  entry.keyspace = "app";
  cache.put(entry);

  protocol::ExecuteMessage e;
  e.id = {1, 2, 3};
  e.parameters.consistency = protocol::Consistency::Quorum;
  e.parameters.values = std::vector<BoundValue>{BoundValue::set({1}), BoundValue::null()};
  e.parameters.default_timestamp = 7;
  auto c = capture(request_of(e), &cache, "other");
  ASSERT_TRUE(c.write);
  const auto& rec = c.write->record;
  EXPECT_EQ(rec.kind, journal::RecordKind::Execute);
  EXPECT_EQ(rec.keyspace, "app");  // where the statement was prepared
  EXPECT_EQ(rec.consistency, protocol::Consistency::Quorum);
  ASSERT_EQ(rec.statements.size(), 1u);
  EXPECT_TRUE(rec.statements[0].prepared);
  EXPECT_EQ(rec.statements[0].query, entry.query);
  EXPECT_EQ(rec.statements[0].prepared_id, (Bytes{1, 2, 3}));
  EXPECT_EQ(rec.statements[0].values.size(), 2u);

  e.id = {4, 4};
  EXPECT_EQ(capture(request_of(e), &cache).check, AsyncWriteCheck::UnknownStatement);
}

TEST(CaptureWrite, BatchChildrenAndCounterBatches) {
  PreparedCache cache(16);
  PreparedEntry entry;
  entry.origin_id = {5};
  entry.query = "DELETE FROM t WHERE k = ?";
  entry.keyspace = "ks";
  cache.put(entry);

  protocol::BatchMessage b;
  b.type = protocol::BatchType::Unlogged;
  b.consistency = protocol::Consistency::One;
  protocol::BatchStatement simple;
  simple.query = "INSERT INTO t (k) VALUES (?)";
  simple.values = {BoundValue::set({1})};
  protocol::BatchStatement prepared;
  prepared.kind = protocol::BatchStatement::Kind::Prepared;
  prepared.id = {5};
  prepared.values = {BoundValue::set({2})};
  b.statements = {simple, prepared};
  auto c = capture(request_of(b), &cache);
  ASSERT_TRUE(c.write) << async_write_check_name(c.check);
  ASSERT_TRUE(c.write->body_with_timestamp);  // no client timestamp
  const auto& rec = c.write->record;
  EXPECT_EQ(rec.kind, journal::RecordKind::Batch);
  EXPECT_EQ(rec.batch_type, protocol::BatchType::Unlogged);
  ASSERT_EQ(rec.statements.size(), 2u);
  EXPECT_EQ(rec.statements[0].query, simple.query);
  EXPECT_EQ(rec.statements[1].query, entry.query);
  EXPECT_TRUE(rec.statements[1].prepared);
  // The re-encoded batch still holds both children.
  auto decoded = protocol::decode_message(request_of(b).header, *c.write->body_with_timestamp);
  ASSERT_TRUE(decoded);
  const auto& again =
      std::get<protocol::BatchMessage>(std::get<protocol::RequestBody>(decoded->body));
  EXPECT_EQ(again.statements, b.statements);
  EXPECT_EQ(again.default_timestamp, rec.timestamp);

  b.type = protocol::BatchType::Counter;
  EXPECT_EQ(capture(request_of(b), &cache).check, AsyncWriteCheck::CounterBatch);
}

}  // namespace
}  // namespace zdm::proxy
