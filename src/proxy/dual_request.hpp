#pragma once
// Joining the two answers of a request sent to both clusters, and the few facts about a response
// the proxy needs without decoding it (opcode, error code, result kind).
//
// Rules (the reference proxy's, notes section 1.7):
//   both succeed -> PREPARE: origin's answer (its id is what clients know); else the primary's;
//   one fails    -> that failure (failed_on = that cluster);
//   both fail    -> origin's failure (failed_on = both).

#include <cstdint>
#include <optional>

#include "admin/proxy_metrics.hpp"
#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"
#include "proxy/proxy_config.hpp"

namespace zdm::proxy {

enum class FailedOn : uint8_t { None, Origin, Target, Both };

enum class JoinKind : uint8_t { Prepare, Other };

struct JoinOutcome {
  ClusterType pick = ClusterType::Origin;  // whose answer goes to the client
  FailedOn failed_on = FailedOn::None;
};

JoinOutcome join_responses(bool origin_failed, bool target_failed, ClusterType primary,
                           JoinKind kind);

// A response, read without decoding the message: the envelope (tracing id, warnings, custom
// payload) is skipped. `body` is the uncompressed body.
struct ResponsePeek {
  protocol::Opcode opcode = protocol::Opcode::Result;
  std::optional<protocol::ErrorCode> error;  // ERROR responses
  int32_t result_kind = 0;                   // RESULT responses
  ByteView message;                          // the body after the envelope (view into `body`)

  bool failed() const { return error.has_value(); }
};
Result<ResponsePeek> peek_response(const protocol::FrameHeader& header, ByteView body);

// The error label of zdm_X_requests_failed_total for an error code.
admin::NodeError node_error_of(protocol::ErrorCode code);

// What the client gets when the proxy gives up waiting (PROXY_TIMEOUT_BEHAVIOUR=error): a
// ReadTimeout for reads, a WriteTimeout (SIMPLE or BATCH) otherwise, with the request's
// consistency and nothing received, so drivers apply their usual timeout retry policy.
enum class TimeoutKind : uint8_t { Read, Write, BatchWrite };
protocol::ErrorMessage make_timeout_error(TimeoutKind kind, uint16_t consistency,
                                          int64_t timeout_ms);

}  // namespace zdm::proxy
