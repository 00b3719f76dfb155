#include "client/retry_policy.hpp"

#include <gtest/gtest.h>

namespace zdm::client {
namespace {

ClientError server(protocol::ErrorCode code) {
  protocol::ErrorMessage m;
  m.code = code;
  m.message = "x";
  return server_error(m);
}

ClientError local(ClientErrc kind, bool written = true) {
  return client_fail(kind, "x", written).value();
}

constexpr auto kIdem = Idempotence::Idempotent;
constexpr auto kNot = Idempotence::NotIdempotent;

TEST(RetryPolicy, RetriesUnsentRequestsWhateverTheStatement) {
  RetryPolicy p;
  EXPECT_EQ(p.decide(local(ClientErrc::ConnectionClosed, false), kNot, 1),
            RetryDecision::RetryNextHost);
  EXPECT_EQ(p.decide(local(ClientErrc::Busy, false), kNot, 1), RetryDecision::RetryNextHost);
  EXPECT_EQ(p.decide(server(protocol::ErrorCode::Unavailable), kNot, 1),
            RetryDecision::RetryNextHost);
  EXPECT_EQ(p.decide(server(protocol::ErrorCode::IsBootstrapping), kNot, 1),
            RetryDecision::RetryNextHost);
}

TEST(RetryPolicy, RetriesUnknownOutcomesOnlyWhenIdempotent) {
  RetryPolicy p;
  for (auto e : {local(ClientErrc::Timeout), local(ClientErrc::ConnectionClosed, true),
                 server(protocol::ErrorCode::Overloaded), server(protocol::ErrorCode::WriteTimeout),
                 server(protocol::ErrorCode::ReadTimeout)}) {
    EXPECT_EQ(p.decide(e, kIdem, 1), RetryDecision::RetryNextHost) << e.to_string();
    EXPECT_EQ(p.decide(e, kNot, 1), RetryDecision::Rethrow) << e.to_string();
  }
}

TEST(RetryPolicy, NeverRetriesRequestErrors) {
  RetryPolicy p;
  for (auto code : {protocol::ErrorCode::SyntaxError, protocol::ErrorCode::Invalid,
                    protocol::ErrorCode::Unauthorized, protocol::ErrorCode::AlreadyExists,
                    protocol::ErrorCode::BadCredentials}) {
    EXPECT_EQ(p.decide(server(code), kIdem, 1), RetryDecision::Rethrow);
  }
  EXPECT_EQ(p.decide(local(ClientErrc::Protocol), kIdem, 1), RetryDecision::Rethrow);
}

TEST(RetryPolicy, IsBounded) {
  RetryPolicy p;
  p.max_retries = 2;
  auto e = local(ClientErrc::Timeout);
  EXPECT_EQ(p.decide(e, kIdem, 1), RetryDecision::RetryNextHost);
  EXPECT_EQ(p.decide(e, kIdem, 2), RetryDecision::RetryNextHost);
  EXPECT_EQ(p.decide(e, kIdem, 3), RetryDecision::Rethrow);
  p.max_retries = 0;
  EXPECT_EQ(p.decide(local(ClientErrc::Busy, false), kIdem, 1), RetryDecision::Rethrow);
}

TEST(ClientError, LabelsNameServerCodesAndClientKinds) {
  EXPECT_EQ(server(protocol::ErrorCode::WriteTimeout).label(), "WRITE_TIMEOUT");
  EXPECT_EQ(local(ClientErrc::Timeout).label(), "client_timeout");
}

}  // namespace
}  // namespace zdm::client
