#pragma once
// When a failed request is tried again. Pure decisions, no I/O, so they are unit-testable.
//
// - Never reached the server (no stream id, connection gone before the write): retry on the next
//   host, whatever the statement.
// - Server said it did not execute (UNAVAILABLE, IS_BOOTSTRAPPING): next host, any statement.
// - Outcome unknown (client timeout, connection lost after the write, READ/WRITE_TIMEOUT,
//   OVERLOADED): next host, idempotent statements only.
// - Anything else (syntax, invalid, unauthorized, ...): give up.
// Retries are bounded by max_retries.

#include <cstdint>

#include "client/client_error.hpp"

namespace zdm::client {

enum class RetryDecision { Rethrow, RetryNextHost, RetrySameHost };
enum class Idempotence : uint8_t { NotIdempotent, Idempotent };

struct RetryPolicy {
  int max_retries = 3;

  // `attempt` counts the attempts made so far (1 after the first failure).
  RetryDecision decide(const ClientError& error, Idempotence idempotence, int attempt) const;
};

}  // namespace zdm::client
