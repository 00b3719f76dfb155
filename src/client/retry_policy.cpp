#include "client/retry_policy.hpp"

namespace zdm::client {

RetryDecision RetryPolicy::decide(const ClientError& error, Idempotence idempotence,
                                  int attempt) const {
  if (attempt > max_retries) return RetryDecision::Rethrow;
  const bool idempotent = idempotence == Idempotence::Idempotent;
  switch (error.kind) {
    case ClientErrc::Busy:
    case ClientErrc::NoHost:
      return RetryDecision::RetryNextHost;
    case ClientErrc::ConnectionClosed:
      if (!error.written || idempotent) return RetryDecision::RetryNextHost;
      return RetryDecision::Rethrow;
    case ClientErrc::Timeout:
      return idempotent ? RetryDecision::RetryNextHost : RetryDecision::Rethrow;
    case ClientErrc::Server:
      break;
    default:
      return RetryDecision::Rethrow;
  }
  if (!error.server_code) return RetryDecision::Rethrow;
  switch (*error.server_code) {
    case protocol::ErrorCode::Unavailable:
    case protocol::ErrorCode::IsBootstrapping:
      return RetryDecision::RetryNextHost;
    case protocol::ErrorCode::Overloaded:
    case protocol::ErrorCode::ReadTimeout:
    case protocol::ErrorCode::WriteTimeout:
    case protocol::ErrorCode::ServerError:
      return idempotent ? RetryDecision::RetryNextHost : RetryDecision::Rethrow;
    default:
      return RetryDecision::Rethrow;
  }
}

}  // namespace zdm::client
