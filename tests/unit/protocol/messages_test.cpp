#include "protocol/messages.hpp"

#include <set>

#include <gtest/gtest.h>

#include "message_samples.hpp"

namespace zdm::protocol {
namespace {

using samples::b;
using samples::be32;
using samples::concat;
using samples::text;

FrameHeader header_for(ProtocolVersion v, Direction d, Opcode op, uint8_t flags = 0) {
  FrameHeader h;
  h.version = v;
  h.direction = d;
  h.opcode = op;
  h.flags = flags;
  h.stream = StreamId{1};
  return h;
}

// Decodes a whole frame produced by encode_frame.
Result<Message> decode_frame(const Bytes& frame) {
  auto header = decode_frame_header(frame);
  if (!header) return tl::unexpected(header.error());
  if (frame.size() - kFrameHeaderSize != header->body_length) {
    return fail(Errc::Malformed, "frame body length does not match the header");
  }
  return decode_message(*header, ByteView(frame).subspan(kFrameHeaderSize));
}

Bytes short_string(std::string_view s) {
  Bytes out = {static_cast<uint8_t>(s.size() >> 8), static_cast<uint8_t>(s.size())};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}
Bytes long_string(std::string_view s) {
  return concat({be32(static_cast<int32_t>(s.size())), text(s)});
}

class EveryVersion : public ::testing::TestWithParam<ProtocolVersion> {};

std::string version_test_name(const ::testing::TestParamInfo<ProtocolVersion>& info) {
  switch (info.param) {
    case ProtocolVersion::V3:
      return "V3";
    case ProtocolVersion::V4:
      return "V4";
    case ProtocolVersion::V5:
      return "V5";
    case ProtocolVersion::DseV1:
      return "DseV1";
    case ProtocolVersion::DseV2:
      return "DseV2";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(Messages, EveryVersion, ::testing::ValuesIn(samples::all_versions()),
                         version_test_name);

TEST_P(EveryVersion, RoundTripsEveryMessageKindThroughAWholeFrame) {
  const ProtocolVersion v = GetParam();
  for (const auto& sample : samples::all(v)) {
    SCOPED_TRACE(sample.name);
    ASSERT_TRUE(validate_for_version(sample.message))
        << validate_for_version(sample.message).error().to_string();
    Bytes frame = encode_frame(sample.message);
    auto decoded = decode_frame(frame);
    ASSERT_TRUE(decoded) << decoded.error().to_string();
    EXPECT_EQ(*decoded, sample.message) << describe(*decoded);
    EXPECT_EQ(encode_frame(*decoded), frame);
    EXPECT_FALSE(describe(*decoded).empty());
  }
}

TEST_P(EveryVersion, CoversEveryErrorCodeResultKindAndEventKind) {
  const ProtocolVersion v = GetParam();
  std::set<int32_t> codes;
  std::set<int32_t> result_kinds;
  std::set<size_t> events;
  std::set<SchemaChangeTarget> event_targets;
  for (const auto& sample : samples::responses(v)) {
    const auto& body = std::get<ResponseBody>(sample.message.body);
    if (const auto* e = std::get_if<ErrorMessage>(&body))
      codes.insert(static_cast<int32_t>(e->code));
    if (const auto* r = std::get_if<ResultMessage>(&body)) {
      result_kinds.insert(static_cast<int32_t>(r->kind()));
    }
    if (const auto* e = std::get_if<EventMessage>(&body)) {
      events.insert(e->event.index());
      if (const auto* s = std::get_if<SchemaChangeEvent>(&e->event)) {
        event_targets.insert(s->change.target);
      }
    }
  }
  EXPECT_EQ(codes.size(), uses_continuous_paging(v) ? 21u : 20u);
  EXPECT_EQ(result_kinds.size(), 5u);
  EXPECT_EQ(events.size(), 3u);
  EXPECT_EQ(event_targets.size(), v == ProtocolVersion::V3 ? 3u : 5u);
}

TEST_P(EveryVersion, EveryTruncationOfEveryBodyFailsCleanly) {
  const ProtocolVersion v = GetParam();
  for (const auto& sample : samples::all(v)) {
    SCOPED_TRACE(sample.name);
    Bytes frame = encode_frame(sample.message);
    auto header = decode_frame_header(frame);
    ASSERT_TRUE(header);
    ByteView body = ByteView(frame).subspan(kFrameHeaderSize);
    for (size_t len = 0; len < body.size(); ++len) {
      // A copy of exactly `len` bytes so that ASan sees any read past the end.
      Bytes prefix(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(len));
      auto decoded = decode_message(*header, prefix);
      ASSERT_FALSE(decoded) << "prefix of " << len << " bytes decoded as " << describe(*decoded);
      EXPECT_TRUE(decoded.error().code == Errc::Truncated ||
                  decoded.error().code == Errc::Malformed)
          << decoded.error().to_string();
    }
  }
}

TEST_P(EveryVersion, RejectsTrailingBytesAfterEveryMessage) {
  const ProtocolVersion v = GetParam();
  for (const auto& sample : samples::all(v)) {
    SCOPED_TRACE(sample.name);
    Bytes frame = encode_frame(sample.message);
    auto header = decode_frame_header(frame);
    ASSERT_TRUE(header);
    Bytes body(frame.begin() + kFrameHeaderSize, frame.end());
    body.push_back(0);
    auto decoded = decode_message(*header, body);
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, Errc::Malformed);
    EXPECT_NE(decoded.error().message.find("trailing"), std::string::npos);
  }
}

TEST(MessagesTest, QueryFlagsAreAByteInV4AndAnIntInV5AndDse) {
  QueryMessage q{"SELECT 1", {}};
  q.parameters.consistency = Consistency::One;
  q.parameters.page_size = 5000;
  Bytes expected_v4 = concat({long_string("SELECT 1"), b({0x00, 0x01, 0x04}), be32(5000)});
  EXPECT_EQ(encode_message(make_request(ProtocolVersion::V4, StreamId{1}, q)), expected_v4);
  Bytes expected_v5 =
      concat({long_string("SELECT 1"), b({0x00, 0x01, 0x00, 0x00, 0x00, 0x04}), be32(5000)});
  EXPECT_EQ(encode_message(make_request(ProtocolVersion::V5, StreamId{1}, q)), expected_v5);
  EXPECT_EQ(encode_message(make_request(ProtocolVersion::DseV1, StreamId{1}, q)), expected_v5);
}

TEST(MessagesTest, DecodesSpecLayoutOfQueryParametersInV5Order) {
  // <consistency><flags>[values][page_size][paging_state][serial][timestamp][keyspace][now]
  Bytes body = concat({long_string("SELECT"), b({0x00, 0x06}), be32(0x1FD),     // all but skip_meta
                       b({0x00, 0x01}), short_string("k"), be32(1), b({0x2A}),  // named value
                       be32(10), be32(2), b({0xAA, 0xBB}), b({0x00, 0x09}),
                       concat({be32(0), be32(99)}), short_string("ks"), be32(1234)});
  auto m = decode_message(header_for(ProtocolVersion::V5, Direction::Request, Opcode::Query), body);
  ASSERT_TRUE(m) << m.error().to_string();
  const auto& q = std::get<QueryMessage>(std::get<RequestBody>(m->body));
  EXPECT_EQ(q.query, "SELECT");
  EXPECT_EQ(q.parameters.consistency, Consistency::LocalQuorum);
  ASSERT_TRUE(q.parameters.values);
  EXPECT_EQ(q.parameters.values->at(0), BoundValue::set(b({0x2A})));
  EXPECT_TRUE(q.parameters.named_values);
  EXPECT_EQ(q.parameters.value_names, std::vector<std::string>{"k"});
  EXPECT_FALSE(q.parameters.skip_metadata);
  EXPECT_EQ(q.parameters.page_size, 10);
  EXPECT_EQ(q.parameters.paging_state, b({0xAA, 0xBB}));
  EXPECT_EQ(q.parameters.serial_consistency, Consistency::LocalSerial);
  EXPECT_EQ(q.parameters.default_timestamp, 99);
  EXPECT_EQ(q.parameters.keyspace, "ks");
  EXPECT_EQ(q.parameters.now_in_seconds, 1234);
}

TEST(MessagesTest, RejectsQueryFlagBitsTheVersionDoesNotDefine) {
  struct Case {
    ProtocolVersion v;
    Bytes flags;
  };
  const Case cases[] = {
      {ProtocolVersion::V3, b({0x80})},  // keyspace is v5
      {ProtocolVersion::V4, b({0x80})},
      {ProtocolVersion::V5, concat({be32(0x200)})},       // undefined
      {ProtocolVersion::V5, concat({be32(0x40000000)})},  // DSE-only bit
      {ProtocolVersion::DseV1, concat({be32(0x80)})},     // DSE_V1 has no keyspace
      {ProtocolVersion::DseV1, concat({be32(0x100)})},    // now_in_seconds is v5 only
      {ProtocolVersion::DseV2, concat({be32(0x100)})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(protocol_version_name(c.v));
    Bytes body = concat({long_string("SELECT"), b({0x00, 0x01}), c.flags, Bytes(64, 0)});
    auto m = decode_message(header_for(c.v, Direction::Request, Opcode::Query), body);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, Errc::Malformed);
    EXPECT_NE(m.error().message.find("QUERY request"), std::string::npos) << m.error().message;
  }
}

TEST(MessagesTest, RejectsUnsetValueInV3ButAcceptsItInV4) {
  Bytes body = concat({long_string("INSERT"), b({0x00, 0x01, 0x01, 0x00, 0x01}), be32(-2)});
  auto v3 =
      decode_message(header_for(ProtocolVersion::V3, Direction::Request, Opcode::Query), body);
  ASSERT_FALSE(v3);
  EXPECT_EQ(v3.error().code, Errc::Malformed);
  auto v4 =
      decode_message(header_for(ProtocolVersion::V4, Direction::Request, Opcode::Query), body);
  ASSERT_TRUE(v4) << v4.error().to_string();
  EXPECT_EQ(std::get<QueryMessage>(std::get<RequestBody>(v4->body)).parameters.values->at(0),
            BoundValue::unset());
}

TEST(MessagesTest, RejectsCountsLargerThanTheBytesLeftBeforeAllocating) {
  // 65535 values announced, none present.
  Bytes query = concat({long_string("X"), b({0x00, 0x01, 0x01, 0xFF, 0xFF})});
  auto q =
      decode_message(header_for(ProtocolVersion::V4, Direction::Request, Opcode::Query), query);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, Errc::Truncated);

  // Rows: one int column, 2^31-1 rows announced.
  Bytes rows = concat({be32(2), be32(1), be32(1), short_string("ks"), short_string("t"),
                       short_string("c"), b({0x00, 0x09}), be32(0x7FFFFFFF)});
  auto r =
      decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Result), rows);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::Truncated);

  // Column count of 2^31-1 with no specs present.
  Bytes columns = concat({be32(2), be32(0), be32(0x7FFFFFFF)});
  auto c =
      decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Result), columns);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::Truncated);

  // Negative counts are malformed.
  Bytes negative = concat({be32(2), be32(0), be32(-5)});
  auto n = decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Result),
                          negative);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::Malformed);

  // Rows of zero columns would be an unbounded allocation of empty rows.
  Bytes zero_columns = concat({be32(2), be32(4), be32(0), be32(1000000)});
  auto z = decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Result),
                          zero_columns);
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().code, Errc::Malformed);
}

TEST(MessagesTest, ReadFailureCarriesACountInV4AndAReasonMapInV5) {
  Bytes common = concat({be32(0x1300), short_string("m"), b({0x00, 0x04}), be32(1), be32(2)});
  Bytes v4 = concat({common, be32(3), b({0x01})});
  auto m4 = decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Error), v4);
  ASSERT_TRUE(m4) << m4.error().to_string();
  const auto& e4 = std::get<ErrorMessage>(std::get<ResponseBody>(m4->body));
  const auto& info4 = std::get<ReadFailureInfo>(e4.detail);
  EXPECT_EQ(info4.num_failures, 3);
  EXPECT_TRUE(info4.reasons.empty());
  EXPECT_TRUE(info4.data_present);

  Bytes v5 = concat({common, be32(1), b({0x04, 10, 0, 0, 1, 0x00, 0x06}), b({0x00})});
  auto m5 = decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Error), v5);
  ASSERT_TRUE(m5) << m5.error().to_string();
  const auto& info5 =
      std::get<ReadFailureInfo>(std::get<ErrorMessage>(std::get<ResponseBody>(m5->body)).detail);
  ASSERT_EQ(info5.reasons.size(), 1u);
  EXPECT_EQ(info5.reasons[0], (FailureReason{b({10, 0, 0, 1}), 6}));
  EXPECT_EQ(info5.num_failures, 1);
  EXPECT_FALSE(info5.data_present);
  // The v4 layout is not a valid v5 body.
  EXPECT_FALSE(
      decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Error), v4));
}

TEST(MessagesTest, WriteTimeoutHasContentionsOnlyForCasInV5) {
  Bytes cas = concat(
      {be32(0x1100), short_string("t"), b({0x00, 0x08}), be32(0), be32(1), short_string("CAS")});
  Bytes with_contentions = concat({cas, b({0x00, 0x07})});
  auto v5 = decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Error),
                           with_contentions);
  ASSERT_TRUE(v5) << v5.error().to_string();
  EXPECT_EQ(
      std::get<WriteTimeoutInfo>(std::get<ErrorMessage>(std::get<ResponseBody>(v5->body)).detail)
          .contentions,
      7);
  EXPECT_FALSE(
      decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Error), cas));
  EXPECT_TRUE(
      decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Error), cas));
  EXPECT_FALSE(decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Error),
                              with_contentions));
}

TEST(MessagesTest, RejectsUnknownEnumerationValues) {
  auto response = [](ProtocolVersion v, Opcode op, const Bytes& body) {
    return decode_message(header_for(v, Direction::Response, op), body);
  };
  // Unknown write type, consistency, error code, result kind, event type, schema target.
  EXPECT_FALSE(response(ProtocolVersion::V4, Opcode::Error,
                        concat({be32(0x1100), short_string("t"), b({0x00, 0x01}), be32(0), be32(1),
                                short_string("SOMETHING")})));
  EXPECT_FALSE(
      response(ProtocolVersion::V4, Opcode::Error,
               concat({be32(0x1000), short_string("t"), b({0x00, 0x0B}), be32(0), be32(1)})));
  auto unknown_code =
      response(ProtocolVersion::V4, Opcode::Error, concat({be32(0x1234), short_string("t")}));
  ASSERT_FALSE(unknown_code);
  EXPECT_EQ(unknown_code.error().code, Errc::Unsupported);
  EXPECT_FALSE(response(ProtocolVersion::V4, Opcode::Result, be32(6)));
  EXPECT_FALSE(response(ProtocolVersion::V4, Opcode::Event, short_string("NODE_GONE")));
  EXPECT_FALSE(response(
      ProtocolVersion::V3, Opcode::Event,
      concat({short_string("SCHEMA_CHANGE"), short_string("CREATED"), short_string("FUNCTION"),
              short_string("ks"), short_string("f"), b({0x00, 0x00})})));
  EXPECT_FALSE(response(ProtocolVersion::V4, Opcode::Event,
                        concat({short_string("TOPOLOGY_CHANGE"), short_string("MOVED_NODE"),
                                b({0x04, 127, 0, 0, 1}), be32(9042)})));
}

TEST(MessagesTest, RejectsEnvelopeFlagsTheVersionOrDirectionDoesNotAllow) {
  Bytes options;  // OPTIONS has an empty body
  auto warning_on_request = decode_message(
      header_for(ProtocolVersion::V4, Direction::Request, Opcode::Options, frame_flags::kWarning),
      concat({b({0x00, 0x00})}));
  ASSERT_FALSE(warning_on_request);
  EXPECT_EQ(warning_on_request.error().code, Errc::Malformed);
  auto payload_in_v3 = decode_message(header_for(ProtocolVersion::V3, Direction::Request,
                                                 Opcode::Options, frame_flags::kCustomPayload),
                                      b({0x00, 0x00}));
  EXPECT_FALSE(payload_in_v3);
  auto beta_in_v4 = decode_message(
      header_for(ProtocolVersion::V4, Direction::Request, Opcode::Options, frame_flags::kUseBeta),
      options);
  EXPECT_FALSE(beta_in_v4);
  auto unknown_bit = decode_message(
      header_for(ProtocolVersion::V5, Direction::Request, Opcode::Options, 0x20), options);
  EXPECT_FALSE(unknown_bit);
}

TEST(MessagesTest, RejectsOpcodeInTheWrongDirection) {
  auto m = decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Query),
                          concat({long_string("SELECT"), b({0x00, 0x01, 0x00})}));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::Malformed);
  EXPECT_FALSE(
      decode_message(header_for(ProtocolVersion::V4, Direction::Request, Opcode::Ready), {}));
}

TEST(MessagesTest, TracingFlagAddsAnIdToResponsesOnly) {
  Message request = make_request(ProtocolVersion::V4, StreamId{1}, OptionsMessage{});
  request.envelope.tracing = true;
  EXPECT_TRUE(encode_message(request).empty());
  EXPECT_EQ(envelope_flags(request), frame_flags::kTracing);

  Message response = make_response(ProtocolVersion::V4, StreamId{1}, ReadyMessage{});
  response.envelope.tracing = true;
  response.envelope.tracing_id[15] = 0x42;
  Bytes body = encode_message(response);
  ASSERT_EQ(body.size(), 16u);
  EXPECT_EQ(body[15], 0x42);
}

TEST(MessagesTest, EnvelopePartsComeInSpecOrderBeforeTheMessage) {
  Message m = make_response(ProtocolVersion::V4, StreamId{1}, ResultMessage{VoidResult{}});
  m.envelope.tracing = true;
  m.envelope.warnings = std::vector<std::string>{"w"};
  m.envelope.custom_payload = CustomPayload{{"k", b({0x01})}};
  Bytes expected = concat({Bytes(16, 0), b({0x00, 0x01}), short_string("w"), b({0x00, 0x01}),
                           short_string("k"), be32(1), b({0x01}), be32(1)});
  EXPECT_EQ(encode_message(m), expected);
  EXPECT_EQ(envelope_flags(m),
            frame_flags::kTracing | frame_flags::kWarning | frame_flags::kCustomPayload);
}

TEST(MessagesTest, ReviseRequestExistsOnlyInDseAndMorePagesOnlyInDseV2) {
  Bytes cancel = concat({be32(1), be32(5)});
  EXPECT_FALSE(decode_message(
      header_for(ProtocolVersion::V5, Direction::Request, Opcode::DseRevise), cancel));
  EXPECT_TRUE(decode_message(
      header_for(ProtocolVersion::DseV1, Direction::Request, Opcode::DseRevise), cancel));
  Bytes more = concat({be32(2), be32(5), be32(3)});
  EXPECT_FALSE(decode_message(
      header_for(ProtocolVersion::DseV1, Direction::Request, Opcode::DseRevise), more));
  auto m = decode_message(header_for(ProtocolVersion::DseV2, Direction::Request, Opcode::DseRevise),
                          more);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(std::get<ReviseRequestMessage>(std::get<RequestBody>(m->body)),
            (ReviseRequestMessage{RevisionType::MoreContinuousPages, 5, 3}));
}

TEST(MessagesTest, RowsMetadataRejectsMetadataChangedWithNoMetadata) {
  Bytes body = concat({be32(2), be32(0x0C), be32(0), b({0x00, 0x01, 0x07}), be32(0)});
  EXPECT_FALSE(
      decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Result), body));
  // Metadata_changed does not exist in v4 or DSE_V1.
  Bytes changed = concat({be32(2), be32(0x08), be32(0), b({0x00, 0x01, 0x07}), be32(0)});
  EXPECT_TRUE(decode_message(header_for(ProtocolVersion::V5, Direction::Response, Opcode::Result),
                             changed));
  EXPECT_FALSE(decode_message(header_for(ProtocolVersion::V4, Direction::Response, Opcode::Result),
                              changed));
  EXPECT_FALSE(decode_message(
      header_for(ProtocolVersion::DseV1, Direction::Response, Opcode::Result), changed));
}

TEST(MessagesTest, BatchRejectsNamesForValuesFlag) {
  Bytes body = concat({b({0x00, 0x00, 0x00}), b({0x00, 0x01, 0x40})});
  auto m = decode_message(header_for(ProtocolVersion::V4, Direction::Request, Opcode::Batch), body);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::Unsupported);
}

TEST(MessagesTest, ValidateReportsFieldsTheVersionCannotCarry) {
  QueryMessage q{"SELECT 1", {}};
  q.parameters.keyspace = "ks";
  EXPECT_TRUE(validate_for_version(make_request(ProtocolVersion::V5, StreamId{1}, q)));
  auto v4 = validate_for_version(make_request(ProtocolVersion::V4, StreamId{1}, q));
  ASSERT_FALSE(v4);
  EXPECT_NE(v4.error().message.find("keyspace"), std::string::npos);
  // The encoder drops the keyspace rather than writing a flag v4 does not have.
  auto decoded = decode_frame(encode_frame(make_request(ProtocolVersion::V4, StreamId{1}, q)));
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(std::get<QueryMessage>(std::get<RequestBody>(decoded->body)).parameters.keyspace);

  ErrorMessage mismatched{ErrorCode::Unavailable, "x", AlreadyExistsInfo{}};
  EXPECT_FALSE(validate_for_version(make_response(ProtocolVersion::V4, StreamId{1}, mismatched)));
}

TEST(MessagesTest, DescribesAQueryOnOneLine) {
  QueryMessage q{"SELECT * FROM ks.t WHERE k = ? AND c = ?", {}};
  q.parameters.consistency = Consistency::One;
  q.parameters.page_size = 5000;
  q.parameters.values = std::vector<BoundValue>{BoundValue::set(be32(1)), BoundValue::null()};
  EXPECT_EQ(describe(make_request(ProtocolVersion::V4, StreamId{1}, q)),
            "QUERY \"SELECT * FROM ks.t WHERE k = ? AND c = ?\" consistency=ONE page_size=5000 "
            "values=2");
  ErrorMessage e{ErrorCode::Unavailable, "Cannot achieve consistency",
                 UnavailableInfo{Consistency::Quorum, 2, 1}};
  EXPECT_EQ(describe(make_response(ProtocolVersion::V4, StreamId{1}, e)),
            "ERROR UNAVAILABLE (0x1000) \"Cannot achieve consistency\" consistency=QUORUM "
            "required=2 alive=1");
}

TEST(MessagesTest, EnumerationNamesMatchTheSpec) {
  EXPECT_EQ(consistency_name(Consistency::LocalOne), "LOCAL_ONE");
  EXPECT_EQ(consistency_from_name("EACH_QUORUM"), Consistency::EachQuorum);
  EXPECT_EQ(static_cast<uint16_t>(Consistency::LocalSerial), 0x0009);
  EXPECT_FALSE(consistency_from_code(0x000B));
  EXPECT_EQ(error_code_name(ErrorCode::CasWriteUnknown), "CAS_WRITE_UNKNOWN");
  EXPECT_EQ(error_code_from_int(0x2500), ErrorCode::Unprepared);
  EXPECT_EQ(error_code_from_int(0x1600), ErrorCode::CdcWriteFailure);
  EXPECT_FALSE(error_code_from_int(0x1800));
  EXPECT_EQ(write_type_name(WriteType::UnloggedBatch), "UNLOGGED_BATCH");
  EXPECT_EQ(write_type_from_name("CDC"), WriteType::Cdc);
  EXPECT_EQ(schema_change_target_from_name("AGGREGATE"), SchemaChangeTarget::Aggregate);
  EXPECT_EQ(schema_change_type_name(SchemaChangeType::Dropped), "DROPPED");
}

TEST(MessagesTest, SeededRandomBodiesNeverCrashAndRoundTripWhenTheyDecode) {
  // Mutates valid bodies (seeded), decodes them in their version, and requires any success to
  // survive encode -> decode unchanged.
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  size_t decoded_count = 0;
  for (ProtocolVersion v : samples::all_versions()) {
    for (const auto& sample : samples::all(v)) {
      Bytes frame = encode_frame(sample.message);
      auto header = decode_frame_header(frame);
      ASSERT_TRUE(header);
      Bytes body(frame.begin() + kFrameHeaderSize, frame.end());
      if (body.empty()) continue;
      for (int round = 0; round < 40; ++round) {
        Bytes mutated = body;
        for (int k = 0; k < 1 + static_cast<int>(next() % 3); ++k) {
          mutated[next() % mutated.size()] = static_cast<uint8_t>(next());
        }
        auto m = decode_message(*header, mutated);
        if (!m) continue;
        ++decoded_count;
        Bytes again = encode_message(*m);
        auto m2 = decode_message(*header, again);
        ASSERT_TRUE(m2) << sample.name << ": " << m2.error().to_string();
        EXPECT_EQ(*m2, *m) << sample.name;
      }
    }
  }
  EXPECT_GT(decoded_count, 0u);
}

}  // namespace
}  // namespace zdm::protocol
