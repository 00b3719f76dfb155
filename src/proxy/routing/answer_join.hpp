#pragma once
// Joining the answers of a request: which answer the client gets and what the session records
// (prepared ids, failures, values to reuse on a retry). Pure functions over the facts of each
// answer (protocol::peek_response reads them without decoding).
//
// Rules (the reference proxy's, notes section 1.7):
//   both succeed -> PREPARE: origin's answer (its id is what clients know); else the primary's;
//   one fails    -> that failure (failed_on = that cluster);
//   both fail    -> origin's failure (failed_on = both).
// Plus: target answering UNPREPARED for a statement the client knows by origin's id becomes
// UNPREPARED with origin's id (the driver re-prepares on both); both PREPARED answers map origin's
// id to target's; a PREPARE whose now()/uuid() the proxy replaced is answered without the proxy's
// markers; when one cluster applied a request with generated values and the other answered
// UNPREPARED, the values are kept for the driver's retry.

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "protocol/frame_header.hpp"
#include "protocol/messages.hpp"
#include "protocol/peek.hpp"
#include "proxy/proxy_config.hpp"
#include "proxy/proxy_metrics.hpp"

namespace zdm::proxy {

enum class FailedOn : uint8_t { None, Origin, Target, Both };

enum class JoinKind : uint8_t { Prepare, Other };

struct JoinOutcome {
  ClusterType pick = ClusterType::Origin;  // whose answer goes to the client
  FailedOn failed_on = FailedOn::None;
};

JoinOutcome join_responses(bool origin_failed, bool target_failed, ClusterType primary,
                           JoinKind kind);

using protocol::peek_response;
using protocol::ResponsePeek;

// One cluster's answer, as far as joining needs it.
struct AnswerFacts {
  bool failed = false;
  protocol::ErrorCode error = protocol::ErrorCode::ServerError;  // when failed

  static AnswerFacts of(const ResponsePeek& peek) {
    return AnswerFacts{peek.failed(), peek.error.value_or(protocol::ErrorCode::ServerError)};
  }
  bool unprepared() const { return failed && error == protocol::ErrorCode::Unprepared; }
};

struct JoinInput {
  JoinKind kind = JoinKind::Other;
  ClusterType primary = ClusterType::Origin;  // as when the request was sent
  std::optional<AnswerFacts> origin, target;  // the answers of the clusters asked
  ClusterType last = ClusterType::Origin;     // whose answer completed the request
  bool functions_replaced = false;            // PREPARE with now()/uuid() replaced
};

struct JoinResult {
  ClusterType pick = ClusterType::Origin;  // whose answer the client gets
  FailedOn failed_on = FailedOn::None;
  bool record_prepared = false;            // both PREPARED: map origin's id to target's
  bool hide_function_markers = false;      // answer origin's PREPARED minus the proxy's markers
  bool unprepared_with_origin_id = false;  // target lost the statement: UNPREPARED, origin's id
  bool keep_function_values = false;       // one applied, the other answered UNPREPARED
};
JoinResult join_answers(const JoinInput& input);

// The keyspace a SET_KEYSPACE result (USE) names; nullopt for any other answer.
// LIFETIME: views peek.message.
std::optional<std::string_view> keyspace_set_by(const ResponsePeek& peek);

// The error label of zdm_X_requests_failed_total for an error code.
NodeError node_error_of(protocol::ErrorCode code);

// What the client gets when the proxy gives up waiting (PROXY_TIMEOUT_BEHAVIOUR=error): a
// ReadTimeout for reads, a WriteTimeout (SIMPLE or BATCH) otherwise, with the request's
// consistency and nothing received, so drivers apply their usual timeout retry policy.
enum class TimeoutKind : uint8_t { Read, Write, BatchWrite };
protocol::ErrorMessage make_timeout_error(TimeoutKind kind, uint16_t consistency,
                                          int64_t timeout_ms);

}  // namespace zdm::proxy
