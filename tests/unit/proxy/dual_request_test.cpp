#include "proxy/dual_request.hpp"

#include <gtest/gtest.h>

#include "protocol/message_codec.hpp"

namespace zdm::proxy {
namespace {

using protocol::ErrorCode;

TEST(JoinResponses, BothSucceedReturnsThePrimarysAnswer) {
  auto o = join_responses(false, false, ClusterType::Origin, JoinKind::Other);
  EXPECT_EQ(o.pick, ClusterType::Origin);
  EXPECT_EQ(o.failed_on, FailedOn::None);
  auto t = join_responses(false, false, ClusterType::Target, JoinKind::Other);
  EXPECT_EQ(t.pick, ClusterType::Target);
  EXPECT_EQ(t.failed_on, FailedOn::None);
}

TEST(JoinResponses, PrepareAlwaysReturnsOriginsAnswerWhenBothSucceed) {
  auto r = join_responses(false, false, ClusterType::Target, JoinKind::Prepare);
  EXPECT_EQ(r.pick, ClusterType::Origin);
  EXPECT_EQ(r.failed_on, FailedOn::None);
}

TEST(JoinResponses, OneFailureWinsWhateverThePrimary) {
  for (auto primary : {ClusterType::Origin, ClusterType::Target}) {
    auto t = join_responses(false, true, primary, JoinKind::Other);
    EXPECT_EQ(t.pick, ClusterType::Target);
    EXPECT_EQ(t.failed_on, FailedOn::Target);
    auto o = join_responses(true, false, primary, JoinKind::Other);
    EXPECT_EQ(o.pick, ClusterType::Origin);
    EXPECT_EQ(o.failed_on, FailedOn::Origin);
    auto p = join_responses(false, true, primary, JoinKind::Prepare);
    EXPECT_EQ(p.pick, ClusterType::Target);
  }
}

TEST(JoinResponses, BothFailReturnsOriginsError) {
  auto r = join_responses(true, true, ClusterType::Target, JoinKind::Other);
  EXPECT_EQ(r.pick, ClusterType::Origin);
  EXPECT_EQ(r.failed_on, FailedOn::Both);
}

Bytes response_body(const protocol::Message& m, protocol::FrameHeader& header) {
  Bytes frame = protocol::encode_frame(m);
  auto h = protocol::decode_frame_header(frame);
  EXPECT_TRUE(h);
  header = *h;
  return Bytes(frame.begin() + protocol::kFrameHeaderSize, frame.end());
}

TEST(PeekResponse, ReadsTheErrorCodeBehindWarningsAndTracing) {
  protocol::ErrorMessage e;
  e.code = ErrorCode::WriteTimeout;
  e.message = "timeout";
  protocol::WriteTimeoutInfo info;
  info.consistency = protocol::Consistency::Quorum;
  e.detail = info;
  auto m = protocol::make_response(protocol::ProtocolVersion::V4, protocol::StreamId{3},
                                   protocol::ResponseBody(e));
  m.envelope.warnings = std::vector<std::string>{"careful"};
  m.envelope.tracing = true;
  m.envelope.tracing_id[0] = 1;
  protocol::FrameHeader h;
  Bytes body = response_body(m, h);
  auto peek = peek_response(h, body);
  ASSERT_TRUE(peek) << peek.error().to_string();
  EXPECT_TRUE(peek->failed());
  EXPECT_EQ(*peek->error, ErrorCode::WriteTimeout);
}

TEST(PeekResponse, ReadsTheResultKind) {
  protocol::ResultMessage r;
  r.result = protocol::SetKeyspaceResult{"ks1"};
  auto m = protocol::make_response(protocol::ProtocolVersion::V4, protocol::StreamId{1},
                                   protocol::ResponseBody(r));
  protocol::FrameHeader h;
  Bytes body = response_body(m, h);
  auto peek = peek_response(h, body);
  ASSERT_TRUE(peek);
  EXPECT_FALSE(peek->failed());
  EXPECT_EQ(peek->result_kind, 3);
}

TEST(PeekResponse, TruncatedBodyIsAnErrorNotACrash) {
  protocol::FrameHeader h;
  h.direction = protocol::Direction::Response;
  h.opcode = protocol::Opcode::Error;
  const uint8_t two[] = {0, 0};
  EXPECT_FALSE(peek_response(h, ByteView(two, 2)));
  h.flags = protocol::frame_flags::kTracing;
  EXPECT_FALSE(peek_response(h, ByteView(two, 2)));
}

TEST(NodeErrorOf, MapsCodesToTheReferenceLabels) {
  EXPECT_EQ(node_error_of(ErrorCode::WriteTimeout), admin::NodeError::WriteTimeout);
  EXPECT_EQ(node_error_of(ErrorCode::ReadTimeout), admin::NodeError::ReadTimeout);
  EXPECT_EQ(node_error_of(ErrorCode::Unprepared), admin::NodeError::Unprepared);
  EXPECT_EQ(node_error_of(ErrorCode::Overloaded), admin::NodeError::Overloaded);
  EXPECT_EQ(node_error_of(ErrorCode::SyntaxError), admin::NodeError::Other);
}

TEST(TimeoutError, CarriesTheRequestConsistencyAndRoundTrips) {
  auto e = make_timeout_error(TimeoutKind::Write, 0x0006, 10000);
  EXPECT_EQ(e.code, ErrorCode::WriteTimeout);
  const auto& w = std::get<protocol::WriteTimeoutInfo>(e.detail);
  EXPECT_EQ(w.consistency, protocol::Consistency::LocalQuorum);
  EXPECT_EQ(w.write_type, protocol::WriteType::Simple);
  auto b = make_timeout_error(TimeoutKind::BatchWrite, 1, 5);
  EXPECT_EQ(std::get<protocol::WriteTimeoutInfo>(b.detail).write_type, protocol::WriteType::Batch);
  auto r = make_timeout_error(TimeoutKind::Read, 4, 5);
  EXPECT_EQ(r.code, ErrorCode::ReadTimeout);
  EXPECT_EQ(std::get<protocol::ReadTimeoutInfo>(r.detail).consistency, protocol::Consistency::Quorum);
  // Encodable in every version the proxy serves.
  for (auto v : {protocol::ProtocolVersion::V3, protocol::ProtocolVersion::V4,
                 protocol::ProtocolVersion::V5}) {
    auto m = protocol::make_response(v, protocol::StreamId{1}, protocol::ResponseBody(e));
    Bytes f = protocol::encode_frame(m);
    auto h = protocol::decode_frame_header(f);
    ASSERT_TRUE(h);
    auto back = protocol::decode_message(*h, ByteView(f).subspan(protocol::kFrameHeaderSize));
    ASSERT_TRUE(back) << back.error().to_string();
  }
}

}  // namespace
}  // namespace zdm::proxy
