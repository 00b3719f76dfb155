#include "proxy/routing/answer_join.hpp"

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

AnswerFacts ok() { return AnswerFacts{}; }
AnswerFacts error(ErrorCode code) { return AnswerFacts{true, code}; }

JoinInput dual(JoinKind kind, ClusterType primary, AnswerFacts origin, AnswerFacts target) {
  JoinInput in;
  in.kind = kind;
  in.primary = primary;
  in.origin = origin;
  in.target = target;
  return in;
}

TEST(JoinAnswers, BothSucceedGivesThePrimarysAnswerAndRecordsNothing) {
  for (auto primary : {ClusterType::Origin, ClusterType::Target}) {
    auto r = join_answers(dual(JoinKind::Other, primary, ok(), ok()));
    EXPECT_EQ(r.pick, primary);
    EXPECT_EQ(r.failed_on, FailedOn::None);
    EXPECT_FALSE(r.record_prepared);
    EXPECT_FALSE(r.unprepared_with_origin_id);
    EXPECT_FALSE(r.keep_function_values);
  }
}

TEST(JoinAnswers, BothPreparedRecordsTheMappingAndAnswersOrigins) {
  auto r = join_answers(dual(JoinKind::Prepare, ClusterType::Target, ok(), ok()));
  EXPECT_EQ(r.pick, ClusterType::Origin);
  EXPECT_TRUE(r.record_prepared);
  EXPECT_FALSE(r.hide_function_markers);
  auto in = dual(JoinKind::Prepare, ClusterType::Origin, ok(), ok());
  in.functions_replaced = true;
  EXPECT_TRUE(join_answers(in).hide_function_markers);
}

TEST(JoinAnswers, AFailedPrepareRecordsNothing) {
  for (auto in : {dual(JoinKind::Prepare, ClusterType::Origin, ok(), error(ErrorCode::Invalid)),
                  dual(JoinKind::Prepare, ClusterType::Origin, error(ErrorCode::Invalid), ok())}) {
    in.functions_replaced = true;
    auto r = join_answers(in);
    EXPECT_FALSE(r.record_prepared);
    EXPECT_FALSE(r.hide_function_markers);
    EXPECT_NE(r.failed_on, FailedOn::None);
  }
}

TEST(JoinAnswers, TargetUnpreparedBecomesUnpreparedWithOriginsId) {
  // Target lost the statement while origin ran it: the client must re-prepare (the PREPARE goes
  // to both), and the values origin applied are kept for that retry.
  auto r =
      join_answers(dual(JoinKind::Other, ClusterType::Origin, ok(), error(ErrorCode::Unprepared)));
  EXPECT_EQ(r.pick, ClusterType::Target);
  EXPECT_EQ(r.failed_on, FailedOn::Target);
  EXPECT_TRUE(r.unprepared_with_origin_id);
  EXPECT_TRUE(r.keep_function_values);
  // Another target error is passed through as it is.
  auto other = join_answers(
      dual(JoinKind::Other, ClusterType::Origin, ok(), error(ErrorCode::WriteTimeout)));
  EXPECT_FALSE(other.unprepared_with_origin_id);
  EXPECT_FALSE(other.keep_function_values);
}

TEST(JoinAnswers, OriginUnpreparedKeepsTheValuesTargetApplied) {
  auto r =
      join_answers(dual(JoinKind::Other, ClusterType::Origin, error(ErrorCode::Unprepared), ok()));
  EXPECT_EQ(r.pick, ClusterType::Origin);
  EXPECT_FALSE(r.unprepared_with_origin_id);  // origin's UNPREPARED already names origin's id
  EXPECT_TRUE(r.keep_function_values);
  // Both unprepared: neither applied anything, nothing to keep.
  auto both = join_answers(dual(JoinKind::Other, ClusterType::Origin, error(ErrorCode::Unprepared),
                                error(ErrorCode::Unprepared)));
  EXPECT_EQ(both.failed_on, FailedOn::Both);
  EXPECT_FALSE(both.keep_function_values);
}

TEST(JoinAnswers, ASingleAnswerIsTheClientsWhateverItSays) {
  JoinInput read;
  read.primary = ClusterType::Target;
  read.target = ok();
  auto r = join_answers(read);
  EXPECT_EQ(r.pick, ClusterType::Target);
  EXPECT_EQ(r.failed_on, FailedOn::None);
  read.target = error(ErrorCode::ReadTimeout);
  EXPECT_EQ(join_answers(read).failed_on, FailedOn::Target);
  read.target = error(ErrorCode::Unprepared);
  EXPECT_TRUE(join_answers(read).unprepared_with_origin_id);
  JoinInput from_origin;
  from_origin.origin = error(ErrorCode::Overloaded);
  auto o = join_answers(from_origin);
  EXPECT_EQ(o.pick, ClusterType::Origin);
  EXPECT_EQ(o.failed_on, FailedOn::Origin);
}

protocol::ResponsePeek peek_of(const protocol::Message& m, Bytes& body) {
  Bytes frame = protocol::encode_frame(m);
  auto h = protocol::decode_frame_header(frame);
  EXPECT_TRUE(h);
  body.assign(frame.begin() + protocol::kFrameHeaderSize, frame.end());
  auto peek = protocol::peek_response(*h, body);
  EXPECT_TRUE(peek);
  return *peek;
}

TEST(KeyspaceSetBy, FollowsSetKeyspaceOnly) {
  protocol::ResultMessage set;
  set.result = protocol::SetKeyspaceResult{"ks1"};
  Bytes body;
  auto peek = peek_of(protocol::make_response(protocol::ProtocolVersion::V4, protocol::StreamId{1},
                                              protocol::ResponseBody(set)),
                      body);
  ASSERT_TRUE(keyspace_set_by(peek));
  EXPECT_EQ(*keyspace_set_by(peek), "ks1");
  protocol::ResultMessage done;
  done.result = protocol::VoidResult{};
  Bytes other;
  EXPECT_FALSE(keyspace_set_by(
      peek_of(protocol::make_response(protocol::ProtocolVersion::V4, protocol::StreamId{1},
                                      protocol::ResponseBody(done)),
              other)));
}

TEST(NodeErrorOf, MapsCodesToTheReferenceLabels) {
  EXPECT_EQ(node_error_of(ErrorCode::WriteTimeout), NodeError::WriteTimeout);
  EXPECT_EQ(node_error_of(ErrorCode::ReadTimeout), NodeError::ReadTimeout);
  EXPECT_EQ(node_error_of(ErrorCode::Unprepared), NodeError::Unprepared);
  EXPECT_EQ(node_error_of(ErrorCode::Overloaded), NodeError::Overloaded);
  EXPECT_EQ(node_error_of(ErrorCode::SyntaxError), NodeError::Other);
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
  EXPECT_EQ(std::get<protocol::ReadTimeoutInfo>(r.detail).consistency,
            protocol::Consistency::Quorum);
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
