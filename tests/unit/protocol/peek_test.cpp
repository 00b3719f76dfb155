#include "protocol/peek.hpp"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/message_codec.hpp"

namespace zdm::protocol {
namespace {

constexpr ProtocolVersion kAllVersions[] = {ProtocolVersion::V3, ProtocolVersion::V4,
                                            ProtocolVersion::V5, ProtocolVersion::DseV1,
                                            ProtocolVersion::DseV2};

std::string str(ByteView b) { return std::string(as_chars(b)); }
ByteView view(const std::string& s) { return as_bytes(s); }

FrameHeader request(ProtocolVersion v, Opcode op, uint8_t flags = 0) {
  FrameHeader h;
  h.version = v;
  h.direction = Direction::Request;
  h.opcode = op;
  h.flags = flags;
  h.stream = StreamId{7};
  return h;
}

// A test-side encoder for <query_parameters>, written from the specs independently of peek.cpp.
struct Params {
  uint16_t consistency = 0x0006;                   // LOCAL_QUORUM
  std::vector<std::optional<std::string>> values;  // nullopt: null
  bool with_values = false;
  bool names = false;
  bool unset_last = false;  // append a 'not set' value
  std::optional<int32_t> page_size;
  std::optional<std::string> paging_state;
  std::optional<uint16_t> serial;
  std::optional<int64_t> timestamp;
  std::optional<std::string> keyspace;
  std::optional<int32_t> now_in_seconds;
  bool continuous_paging = false;
  bool skip_metadata = false;
};

void write_params(ByteWriter& w, ProtocolVersion v, const Params& p) {
  uint32_t flags = 0;
  if (p.with_values) flags |= query_flags::kValues;
  if (p.skip_metadata) flags |= query_flags::kSkipMetadata;
  if (p.page_size) flags |= query_flags::kPageSize;
  if (p.paging_state) flags |= query_flags::kPagingState;
  if (p.serial) flags |= query_flags::kSerialConsistency;
  if (p.timestamp) flags |= query_flags::kDefaultTimestamp;
  if (p.names) flags |= query_flags::kNamesForValues;
  if (p.keyspace) flags |= query_flags::kKeyspace;
  if (p.now_in_seconds) flags |= query_flags::kNowInSeconds;
  if (p.continuous_paging) flags |= query_flags::kContinuousPaging;
  w.write_u16(p.consistency);
  if (uses_int_query_flags(v)) {
    w.write_u32(flags);
  } else {
    w.write_u8(static_cast<uint8_t>(flags));
  }
  if (p.with_values) {
    w.write_u16(static_cast<uint16_t>(p.values.size() + (p.unset_last ? 1 : 0)));
    int i = 0;
    for (const auto& value : p.values) {
      if (p.names) w.write_string("name" + std::to_string(i++));
      if (value) {
        w.write_value(ValueView::set(view(*value)));
      } else {
        w.write_value(ValueView::null());
      }
    }
    if (p.unset_last) {
      if (p.names) w.write_string("unset");
      w.write_value(ValueView::unset());
    }
  }
  if (p.page_size) w.write_i32(*p.page_size);
  if (p.paging_state) w.write_bytes(view(*p.paging_state));
  if (p.serial) w.write_u16(*p.serial);
  if (p.timestamp) w.write_i64(*p.timestamp);
  if (p.keyspace) w.write_string(*p.keyspace);
  if (p.now_in_seconds) w.write_i32(*p.now_in_seconds);
  if (p.continuous_paging) {
    w.write_i32(10);
    w.write_i32(20);
    if (v == ProtocolVersion::DseV2) w.write_i32(30);
  }
}

// Every field each version can carry.
Params full_params(ProtocolVersion v) {
  Params p;
  p.with_values = true;
  p.values = {std::string("\x00\x00\x00\x01", 4), std::nullopt, std::string("text")};
  p.unset_last = supports_unset_values(v);
  p.page_size = 5000;
  p.paging_state = std::string("\x01\x02\x03", 3);
  p.serial = 0x0009;  // LOCAL_SERIAL
  p.timestamp = 1700000000123456;
  if (uses_keyspace_flag(v)) p.keyspace = "ks1";
  if (uses_now_in_seconds(v)) p.now_in_seconds = 1700000000;
  p.continuous_paging = uses_continuous_paging(v);
  return p;
}

void write_custom_payload(ByteWriter& w) {
  w.write_u16(1);
  w.write_string("k");
  w.write_bytes(view("payload"));
}

Bytes query_body(ProtocolVersion v, const std::string& q, const Params& p, bool payload = false) {
  Bytes b;
  ByteWriter w(b);
  if (payload) write_custom_payload(w);
  w.write_long_string(q);
  write_params(w, v, p);
  return b;
}

Bytes execute_body(ProtocolVersion v, const std::string& id, const std::string& md_id,
                   const Params& p, bool payload = false) {
  Bytes b;
  ByteWriter w(b);
  if (payload) write_custom_payload(w);
  w.write_short_bytes(view(id));
  if (uses_prepared_metadata(v)) w.write_short_bytes(view(md_id));
  write_params(w, v, p);
  return b;
}

struct Child {
  bool prepared;
  std::string text_or_id;
  int values;
};

Bytes batch_body(ProtocolVersion v, uint8_t type, const std::vector<Child>& children,
                 const Params& p) {
  Bytes b;
  ByteWriter w(b);
  w.write_u8(type);
  w.write_u16(static_cast<uint16_t>(children.size()));
  for (const Child& c : children) {
    w.write_u8(c.prepared ? 1 : 0);
    if (c.prepared) {
      w.write_short_bytes(view(c.text_or_id));
    } else {
      w.write_long_string(c.text_or_id);
    }
    w.write_u16(static_cast<uint16_t>(c.values));
    for (int i = 0; i < c.values; ++i) w.write_value(ValueView::set(view("v" + std::to_string(i))));
  }
  w.write_u16(p.consistency);
  uint32_t flags = 0;
  if (p.serial) flags |= query_flags::kSerialConsistency;
  if (p.timestamp) flags |= query_flags::kDefaultTimestamp;
  if (p.keyspace) flags |= query_flags::kKeyspace;
  if (p.now_in_seconds) flags |= query_flags::kNowInSeconds;
  if (uses_int_query_flags(v)) {
    w.write_u32(flags);
  } else {
    w.write_u8(static_cast<uint8_t>(flags));
  }
  if (p.serial) w.write_u16(*p.serial);
  if (p.timestamp) w.write_i64(*p.timestamp);
  if (p.keyspace) w.write_string(*p.keyspace);
  if (p.now_in_seconds) w.write_i32(*p.now_in_seconds);
  return b;
}

void expect_params(const QueryParamsPeek& got, const Params& want, ProtocolVersion v) {
  SCOPED_TRACE(std::string(protocol_version_name(v)));
  EXPECT_EQ(got.consistency, want.consistency);
  EXPECT_EQ(got.value_count, want.values.size() + (want.unset_last ? 1 : 0));
  EXPECT_EQ(got.page_size, want.page_size);
  ASSERT_EQ(got.paging_state.has_value(), want.paging_state.has_value());
  if (want.paging_state) {
    EXPECT_EQ(str(*got.paging_state), *want.paging_state);
  }
  EXPECT_EQ(got.serial_consistency, want.serial);
  EXPECT_EQ(got.default_timestamp, want.timestamp);
  ASSERT_EQ(got.keyspace.has_value(), want.keyspace.has_value());
  if (want.keyspace) {
    EXPECT_EQ(*got.keyspace, *want.keyspace);
  }
  EXPECT_EQ(got.now_in_seconds, want.now_in_seconds);
  EXPECT_EQ(got.has_flag(query_flags::kContinuousPaging), want.continuous_paging);
  EXPECT_EQ(got.has_flag(query_flags::kSkipMetadata), want.skip_metadata);
}

void expect_same_params(const QueryParamsPeek& a, const QueryParamsPeek& b) {
  EXPECT_EQ(a.consistency, b.consistency);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.value_count, b.value_count);
  EXPECT_EQ(a.page_size, b.page_size);
  ASSERT_EQ(a.paging_state.has_value(), b.paging_state.has_value());
  if (a.paging_state) {
    EXPECT_EQ(str(*a.paging_state), str(*b.paging_state));
  }
  EXPECT_EQ(a.serial_consistency, b.serial_consistency);
  EXPECT_EQ(a.default_timestamp, b.default_timestamp);
  EXPECT_EQ(a.keyspace, b.keyspace);
  EXPECT_EQ(a.now_in_seconds, b.now_in_seconds);
}

TEST(PeekQuery, ReadsEveryFieldInEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    const Params p = full_params(v);
    const Bytes body = query_body(v, "SELECT * FROM t WHERE k = ?", p);
    auto q = peek_query(request(v, Opcode::Query), body);
    ASSERT_TRUE(q.has_value()) << protocol_version_name(v) << ": " << q.error().to_string();
    EXPECT_EQ(q->query, "SELECT * FROM t WHERE k = ?");
    expect_params(q->params, p, v);
  }
}

TEST(PeekQuery, ReadsMinimalQueryWithNoOptionalFields) {
  for (ProtocolVersion v : kAllVersions) {
    Params p;
    p.consistency = 1;
    const Bytes body = query_body(v, "", p);
    auto q = peek_query(request(v, Opcode::Query), body);
    ASSERT_TRUE(q.has_value()) << q.error().to_string();
    EXPECT_EQ(q->query, "");
    expect_params(q->params, p, v);
    EXPECT_EQ(body.size(), 4u + 2u + (uses_int_query_flags(v) ? 4u : 1u));
  }
}

TEST(PeekQuery, SkipsNamedValues) {
  for (ProtocolVersion v : kAllVersions) {
    Params p = full_params(v);
    p.names = true;
    const Bytes body = query_body(v, "INSERT INTO t (k) VALUES (:k)", p);
    auto q = peek_query(request(v, Opcode::Query), body);
    ASSERT_TRUE(q.has_value()) << q.error().to_string();
    expect_params(q->params, p, v);
  }
}

TEST(PeekQuery, SkipsCustomPayloadWhenFlagged) {
  const Params p = full_params(ProtocolVersion::V4);
  const Bytes body = query_body(ProtocolVersion::V4, "SELECT 1", p, /*payload=*/true);
  auto q =
      peek_query(request(ProtocolVersion::V4, Opcode::Query, frame_flags::kCustomPayload), body);
  ASSERT_TRUE(q.has_value()) << q.error().to_string();
  EXPECT_EQ(q->query, "SELECT 1");
  expect_params(q->params, p, ProtocolVersion::V4);
  // Without the flag the payload is read as the query and fails.
  EXPECT_FALSE(peek_query(request(ProtocolVersion::V4, Opcode::Query), body).has_value());
}

TEST(PeekQuery, IgnoresKeyspaceFlagWhereTheVersionHasNoKeyspace) {
  // 0x80 means nothing in v4 (a [byte] flag) or DSE_V1: no keyspace string is read.
  for (ProtocolVersion v : {ProtocolVersion::V4, ProtocolVersion::DseV1}) {
    Bytes body;
    ByteWriter w(body);
    w.write_long_string("SELECT 1");
    w.write_u16(1);
    if (uses_int_query_flags(v)) {
      w.write_u32(query_flags::kKeyspace);
    } else {
      w.write_u8(static_cast<uint8_t>(query_flags::kKeyspace));
    }
    auto q = peek_query(request(v, Opcode::Query), body);
    ASSERT_TRUE(q.has_value()) << q.error().to_string();
    EXPECT_FALSE(q->params.keyspace.has_value());
  }
}

TEST(PeekQuery, RejectsUnsetValueInV3AndInvalidNegativeLengths) {
  Params p;
  p.with_values = true;
  p.unset_last = true;
  auto v3 = peek_query(request(ProtocolVersion::V3, Opcode::Query),
                       query_body(ProtocolVersion::V3, "q", p));
  ASSERT_FALSE(v3.has_value());
  EXPECT_EQ(v3.error().code, Errc::Malformed);

  Bytes body;
  ByteWriter w(body);
  w.write_long_string("q");
  w.write_u16(1);
  w.write_u8(query_flags::kValues);
  w.write_u16(1);
  w.write_i32(-3);
  auto bad = peek_query(request(ProtocolVersion::V4, Opcode::Query), body);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::Malformed);
  EXPECT_NE(bad.error().message.find("-3"), std::string::npos) << bad.error().message;
}

TEST(PeekQuery, RejectsNegativeQueryLength) {
  Bytes body;
  ByteWriter w(body);
  w.write_i32(-1);
  auto q = peek_query(request(ProtocolVersion::V4, Opcode::Query), body);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code, Errc::Malformed);
}

TEST(PeekQuery, IgnoresTrailingBytes) {
  Bytes body = query_body(ProtocolVersion::V4, "q", Params{});
  body.push_back(0xAB);
  EXPECT_TRUE(peek_query(request(ProtocolVersion::V4, Opcode::Query), body).has_value());
}

TEST(PeekExecute, ReadsEveryFieldInEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    const Params p = full_params(v);
    const Bytes body = execute_body(v, "prepared-id-16b!", "md-id", p);
    auto e = peek_execute(request(v, Opcode::Execute), body);
    ASSERT_TRUE(e.has_value()) << protocol_version_name(v) << ": " << e.error().to_string();
    EXPECT_EQ(str(e->prepared_id), "prepared-id-16b!");
    EXPECT_EQ(e->result_metadata_id.has_value(), uses_prepared_metadata(v));
    if (e->result_metadata_id) {
      EXPECT_EQ(str(*e->result_metadata_id), "md-id");
    }
    expect_params(e->params, p, v);
  }
}

TEST(PeekPrepare, ReadsQueryAndKeyspacePerVersion) {
  for (ProtocolVersion v : kAllVersions) {
    Bytes body;
    ByteWriter w(body);
    w.write_long_string("SELECT * FROM t");
    if (uses_prepare_flags(v)) {
      w.write_u32(kPrepareWithKeyspace);
      w.write_string("ks9");
    }
    auto p = peek_prepare(request(v, Opcode::Prepare), body);
    ASSERT_TRUE(p.has_value()) << p.error().to_string();
    EXPECT_EQ(p->query, "SELECT * FROM t");
    ASSERT_EQ(p->keyspace.has_value(), uses_keyspace_flag(v));
    if (p->keyspace) {
      EXPECT_EQ(*p->keyspace, "ks9");
    }
  }
}

TEST(PeekPrepare, V5WithoutKeyspaceFlagHasNoKeyspace) {
  Bytes body;
  ByteWriter w(body);
  w.write_long_string("SELECT 1");
  w.write_u32(0);
  auto p = peek_prepare(request(ProtocolVersion::V5, Opcode::Prepare), body);
  ASSERT_TRUE(p.has_value());
  EXPECT_FALSE(p->keyspace.has_value());
  EXPECT_EQ(p->flags, 0u);
}

const std::vector<Child> kChildren = {
    {false, "INSERT INTO t (k, v) VALUES (?, ?)", 2},
    {true, "id-one", 3},
    {false, "UPDATE t SET v = 1 WHERE k = 0", 0},
    {true, "id-two-longer", 1},
};

void expect_children(const BatchPeek& b, const std::vector<Child>& want) {
  ASSERT_EQ(b.child_count(), want.size());
  size_t i = 0;
  for (const BatchChildPeek& c : b.children) {
    ASSERT_LT(i, want.size());
    EXPECT_EQ(c.kind == BatchChildPeek::Kind::Prepared, want[i].prepared);
    if (want[i].prepared) {
      EXPECT_EQ(str(c.prepared_id), want[i].text_or_id);
    } else {
      EXPECT_EQ(c.query, want[i].text_or_id);
    }
    EXPECT_EQ(c.value_count, want[i].values);
    ++i;
  }
  EXPECT_EQ(i, want.size());
}

Params batch_params(ProtocolVersion v) {
  Params p;
  p.consistency = 0x0004;
  p.serial = 0x0008;
  p.timestamp = 42;
  if (uses_keyspace_flag(v)) p.keyspace = "bks";
  if (uses_now_in_seconds(v)) p.now_in_seconds = 77;
  return p;
}

TEST(PeekBatch, ReadsTypeChildrenAndTrailerInEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    SCOPED_TRACE(std::string(protocol_version_name(v)));
    const Params p = batch_params(v);
    const Bytes body = batch_body(v, 1, kChildren, p);
    auto b = peek_batch(request(v, Opcode::Batch), body);
    ASSERT_TRUE(b.has_value()) << b.error().to_string();
    EXPECT_EQ(b->batch_type, 1);
    expect_children(*b, kChildren);
    EXPECT_EQ(b->consistency, 0x0004);
    EXPECT_EQ(b->serial_consistency, p.serial);
    EXPECT_EQ(b->default_timestamp, p.timestamp);
    EXPECT_EQ(b->keyspace.has_value(), p.keyspace.has_value());
    if (p.keyspace) {
      EXPECT_EQ(*b->keyspace, *p.keyspace);
    }
    EXPECT_EQ(b->now_in_seconds, p.now_in_seconds);
  }
}

TEST(PeekBatch, HandlesEmptyBatch) {
  auto b = peek_batch(request(ProtocolVersion::V4, Opcode::Batch),
                      batch_body(ProtocolVersion::V4, 0, {}, Params{}));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->child_count(), 0);
  EXPECT_EQ(b->children.begin(), b->children.end());
}

TEST(PeekBatch, RejectsUnknownBatchTypeAndChildKind) {
  Bytes body = batch_body(ProtocolVersion::V4, 3, kChildren, Params{});
  auto bad_type = peek_batch(request(ProtocolVersion::V4, Opcode::Batch), body);
  ASSERT_FALSE(bad_type.has_value());
  EXPECT_EQ(bad_type.error().code, Errc::Malformed);

  body = batch_body(ProtocolVersion::V4, 0, kChildren, Params{});
  body[3] = 2;  // first child's kind (after type [byte] and count [short])
  auto bad_kind = peek_batch(request(ProtocolVersion::V4, Opcode::Batch), body);
  ASSERT_FALSE(bad_kind.has_value());
  EXPECT_EQ(bad_kind.error().code, Errc::Malformed);
  EXPECT_NE(bad_kind.error().message.find("offset 3"), std::string::npos)
      << bad_kind.error().message;
}

TEST(PeekRegister, ReadsEventTypes) {
  Bytes body;
  ByteWriter w(body);
  w.write_u16(3);
  w.write_string("TOPOLOGY_CHANGE");
  w.write_string("SCHEMA_CHANGE");
  w.write_string("SOMETHING_ELSE");
  auto r = peek_register(request(ProtocolVersion::V4, Opcode::Register), body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->events, event_types::kTopologyChange | event_types::kSchemaChange);
  EXPECT_EQ(r->count, 3);
  EXPECT_EQ(r->unknown_count, 1);
}

TEST(PeekRequest, DispatchesOnOpcodeAndRejectsResponsesAndWrongOpcodes) {
  const Bytes body = query_body(ProtocolVersion::V4, "SELECT 1", Params{});
  auto any = peek_request(request(ProtocolVersion::V4, Opcode::Query), body);
  ASSERT_TRUE(any.has_value());
  ASSERT_TRUE(std::holds_alternative<QueryPeek>(*any));
  EXPECT_EQ(std::get<QueryPeek>(*any).query, "SELECT 1");

  auto options = peek_request(request(ProtocolVersion::V4, Opcode::Options), {});
  ASSERT_TRUE(options.has_value());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*options));

  FrameHeader response = request(ProtocolVersion::V4, Opcode::Query);
  response.direction = Direction::Response;
  auto r = peek_query(response, body);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  EXPECT_FALSE(peek_request(response, body).has_value());

  auto wrong = peek_execute(request(ProtocolVersion::V4, Opcode::Query), body);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, Errc::InvalidArgument);
}

// Every strict prefix of a valid body must fail with Truncated (and never crash or read past it:
// each prefix is copied into its own exactly-sized buffer so ASan sees overreads).
void expect_every_prefix_fails(const FrameHeader& header, const Bytes& body) {
  ASSERT_TRUE(peek_request(header, body).has_value());
  for (size_t n = 0; n < body.size(); ++n) {
    const Bytes prefix(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = peek_request(header, prefix);
    ASSERT_FALSE(r.has_value()) << opcode_name(header.opcode) << " prefix " << n;
    EXPECT_EQ(r.error().code, Errc::Truncated) << r.error().to_string();
  }
}

TEST(PeekTruncation, EveryPrefixOfEveryMessageFailsCleanly) {
  for (ProtocolVersion v : kAllVersions) {
    SCOPED_TRACE(std::string(protocol_version_name(v)));
    const Params p = full_params(v);
    const uint8_t payload = v == ProtocolVersion::V3 ? 0 : frame_flags::kCustomPayload;
    expect_every_prefix_fails(request(v, Opcode::Query, payload),
                              query_body(v, "SELECT * FROM t", p, payload != 0));
    expect_every_prefix_fails(request(v, Opcode::Execute, payload),
                              execute_body(v, "id", "md", p, payload != 0));
    expect_every_prefix_fails(request(v, Opcode::Batch),
                              batch_body(v, 0, kChildren, batch_params(v)));
    Bytes prepare;
    ByteWriter w(prepare);
    w.write_long_string("SELECT 1");
    if (uses_prepare_flags(v)) {
      w.write_u32(kPrepareWithKeyspace);
      w.write_string("ks");
    }
    expect_every_prefix_fails(request(v, Opcode::Prepare), prepare);
    Bytes reg;
    ByteWriter rw(reg);
    rw.write_u16(1);
    rw.write_string("STATUS_CHANGE");
    expect_every_prefix_fails(request(v, Opcode::Register), reg);
  }
}

TEST(ReplacePreparedId, ChangesOnlyTheIdInEveryVersion) {
  for (ProtocolVersion v : kAllVersions) {
    SCOPED_TRACE(std::string(protocol_version_name(v)));
    const Params p = full_params(v);
    for (bool payload : {false, true}) {
      const uint8_t flags = payload ? frame_flags::kCustomPayload : 0;
      const FrameHeader h = request(v, Opcode::Execute, flags);
      const Bytes body = execute_body(v, "old", "md", p, payload);
      const std::string new_id(40, 'N');
      auto replaced = replace_prepared_id(h, body, view(new_id));
      ASSERT_TRUE(replaced.has_value()) << replaced.error().to_string();
      EXPECT_EQ(replaced->size(), body.size() - 3 + 40);
      EXPECT_EQ(*replaced, execute_body(v, new_id, "md", p, payload));
      auto before = peek_execute(h, body);
      auto after = peek_execute(h, *replaced);
      ASSERT_TRUE(after.has_value()) << after.error().to_string();
      EXPECT_EQ(str(after->prepared_id), new_id);
      EXPECT_EQ(after->result_metadata_id.has_value(), before->result_metadata_id.has_value());
      if (after->result_metadata_id) {
        EXPECT_EQ(str(*after->result_metadata_id), "md");
      }
      expect_same_params(after->params, before->params);
    }
  }
}

TEST(ReplacePreparedId, ReplacesResultMetadataIdWhenGivenOnV5) {
  const Params p = full_params(ProtocolVersion::V5);
  const FrameHeader h = request(ProtocolVersion::V5, Opcode::Execute);
  const Bytes body = execute_body(ProtocolVersion::V5, "old-id", "old-md", p);
  const std::string md = "new-metadata-id";
  auto replaced = replace_prepared_id(h, body, view("x"), view(md));
  ASSERT_TRUE(replaced.has_value()) << replaced.error().to_string();
  EXPECT_EQ(*replaced, execute_body(ProtocolVersion::V5, "x", md, p));

  auto v4 = replace_prepared_id(request(ProtocolVersion::V4, Opcode::Execute),
                                execute_body(ProtocolVersion::V4, "a", "", Params{}), view("b"),
                                view(md));
  ASSERT_FALSE(v4.has_value());
  EXPECT_EQ(v4.error().code, Errc::InvalidArgument);
}

TEST(ReplacePreparedId, RejectsOversizedIdAndMalformedBody) {
  const FrameHeader h = request(ProtocolVersion::V4, Opcode::Execute);
  const Bytes body = execute_body(ProtocolVersion::V4, "old", "", Params{});
  const std::string huge(65536, 'x');
  auto big = replace_prepared_id(h, body, view(huge));
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, Errc::TooLarge);
  const Bytes cut(body.begin(), body.end() - 1);
  auto truncated = replace_prepared_id(h, cut, view("n"));
  ASSERT_FALSE(truncated.has_value());
  EXPECT_EQ(truncated.error().code, Errc::Truncated);
}

TEST(ReplacePreparedIds, MapsBatchChildrenAndKeepsEverythingElse) {
  for (ProtocolVersion v : kAllVersions) {
    SCOPED_TRACE(std::string(protocol_version_name(v)));
    const Params p = batch_params(v);
    const FrameHeader h = request(v, Opcode::Batch);
    const Bytes body = batch_body(v, 2, kChildren, p);
    const std::string one = "target-id-for-one-which-is-long";
    auto replaced = replace_prepared_ids(h, body, [&](ByteView old) -> std::optional<ByteView> {
      if (str(old) == "id-one") return view(one);
      return std::nullopt;  // id-two-longer stays
    });
    ASSERT_TRUE(replaced.has_value()) << replaced.error().to_string();
    std::vector<Child> want = kChildren;
    want[1].text_or_id = one;
    EXPECT_EQ(*replaced, batch_body(v, 2, want, p));
    auto b = peek_batch(h, *replaced);
    ASSERT_TRUE(b.has_value()) << b.error().to_string();
    expect_children(*b, want);
    EXPECT_EQ(b->batch_type, 2);
    EXPECT_EQ(b->serial_consistency, p.serial);
    EXPECT_EQ(b->default_timestamp, p.timestamp);
    EXPECT_EQ(b->now_in_seconds, p.now_in_seconds);
  }
}

TEST(ReplacePreparedIds, MapsExecuteIdAndRejectsOtherOpcodes) {
  const FrameHeader h = request(ProtocolVersion::V5, Opcode::Execute);
  const Params p = full_params(ProtocolVersion::V5);
  const Bytes body = execute_body(ProtocolVersion::V5, "old", "md", p);
  const std::string target = "target";
  auto r = replace_prepared_ids(h, body,
                                [&](ByteView) { return std::optional<ByteView>(view(target)); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, execute_body(ProtocolVersion::V5, "target", "md", p));
  auto unchanged =
      replace_prepared_ids(h, body, [](ByteView) { return std::optional<ByteView>(); });
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_EQ(*unchanged, body);
  auto q = replace_prepared_ids(request(ProtocolVersion::V5, Opcode::Query),
                                query_body(ProtocolVersion::V5, "q", Params{}),
                                [](ByteView) { return std::optional<ByteView>(); });
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.error().code, Errc::InvalidArgument);
}

// --- responses

Bytes response_body(const Message& m, FrameHeader& header) {
  Bytes frame = encode_frame(m);
  auto h = decode_frame_header(frame);
  EXPECT_TRUE(h);
  header = *h;
  return Bytes(frame.begin() + kFrameHeaderSize, frame.end());
}

TEST(PeekResponse, ReadsTheErrorCodeBehindWarningsAndTracing) {
  ErrorMessage e;
  e.code = ErrorCode::WriteTimeout;
  e.message = "timeout";
  WriteTimeoutInfo info;
  info.consistency = Consistency::Quorum;
  e.detail = info;
  auto m = make_response(ProtocolVersion::V4, StreamId{3}, ResponseBody(e));
  m.envelope.warnings = std::vector<std::string>{"careful"};
  m.envelope.tracing = true;
  m.envelope.tracing_id[0] = 1;
  FrameHeader h;
  Bytes body = response_body(m, h);
  auto peek = peek_response(h, body);
  ASSERT_TRUE(peek) << peek.error().to_string();
  EXPECT_TRUE(peek->failed());
  EXPECT_EQ(*peek->error, ErrorCode::WriteTimeout);
}

TEST(PeekResponse, ReadsTheResultKind) {
  ResultMessage r;
  r.result = SetKeyspaceResult{"ks1"};
  auto m = make_response(ProtocolVersion::V4, StreamId{1}, ResponseBody(r));
  FrameHeader h;
  Bytes body = response_body(m, h);
  auto peek = peek_response(h, body);
  ASSERT_TRUE(peek);
  EXPECT_FALSE(peek->failed());
  EXPECT_EQ(peek->result_kind, ResultKind::SetKeyspace);
}

TEST(PeekResponse, TruncatedBodyIsAnErrorNotACrash) {
  FrameHeader h;
  h.direction = Direction::Response;
  h.opcode = Opcode::Error;
  const uint8_t two[] = {0, 0};
  EXPECT_FALSE(peek_response(h, ByteView(two, 2)));
  h.flags = frame_flags::kTracing;
  EXPECT_FALSE(peek_response(h, ByteView(two, 2)));
}

}  // namespace
}  // namespace zdm::protocol
